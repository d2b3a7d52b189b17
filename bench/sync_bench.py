#!/usr/bin/env python3
"""Benchmark: `sync` of a repository into a freshly started, empty registry,
skiff and Debian's skopeo side by side, alternating which goes first;
medians of ROUNDS runs and their ratio.

Workloads (images generated once into $SKIFF_BENCH_DIR/sync-*):
  distinct  40 single-layer images, each its own ~400 KB layer
  again     the same sync run again into the now full registry (nothing to copy:
            a HEAD at each end per image, as skopeo reads and compares each)
  skip      the same with skiff's --skip-existing (destination tags trusted:
            one tag list; skopeo has no such option, so its `again` time is
            the reference)
  shared    200 tags sharing two ~400 KB layers, each with a small layer of
            its own; also the bytes each tool sent to the registry, counted
            by a forwarder in front of it (in one more, untimed run)

usage: bench/sync_bench.py [ROUNDS] [--only distinct|shared]
  (build first: cargo build --release -p skiff --target x86_64-unknown-linux-musl)
"""
import os, statistics, subprocess, sys

from benchlib import SKIFF, CountingProxy, Registry, layout, replay, run

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
IMAGES = os.environ.get("SKIFF_BENCH_DIR", "/tmp/skiff-bench-images")
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
KB = 1024


def sync(tool, src, dest, *extra):
    base = [SKIFF] if tool == "skiff" else ["skopeo"]
    return base + ["--insecure-policy", "sync", "--src", "docker", "--dest", "docker",
                   "--src-tls-verify=false", "--dest-tls-verify=false", *extra, src, dest]


def populate(source, name, count, layers, seeded):
    """Pushes `count` generated images to `source` as bench/NAME:tI (skopeo)."""
    for i in range(count):
        path = layout(f"{IMAGES}/sync-{name}-{i}", layers, seeded=seeded)
        subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false",
                        f"oci:{path}:bench", f"docker://127.0.0.1:{source.port}/bench/{name}:t{i}"], check=True)


MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"])


def unchanged_requests(source, dest, name, count):
    """What an unchanged image needs at the least: its manifest read at the
    source (to know its digest) and a HEAD of its tag at the destination."""
    out = []
    for i in range(count):
        out.append((source.port, "GET", f"/v2/bench/{name}/manifests/t{i}", {"Accept": MANIFEST_TYPES}))
        out.append((dest.port, "HEAD", f"/v2/mirror/{name}/manifests/t{i}", {"Accept": MANIFEST_TYPES}))
    return out


def rounds(source, src, n, again, floor=None):
    """Medians of `n` alternating rounds (first sync, and a second one if
    `again`), the CPU both registries spent serving each first sync, and,
    with `floor` ((name, count) of the images), how long the registries
    alone take to answer what an unchanged sync must ask."""
    times = {t: {"first": [], "again": [], "skip": [], "registry_cpu": [], "floor": []} for t in ("skiff", "skopeo")}
    for i in range(n):
        for t in (["skiff", "skopeo"] if i % 2 == 0 else ["skopeo", "skiff"]):
            dest = Registry()
            try:
                target = f"127.0.0.1:{dest.port}/mirror"
                before = source.cpu() + dest.cpu()
                times[t]["first"].append(run(sync(t, src, target))[0])
                times[t]["registry_cpu"].append(source.cpu() + dest.cpu() - before)
                if again:
                    times[t]["again"].append(run(sync(t, src, target))[0])
                    if t == "skiff":
                        times[t]["skip"].append(run(sync(t, src, target, "--skip-existing"))[0])
                        if floor:
                            times[t]["floor"].append(replay(unchanged_requests(source, dest, *floor), 8))
            finally:
                dest.stop()
    return {t: {k: statistics.median(v) for k, v in w.items() if v} for t, w in times.items()}


def line(label, med):
    s, k = med["skopeo"], med["skiff"]
    print(f"  {label:9s} skiff {k:6.2f} s  skopeo {s:6.2f} s  ratio {k / s:.3f}", flush=True)


def sent_bytes(tool, src):
    dest = Registry()
    try:
        counter = CountingProxy(dest.port)
        run(sync(tool, src, f"127.0.0.1:{counter.port}/mirror"))
        return counter.sent
    finally:
        dest.stop()


def main():
    source = Registry()
    try:
        print(f"sync benchmark, {ROUNDS} alternating rounds, medians")
        if ONLY in (None, "distinct"):
            populate(source, "distinct", 40, [400 * KB], None)
            src = f"127.0.0.1:{source.port}/bench/distinct"
            med = rounds(source, src, ROUNDS, True, floor=("distinct", 40))
            line("distinct", {t: m["first"] for t, m in med.items()})
            cores = os.cpu_count()
            print(f"  registry CPU per first sync: skiff {med['skiff']['registry_cpu']:.2f} s"
                  f"  skopeo {med['skopeo']['registry_cpu']:.2f} s  ({cores} cores)", flush=True)
            # The registries share this machine's cores with the client: the
            # CPU time they need for skiff's requests bounds its wall time.
            print(f"  distinct  floor (registries' CPU for skiff's requests / {cores} cores) "
                  f"{med['skiff']['registry_cpu'] / cores:.2f} s; a 0.2 ratio is {0.2 * med['skopeo']['first']:.2f} s", flush=True)
            line("again", {t: m["again"] for t, m in med.items()})
            print(f"  again     floor (the registries answering only a manifest GET and a HEAD per image, "
                  f"8 kept-alive connections, no tool) {med['skiff']['floor']:.3f} s; "
                  f"a 0.15 ratio is {0.15 * med['skopeo']['again']:.3f} s", flush=True)
            line("skip", {"skiff": med["skiff"]["skip"], "skopeo": med["skopeo"]["again"]})
        if ONLY in (None, "shared"):
            populate(source, "shared", 200, [400 * KB, 400 * KB, 2 * KB], [b"base-1", b"base-2", None])
            src = f"127.0.0.1:{source.port}/bench/shared"
            med = rounds(source, src, max(1, ROUNDS // 2), False)
            line("shared", {t: m["first"] for t, m in med.items()})
            sent = {t: sent_bytes(t, src) for t in ("skiff", "skopeo")}
            print(f"  shared    bytes sent: skiff {sent['skiff'] / 1e6:.2f} MB  skopeo {sent['skopeo'] / 1e6:.2f} MB"
                  f"  ratio {sent['skiff'] / sent['skopeo']:.3f}", flush=True)
    finally:
        source.stop()


main()
