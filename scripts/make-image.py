#!/usr/bin/env python3
"""Writes a small, deterministic single-layer OCI image layout.

usage: make-image.py LAYOUT_DIR REF_NAME [LAYER_BYTES]
"""
import gzip, hashlib, io, json, os, sys, tarfile

layout, ref = sys.argv[1], sys.argv[2]
size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)

def put(data: bytes):
    h = hashlib.sha256(data).hexdigest()
    with open(f"{layout}/blobs/sha256/{h}", "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    data = (b"hello from skiff\n" * (size // 17 + 1))[:size]
    info = tarfile.TarInfo("hello.txt"); info.size = len(data); info.mtime = 0
    t.addfile(info, io.BytesIO(data))
layer = buf.getvalue()
gz = gzip.compress(layer, mtime=0)
ld, ls = put(gz)
config = json.dumps({
    "created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"], "Labels": {"org.opencontainers.image.title": "skiff demo"}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
}, separators=(",", ":")).encode()
cd, cs = put(config)
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}],
}, separators=(",", ":")).encode()
md, ms = put(manifest)
with open(f"{layout}/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": ref}}]}, f)
with open(f"{layout}/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
