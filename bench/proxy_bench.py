#!/usr/bin/env python3
"""Benchmark: `experimental-image-proxy` as bootc uses it — open an image,
get its manifest, read every layer through GetBlob/FinishPipe — with skiff
and Debian's skopeo side by side (the suite's protocol client,
tests/proxy/client.py, drives both the same way), alternating, medians of
ROUNDS runs, the ratio, and the peak RSS of the client and the proxy.

Images as in copy_bench.py: one ~250 MB layer, and ten ~20 MB layers, on a
loopback registry and in an OCI layout.

usage: bench/proxy_bench.py [ROUNDS]   (build first: cargo build --release -p skiff --target x86_64-unknown-linux-musl)
"""
import json, os, statistics, subprocess, sys, tempfile

from benchlib import ROOT, SKIFF, Registry, layout, run

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
IMAGES = os.environ.get("SKIFF_BENCH_DIR", "/tmp/skiff-bench-images")
SPECS = {"big": [250 << 20], "ten": [20 << 20] * 10}
CLIENT = os.path.join(ROOT, "tests/proxy/client.py")


def main():
    for name in SPECS:
        subprocess.run([sys.executable, __file__, "--generate", name], check=True)
    source = Registry()
    calls_dir = tempfile.mkdtemp(prefix="skiff-proxy-bench-")
    os.environ["PROXY_NO_HASH"] = "1"
    try:
        images = {}
        for name in SPECS:
            path = f"{IMAGES}/{name}"
            subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", f"oci:{path}:bench", f"docker://127.0.0.1:{source.port}/bench/{name}:1"], check=True)
            images[f"{name} registry"] = f"docker://127.0.0.1:{source.port}/bench/{name}:1"
            images[f"{name} oci:"] = f"oci:{path}:bench"
        subprocess.run([SKIFF, "manifest-digest", f"{IMAGES}/big/index.json"], check=True, stdout=subprocess.DEVNULL)
        print(f"image proxy benchmark, {ROUNDS} alternating rounds, medians (peak RSS)")
        for label, image in images.items():
            calls = os.path.join(calls_dir, "calls.json")
            with open(calls, "w") as f:
                json.dump([{"method": "Initialize", "args": []}, {"method": "OpenImage", "args": [image]},
                           {"method": "GetManifest", "args": ["$1"]}, {"each_layer": 2, "image": 1},
                           {"method": "Shutdown", "args": []}], f)
            res = {"skiff": [], "skopeo": []}
            for i in range(ROUNDS):
                for t in (["skiff", "skopeo"] if i % 2 == 0 else ["skopeo", "skiff"]):
                    proxy = [SKIFF] if t == "skiff" else ["skopeo"]
                    cmd = [sys.executable, CLIENT, calls, "--"] + proxy + ["--insecure-policy", "experimental-image-proxy", "--tls-verify=false"]
                    res[t].append(run(cmd))
            med = {t: statistics.median(x[0] for x in v) for t, v in res.items()}
            rss = {t: max(x[1] for x in v) for t, v in res.items()}
            print(f"  {label:13s}  skiff {med['skiff']:6.2f} s ({rss['skiff']:4.0f} MiB)"
                  f"  skopeo {med['skopeo']:6.2f} s ({rss['skopeo']:4.0f} MiB)  ratio {med['skiff'] / med['skopeo']:.3f}", flush=True)
    finally:
        source.stop()


if len(sys.argv) > 2 and sys.argv[1] == "--generate":
    if not os.path.exists(f"{IMAGES}/{sys.argv[2]}/index.json"):
        layout(f"{IMAGES}/{sys.argv[2]}", SPECS[sys.argv[2]])
else:
    main()
