#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (core/fuzz/corpus/TARGET/NAME):
real documents (the sigstore fixtures cosign made, manifests, configs and
archives skopeo wrote, configuration files as the man pages show them),
each prefixed with the byte that selects its parser or command. Run once;
the files are kept in the repository.
    python3 core/fuzz/seeds.py [OCI_LAYOUT_FOR_ARCHIVES]
"""
import hashlib, json, os, pathlib, subprocess, sys, tempfile

root = pathlib.Path(__file__).resolve().parent
corpus = root / "corpus"
fixtures = root.parent.parent / "tests" / "fixtures" / "sigstore"
SEP = b"\n--\n"

def put(target, name, selector, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(bytes([selector]) + data)

def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

# One small real image, as the OCI and Docker formats write it.
layer = bytes.fromhex("1f8b08000000000000ffedce410a80201005d0ac3d459d60a6b3f40e756cb7b6e8fedda30f3c3e3f4f6ac8e33de7521c3c64a1e2f49d53a7d4cc9d6395b64cc6f1a7ad5ff9e31cfd030000000000000000009fcf0bb43c69cc00280000")
config = json.dumps({"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"], "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}},
    "rootfs": {"type": "layers", "diff_ids": [sha(b"x" * 10)]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file"}]}).encode()
oci = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer), "size": len(layer)}],
    "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}).encode()
docker = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha(layer), "size": len(layer),
        "urls": ["https://x.example/l"]}]}).encode()
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(oci), "size": len(oci),
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(oci), "size": len(oci),
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}]}).encode()
schema1 = (b'{"schemaVersion":1,"name":"a/b","tag":"v1","architecture":"amd64","fsLayers":[{"blobSum":"'
    + sha(layer).encode() + b'"}],"history":[{"v1Compatibility":"{\\"id\\":\\"1\\",\\"created\\":\\"2020-01-01T00:00:00Z\\"}"}]}')

# parsers: 0 manifests, 1 configs, 2 references, 3 digests, 4 times,
# 5 challenges, 6 tokens, 7 templates, 8 signing payloads, 9 tar-splits.
for n, m in [("oci", oci), ("docker", docker), ("index", index), ("schema1", schema1)]:
    put("parsers", f"manifest-{n}", 0, m)
for d in fixtures.glob("dir-img-*/manifest.json"):
    put("parsers", f"manifest-{d.parent.name}", 0, d.read_bytes())
put("parsers", "config", 1, config)
for i, r in enumerate([b"docker://quay.io/a/b:c@" + sha(b"").encode(), b"oci:/tmp/x:v1", b"oci-archive:/x.tar:lib/app:v1",
                       b"docker-archive:/x.tar:@2", b"containers-storage:[overlay@/var/lib/c+/run/c:a=b]localhost/app:v1",
                       b"dir:/tmp/x", b"docker-daemon:busybox:latest", b"tarball:/a.tar:/b.tar.gz"]):
    put("parsers", f"reference-{i}", 2, r)
put("parsers", "digest", 3, sha(b"").encode())
put("parsers", "time", 4, b"2024-01-01T00:00:00.123456789+02:00")
put("parsers", "challenge", 5, b'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"\nBasic realm="x"')
put("parsers", "token", 6, b'{"token":"abc","access_token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z","refresh_token":"r"}')
put("parsers", "template", 7, b'{{.Name}} {{range .RepoTags}}{{.}},{{else}}none{{end}} {{json .Labels}}{{if .Created}}x{{end}}{{index .Labels "a"}}{{len .RepoTags}}')
put("parsers", "payload", 8, json.dumps({"critical": {"identity": {"docker-reference": "quay.io/a/b:c"},
    "image": {"docker-manifest-digest": sha(oci)}, "type": "atomic container signature"},
    "optional": {"creator": "x", "timestamp": 1700000000}}).encode())
put("parsers", "tar-split", 9, b'{"type":2,"payload":"dXN0YXIAMDA=","position":0}\n{"type":1,"name":"etc/hostname","size":5,"payload":"AAAAAAAAAAA=","position":1}\n')

# registry: answers in the order the core asks (ping, token, manifest, config…).
def ans(status, headers, body=b""):
    return (str(status) + "\n" + "".join(f"{k}: {v}\n" for k, v in headers.items()) + "\n").encode() + body
bearer = ans(401, {"WWW-Authenticate": 'Bearer realm="https://reg.test/token",service="reg.test"'})
token = ans(200, {"Content-Type": "application/json"}, b'{"token":"t0k3n","expires_in":300}')
def manifest_answer(body, kind):
    return ans(200, {"Content-Type": kind, "Docker-Content-Digest": sha(body), "Content-Length": str(len(body))}, body)
OCI_T, DOCKER_T, INDEX_T = ("application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.index.v1+json")
ping = ans(200, {"Docker-Distribution-API-Version": "registry/2.0"})
for sel in range(5):
    put("registry", f"job{sel}-oci", sel, SEP.join([ping, manifest_answer(oci, OCI_T), ans(200, {}, config), ans(200, {}, layer)]))
    put("registry", f"job{sel}-bearer", sel, SEP.join([bearer, token, manifest_answer(docker, DOCKER_T), ans(200, {}, config), ans(200, {}, layer)]))
    put("registry", f"job{sel}-index", sel, SEP.join([ping, manifest_answer(index, INDEX_T), manifest_answer(oci, OCI_T), ans(200, {}, config)]))
put("registry", "tags-pages", 3, SEP.join([ping, ans(200, {"Link": '</v2/app/tags/list?n=2&last=b>; rel="next"'}, b'{"name":"app","tags":["a","b"]}'),
    ans(200, {}, b'{"name":"app","tags":["c"]}')]))
put("registry", "errors", 0, SEP.join([ans(429, {"Retry-After": "1"}), ans(503, {}), ans(404, {"Content-Type": "application/json"},
    b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}')]))
put("registry", "redirect", 4, SEP.join([ping, manifest_answer(oci, OCI_T), ans(307, {"Location": "https://cdn.test/blob"}), ans(200, {}, config), ans(200, {}, layer)]))
put("registry", "push", 5, SEP.join([ping, ans(404, {}), ans(202, {"Location": "/v2/app/blobs/uploads/u1", "Docker-Upload-UUID": "u1"}),
    ans(201, {"Docker-Content-Digest": sha(b"layer")}), ans(404, {}), ans(202, {"Location": "/v2/app/blobs/uploads/u2"}), ans(201, {}),
    ans(201, {"Docker-Content-Digest": sha(oci)})]))

# local_images: 0 oci layout, 1 dir, 2 docker-archive, 3 oci-archive.
layout_index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": OCI_T, "digest": sha(oci), "size": len(oci),
    "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}).encode()
put("local_images", "layout", 0, SEP.join([layout_index, oci, config, layer]))
put("local_images", "layout-index", 0, SEP.join([json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": INDEX_T,
    "digest": sha(index), "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}).encode(), index, oci, config, layer]))
put("local_images", "dir", 1, SEP.join([docker, config, layer]))
for d in fixtures.glob("dir-img-*"):
    put("local_images", f"dir-{d.name}", 1, (d / "manifest.json").read_bytes())
if len(sys.argv) > 1:
    with tempfile.TemporaryDirectory() as t:
        for sel, transport in [(2, "docker-archive"), (3, "oci-archive")]:
            out = f"{t}/{transport}.tar"
            dest = f"{transport}:{out}" + (":app:v1" if transport == "docker-archive" else ":v1")
            subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", f"oci:{sys.argv[1]}:v1", dest], check=True)
            put("local_images", transport, sel, pathlib.Path(out).read_bytes())

# config_files: 0 policy.json, 1 a sigstore public key, 2 auth.json,
# 3 registries.conf, 4 registries.d, 5 sync YAML.
put("config_files", "policy", 0, json.dumps({"default": [{"type": "reject"}], "transports": {
    "docker": {"reg.test": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg",
        "signedIdentity": {"type": "matchRepository"}}],
        "reg.test/app": [{"type": "sigstoreSigned", "keyPath": "/key.pub", "signedIdentity": {"type": "remapIdentity",
            "prefix": "reg.test", "signedPrefix": "other.test"}}]},
    "dir": {"": [{"type": "insecureAcceptAnything"}]}}}).encode())
put("config_files", "policy-fulcio", 0, json.dumps({"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca.pem",
    "oidcIssuer": "https://github.com/login/oauth", "subjectEmail": "a@b.c"}, "rekorPublicKeyPath": "/rekor.pub",
    "signedIdentity": {"type": "exactReference", "dockerReference": "reg.test/app:v1"}}]}).encode())
for k in ["cosign.pub", "cosign2.pub", "rekor.pub"]:
    put("config_files", f"key-{k}", 1, (fixtures / k).read_bytes())
put("config_files", "auth", 2, b'{"auths":{"reg.test":{"auth":"dXNlcjpwYXNz"},"reg.test/app":{"identitytoken":"x"}},"credHelpers":{"other.test":"pass"},"credsStore":"desktop"}')
put("config_files", "registries-conf", 3, b'''unqualified-search-registries = ["reg.test", "docker.io"]
short-name-mode = "permissive"
credential-helpers = ["containers-auth.json"]

[[registry]]
prefix = "reg.test/app"
location = "mirror.test/app"
insecure = true
blocked = false

[[registry.mirror]]
location = "m2.test"
pull-from-mirror = "digest-only"

[aliases]
"app" = "reg.test/library/app"
''')
put("config_files", "registries-d", 4, b'''default-docker:
  lookaside: file:///var/lib/containers/sigstore
  use-sigstore-attachments: true
docker:
  reg.test:
    lookaside: https://sigs.test/sigs
    lookaside-staging: file:///tmp/staging
''')
put("config_files", "sync-yaml", 5, b'''reg.test:
  images:
    app:
      - v1
      - "sha256:''' + hashlib.sha256(b"").hexdigest().encode() + b'''"
    other: []
  images-by-tag-regex:
    app: ^v[0-9]+$
  images-by-semver:
    app: ">= 1.0.0, < 2"
  credentials:
    username: u
    password: p
  tls-verify: false
  cert-dir: /certs
''')
print("seeds written under", corpus)
