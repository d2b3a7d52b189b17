#!/usr/bin/env python3
"""Benchmark: `copy` with skiff and Debian's skopeo side by side, alternating,
medians of ROUNDS runs, ratios, and peak RSS of each process.

Images (generated once into $SKIFF_BENCH_DIR, default /tmp/skiff-bench-images):
  big   one ~250 MB gzip layer (incompressible data)
  ten   ten layers of ~20 MB incompressible data
Workloads:
  push  oci: layout -> a freshly started, empty registry (nothing skipped or mounted)
  pull  registry -> a new dir:
  r2r   registry -> a freshly started, empty registry

usage: bench/copy_bench.py [ROUNDS] [--rss] [--only IMAGE:WORKLOAD]   (build first: cargo build --release -p skiff)
  --rss: instead, pull and push a 100 MiB and a 1 GiB layer to show that
         peak memory does not grow with the layer
"""
import gzip, hashlib, io, json, os, shutil, socket, statistics, subprocess, sys, tarfile, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIFF = os.environ.get("SKIFF_BIN", os.path.join(ROOT, "target/release/skiff"))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
IMAGES = os.environ.get("SKIFF_BENCH_DIR", "/tmp/skiff-bench-images")


def layout(path, layers):
    """An OCI layout whose layers hold `layers` (sizes in bytes) of random data."""
    if os.path.exists(os.path.join(path, "index.json")):
        return path
    os.makedirs(f"{path}/blobs/sha256", exist_ok=True)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        with open(f"{path}/blobs/sha256/{h}", "wb") as f:
            f.write(data)
        return "sha256:" + h, len(data)

    descs, diffs = [], []
    for i, size in enumerate(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo(f"data{i}.bin"); info.size = size; info.mtime = 0
            t.addfile(info, io.BytesIO(os.urandom(size)))
        raw = buf.getvalue()
        diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
        d, s = put(gzip.compress(raw, compresslevel=1, mtime=0))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s})
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    cd, cs = put(cfg)
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                    "layers": descs}).encode()
    md, ms = put(m)
    with open(f"{path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    with open(f"{path}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return path


class Registry:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="skiff-bench-reg-")
        s = socket.socket(); s.bind(("127.0.0.1", 0)); self.port = s.getsockname()[1]; s.close()
        with open(f"{self.dir}/config.yml", "w") as f:
            f.write(f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {self.dir}/data}}}}\nhttp: {{addr: 127.0.0.1:{self.port}}}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", f"{self.dir}/config.yml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close(); return
            except OSError:
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate(); self.proc.wait(); shutil.rmtree(self.dir, ignore_errors=True)


def run(cmd):
    """Wall time and peak RSS (MiB) of one process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss / 1024


def tool(name, src, dst):
    base = [SKIFF] if name == "skiff" else ["skopeo"]
    return base + ["--insecure-policy", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", src, dst]


SPECS = {"big": [250 << 20], "ten": [20 << 20] * 10, "m100": [100 << 20], "g1": [1 << 30]}
RSS_ONLY = "--rss" in sys.argv
CHOSEN = ["m100", "g1"] if RSS_ONLY else ["big", "ten"]
WORKLOADS = ["push", "pull"] if RSS_ONLY else ["push", "pull", "r2r"]
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None


def main():
    # Images are made in a child process: a parent holding hundreds of MB
    # would inflate every child's peak RSS (it counts pages shared at fork).
    for name in CHOSEN:
        subprocess.run([sys.executable, __file__, "--generate", name], check=True)
    images = {name: f"{IMAGES}/{name}" for name in CHOSEN}
    source = Registry()
    try:
        for name, path in images.items():
            subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", f"oci:{path}:bench", f"docker://127.0.0.1:{source.port}/bench/{name}:1"], check=True)
        # The first run after a build compiles skiff's component into its
        # cache (more time, more memory); keep that out of the figures.
        subprocess.run([SKIFF, "manifest-digest", f"{images[CHOSEN[0]]}/index.json"], check=True, stdout=subprocess.DEVNULL)
        print(f"copy benchmark, {ROUNDS} alternating rounds, medians (peak RSS)")
        for name, path in images.items():
            for workload in WORKLOADS:
                if ONLY and ONLY != f"{name}:{workload}":
                    continue
                res = {"skiff": [], "skopeo": []}
                for i in range(ROUNDS):
                    for t in (["skiff", "skopeo"] if i % 2 == 0 else ["skopeo", "skiff"]):
                        if workload == "pull":
                            out = tempfile.mkdtemp(prefix="skiff-bench-dir-")
                            shutil.rmtree(out)
                            res[t].append(run(tool(t, f"docker://127.0.0.1:{source.port}/bench/{name}:1", f"dir:{out}")))
                            shutil.rmtree(out, ignore_errors=True)
                        else:
                            dest = Registry()
                            src = f"oci:{path}:bench" if workload == "push" else f"docker://127.0.0.1:{source.port}/bench/{name}:1"
                            res[t].append(run(tool(t, src, f"docker://127.0.0.1:{dest.port}/bench/{name}:1")))
                            dest.stop()
                med = {t: statistics.median(x[0] for x in v) for t, v in res.items()}
                rss = {t: max(x[1] for x in v) for t, v in res.items()}
                print(f"  {name:4s} {workload:4s}  skiff {med['skiff']:6.2f} s ({rss['skiff']:5.0f} MiB)"
                      f"  skopeo {med['skopeo']:6.2f} s ({rss['skopeo']:5.0f} MiB)  ratio {med['skiff'] / med['skopeo']:.3f}", flush=True)
    finally:
        source.stop()


if len(sys.argv) > 2 and sys.argv[1] == "--generate":
    layout(f"{IMAGES}/{sys.argv[2]}", SPECS[sys.argv[2]])
else:
    main()
