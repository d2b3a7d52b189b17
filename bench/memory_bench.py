#!/usr/bin/env python3
"""Benchmark (issue 15, "memory"): peak RSS against the size of the work,
skiff and Debian's skopeo side by side on the same data, one process each
(time and peak RSS from wait4), at a small and a large size so that
flatness shows:

  layers   an image of 1,000 and of 10,000 small layers: copy oci: -> dir:,
           copy oci: -> a registry, inspect from the registry
  tags     a repository of 10,000 and of 100,000 tags, listed 1,000 per page
           with Link headers (a stand-in registry in this script: Debian's
           Distribution 2.8 ignores `n` and cannot paginate)
  images   a sync of 100 and of 1,000 images (one shared layer, a config and
           a manifest each, in a real registry) into dir:

usage: bench/memory_bench.py [--only layers|tags|images]
  (build first: cargo build --release -p skiff --target x86_64-unknown-linux-musl)
"""
import gzip, hashlib, http.client, http.server, io, json, os, shutil, sys, tarfile, tempfile, threading

from benchlib import SKIFF, Registry, run

ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def tool(name):
    return [SKIFF] if name == "skiff" else ["skopeo"]


def both(label, args, after=None, tools=("skiff", "skopeo")):
    """Runs `args` with each tool (skiff first, then skopeo), `after(tool)`
    between runs (to clear a destination); prints time and peak RSS."""
    out = {}
    for t in tools:
        out[t] = run(tool(t) + args(t))
        if after:
            after(t)
    ks, km = out["skiff"]
    if "skopeo" not in out:
        print(f"  {label:34s} skiff {ks:7.2f} s {km:6.1f} MiB   skopeo not run (see SKOPEO_MAX_LAYERS)", flush=True)
        return out
    ss, sm = out["skopeo"]
    print(f"  {label:34s} skiff {ks:7.2f} s {km:6.1f} MiB   skopeo {ss:7.2f} s {sm:6.1f} MiB"
          f"   time ratio {ks / ss:.3f}  RSS ratio {km / sm:.3f}", flush=True)
    return out


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def many_layer_layout(path, count):
    """An OCI layout of one image with `count` distinct tiny gzip layers."""
    os.makedirs(f"{path}/blobs/sha256", exist_ok=True)

    def put(data):
        d = sha(data)
        with open(f"{path}/blobs/sha256/{d[7:]}", "wb") as f:
            f.write(data)
        return d

    descs, diffs = [], []
    for i in range(count):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            data = f"layer {i}\n".encode()
            info = tarfile.TarInfo(f"f{i}"); info.size = len(data); info.mtime = 0
            t.addfile(info, io.BytesIO(data))
        raw = buf.getvalue()
        diffs.append(sha(raw))
        z = gzip.compress(raw, mtime=0)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(z), "size": len(z)})
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
                    "layers": descs}).encode()
    with open(f"{path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": put(m), "size": len(m),
                   "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)
    with open(f"{path}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


# skopeo takes about 33 s per 1,000 layers into dir: and 80 s into a
# registry here (its per-layer cost grows with the layer count), so its
# copies stop at this many layers; skiff's go on to 10,000.
SKOPEO_MAX_LAYERS = 2000


def layers(tmp, reg):
    print("layers (one image, tiny distinct layers)")
    for count in (1000, 2000, 10000):
        src = f"{tmp}/layers-{count}"
        many_layer_layout(src, count)
        dest = f"{tmp}/out"
        tools = ("skiff", "skopeo") if count <= SKOPEO_MAX_LAYERS else ("skiff",)
        both(f"{count} layers: copy oci: -> dir:", lambda t: ["--insecure-policy", "copy", "-q", f"oci:{src}:v1", f"dir:{dest}"],
             lambda t: shutil.rmtree(dest, ignore_errors=True), tools)
        image = lambda t: f"docker://127.0.0.1:{reg.port}/layers/{t}-{count}:v1"
        both(f"{count} layers: copy oci: -> registry", lambda t: ["--insecure-policy", "copy", "-q", "--dest-tls-verify=false",
             f"oci:{src}:v1", image(t)], tools=tools)
        # Both read the image skiff pushed.
        both(f"{count} layers: inspect from registry", lambda t: ["inspect", "--tls-verify=false", image("skiff")])


class Tags(http.server.BaseHTTPRequestHandler):
    """A registry's ping and tag list only, `n` tags per page, as Distribution
    3 and Harbor page them."""
    tags = []

    def do_GET(self):
        from urllib.parse import parse_qs, urlparse
        u = urlparse(self.path)
        if u.path == "/v2/":
            return self.answer(200, b"{}")
        q = parse_qs(u.query)
        n = int(q.get("n", ["1000"])[0])
        last = q.get("last", [None])[0]
        start = 0 if last is None else self.tags.index(last) + 1
        page = self.tags[start:start + n]
        headers = {}
        if start + n < len(self.tags):
            headers["Link"] = f'</v2/bench/tags/tags/list?n={n}&last={page[-1]}>; rel="next"'
        self.answer(200, json.dumps({"name": "bench/tags", "tags": page}).encode(), headers)

    def answer(self, status, body, headers={}):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def tags():
    print("tags (pages of 1,000 with Link)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tags)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for count in (10000, 100000):
            Tags.tags = [f"t{i:06d}" for i in range(count)]
            both(f"{count} tags: list-tags", lambda t: ["list-tags", "--tls-verify=false",
                 f"docker://127.0.0.1:{server.server_port}/bench/tags"])
    finally:
        server.shutdown()


def put_images(reg, repo, count):
    """`count` images in `repo` sharing one layer, each its own config."""
    c = http.client.HTTPConnection("127.0.0.1", reg.port)

    def upload(data):
        c.request("POST", f"/v2/{repo}/blobs/uploads/"); r = c.getresponse(); r.read()
        loc = r.getheader("Location")
        sep = "&" if "?" in loc else "?"
        c.request("PUT", f"{loc}{sep}digest={sha(data)}", body=data, headers={"Content-Type": "application/octet-stream"})
        r = c.getresponse(); r.read()
        assert r.status == 201, r.status
        return sha(data)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        info = tarfile.TarInfo("shared"); info.size = 4096; info.mtime = 0
        t.addfile(info, io.BytesIO(b"s" * 4096))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    layer_digest = upload(layer)
    for i in range(count):
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"i": str(i)}},
                          "rootfs": {"type": "layers", "diff_ids": [sha(raw.getvalue())]}}).encode()
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": upload(cfg), "size": len(cfg)},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                                    "size": len(layer)}]}).encode()
        c.request("PUT", f"/v2/{repo}/manifests/t{i}", body=m, headers={"Content-Type": OCI_MANIFEST})
        r = c.getresponse(); r.read()
        assert r.status == 201, r.status


def images(tmp, reg):
    print("images (sync registry -> dir:)")
    for count in (100, 1000):
        repo = f"images/n{count}"
        put_images(reg, repo, count)
        dest = f"{tmp}/sync"
        both(f"{count} images: sync", lambda t: ["--insecure-policy", "sync", "--src", "docker", "--dest", "dir",
             "--src-tls-verify=false", f"127.0.0.1:{reg.port}/{repo}", dest],
             lambda t: shutil.rmtree(dest, ignore_errors=True))


def main():
    tmp = tempfile.mkdtemp(prefix="skiff-bench-memory-")
    reg = Registry()
    try:
        print("memory benchmark: one run per tool, time and peak RSS")
        if ONLY in (None, "layers"):
            layers(tmp, reg)
        if ONLY in (None, "tags"):
            tags()
        if ONLY in (None, "images"):
            images(tmp, reg)
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


main()
