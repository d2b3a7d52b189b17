#!/usr/bin/env python3
"""Benchmark: `inspect --raw` of a small image on a loopback registry, whole
process from start to exit, skiff and Debian's skopeo side by side.

Each round runs both tools once, alternating which goes first, so machine
noise hits both alike; the figures are medians and their ratio.

usage: bench/inspect_bench.py [ROUNDS] [--with-node]
  (build first: cargo build --release -p skiff --target x86_64-unknown-linux-musl; for --with-node also
   `npm run build` in host-js: adds skiff-js in a fresh Node process)
"""
import json, os, socket, statistics, subprocess, sys, tempfile, time

from benchlib import ROOT, SKIFF

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
ROUNDS = int(ARGS[0]) if ARGS else 40
WITH_NODE = "--with-node" in sys.argv


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def registry_alone(port, paths):
    """The registry's own time for `paths` asked one after another on one
    new connection (a raw socket, no tool)."""
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    for path in paths:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Accept: application/vnd.oci.image.manifest.v1+json\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(65536)
        header, body = head.split(b"\r\n\r\n", 1)
        length = int(next(l.split(b":")[1] for l in header.split(b"\r\n") if l.lower().startswith(b"content-length")))
        while len(body) < length:
            body += s.recv(65536)
    s.close()
    return time.perf_counter() - t


# What each tool asks of this registry (it needs no token): skopeo pings
# `/v2/` and then asks for the manifest; skiff, with no credentials to
# send, asks for the manifest alone (its answer stands in for the ping).
MANIFEST = "/v2/bench/small/manifests/1"
ASKED = {"skopeo": ("/v2/", MANIFEST), "skiff": (MANIFEST,)}


def main():
    work = tempfile.mkdtemp(prefix="skiff-bench-")
    port = free_port()
    with open(f"{work}/config.yml", "w") as f:
        f.write(f"version: 0.1\nlog: {{level: error, accesslog: {{disabled: true}}}}\nstorage: {{filesystem: {{rootdirectory: {work}/data}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n")
    reg = subprocess.Popen(["docker-registry", "serve", f"{work}/config.yml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close(); break
            except OSError:
                time.sleep(0.05)
        subprocess.run([sys.executable, f"{ROOT}/scripts/make-image.py", f"{work}/layout", "bench"], check=True)
        image = f"docker://127.0.0.1:{port}/bench/small:1"
        subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", f"oci:{work}/layout:bench", image, "--dest-tls-verify=false"], check=True)
        tools = {
            "skiff": [SKIFF, "inspect", "--raw", "--tls-verify=false", image],
            "skopeo": ["skopeo", "inspect", "--raw", "--tls-verify=false", image],
        }
        if WITH_NODE:
            tools["node"] = ["node", f"{ROOT}/bench/node-inspect.mjs", image]
        # What bounds skiff's time from below: its own process start, flags
        # and exit (`--version` loads no core), and the same with the core
        # component loaded and run on a local file (no network).
        manifest = json.load(open(f"{work}/layout/index.json"))["manifests"][0]["digest"].split(":")[1]
        tools["start"] = [SKIFF, "--version"]
        tools["core"] = [SKIFF, "manifest-digest", f"{work}/layout/blobs/sha256/{manifest}"]
        for cmd in tools.values():  # warm-up (skiff also fills its compiled-component cache)
            for _ in range(3):
                timed(cmd)
        times = {k: [] for k in tools}
        for i in range(ROUNDS):
            order = list(tools)[i % len(tools):] + list(tools)[:i % len(tools)]
            for name in order:
                times[name].append(timed(tools[name]))
        med = {k: statistics.median(v) for k, v in times.items()}
        reg_times = {k: [] for k in ASKED}
        for _ in range(ROUNDS):
            for k, paths in ASKED.items():
                reg_times[k].append(registry_alone(port, paths))
        asked = {k: statistics.median(v) for k, v in reg_times.items()}
        print(f"inspect --raw, small image, loopback registry, {ROUNDS} alternating rounds")
        for k in ("skiff", "skopeo", "node") if WITH_NODE else ("skiff", "skopeo"):
            print(f"  {k:7s} median {med[k] * 1000:7.2f} ms  (min {min(times[k]) * 1000:.2f}, max {max(times[k]) * 1000:.2f})")
        print(f"  ratio skiff/skopeo = {med['skiff'] / med['skopeo']:.3f}")
        print(f"  floor: skiff --version {med['start'] * 1000:.2f} ms; manifest-digest of a local file (core loaded) "
              f"{med['core'] * 1000:.2f} ms; the registry answering, on a new connection, what skopeo asks (the ping, "
              f"then the manifest) {asked['skopeo'] * 1000:.2f} ms and what skiff asks (the manifest) {asked['skiff'] * 1000:.2f} ms; "
              f"a 0.35 ratio is {0.35 * med['skopeo'] * 1000:.2f} ms")
        if WITH_NODE:
            print(f"  ratio node(skiff-js)/skiff = {med['node'] / med['skiff']:.3f}")
            warm = subprocess.run(["node", f"{ROOT}/bench/node-inspect.mjs", image, "200"], check=True, capture_output=True, text=True)
            print(f"  skiff-js {warm.stdout.strip()}")
    finally:
        reg.terminate(); reg.wait()


main()
