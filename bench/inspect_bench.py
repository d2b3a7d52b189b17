#!/usr/bin/env python3
"""Benchmark: `inspect --raw` of a small image on a loopback registry, whole
process from start to exit, skiff and Debian's skopeo side by side.

Each round runs both tools once, alternating which goes first, so machine
noise hits both alike; the figures are medians and their ratio.

usage: bench/inspect_bench.py [ROUNDS] [--with-node]
  (build first: cargo build --release -p skiff; for --with-node also
   `npm run build` in host-js: adds skiff-js in a fresh Node process)
"""
import os, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIFF = os.environ.get("SKIFF_BIN", os.path.join(ROOT, "target/release/skiff"))
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
ROUNDS = int(ARGS[0]) if ARGS else 40
WITH_NODE = "--with-node" in sys.argv


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


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
        for cmd in tools.values():  # warm-up (skiff also fills its compiled-component cache)
            for _ in range(3):
                timed(cmd)
        times = {k: [] for k in tools}
        for i in range(ROUNDS):
            order = list(tools)[i % len(tools):] + list(tools)[:i % len(tools)]
            for name in order:
                times[name].append(timed(tools[name]))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"inspect --raw, small image, loopback registry, {ROUNDS} alternating rounds")
        for k in tools:
            print(f"  {k:7s} median {med[k] * 1000:7.2f} ms  (min {min(times[k]) * 1000:.2f}, max {max(times[k]) * 1000:.2f})")
        print(f"  ratio skiff/skopeo = {med['skiff'] / med['skopeo']:.3f}")
        if WITH_NODE:
            print(f"  ratio node(skiff-js)/skiff = {med['node'] / med['skiff']:.3f}")
            warm = subprocess.run(["node", f"{ROOT}/bench/node-inspect.mjs", image, "200"], check=True, capture_output=True, text=True)
            print(f"  skiff-js {warm.stdout.strip()}")
    finally:
        reg.terminate(); reg.wait()


main()
