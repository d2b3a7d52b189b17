"""What the benchmarks share: OCI layouts of random layers, throw-away
registries (Debian's docker-registry on loopback), timing one process."""
import gzip, hashlib, io, json, os, platform, shutil, socket, subprocess, tarfile, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The binary scripts/test.sh and scripts/demo.sh build: static, on musl
# (README, "Building"); SKIFF_BIN picks another.
SKIFF = os.environ.get(
    "SKIFF_BIN", os.path.join(ROOT, f"target/{platform.machine()}-unknown-linux-musl/release/skiff"))


def layout(path, layers, ref="bench", seeded=None):
    """An OCI layout whose layers hold `layers` (sizes in bytes) of random
    data; `seeded[i]` (bytes) instead makes layer i from that seed, the same
    every time (layers shared between images)."""
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
            t.addfile(info, io.BytesIO(seeded_bytes(seeded[i], size) if seeded and seeded[i] else os.urandom(size)))
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
                   "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": ref}}]}, f)
    with open(f"{path}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return path


class Registry:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="skiff-bench-reg-")
        s = socket.socket(); s.bind(("127.0.0.1", 0)); self.port = s.getsockname()[1]; s.close()
        with open(f"{self.dir}/config.yml", "w") as f:
            f.write(f"version: 0.1\nlog: {{level: error, accesslog: {{disabled: true}}}}\nstorage: {{filesystem: {{rootdirectory: {self.dir}/data}}}}\nhttp: {{addr: 127.0.0.1:{self.port}}}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", f"{self.dir}/config.yml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close(); return
            except OSError:
                time.sleep(0.05)

    def cpu(self):
        """CPU seconds the registry process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate(); self.proc.wait(); shutil.rmtree(self.dir, ignore_errors=True)


def replay(requests, parallel):
    """Wall time of the `requests` ((port, method, path, headers) each) made
    by `parallel` threads over kept-alive connections, by no tool at all:
    what the registries alone need to answer them."""
    import http.client, queue
    work = queue.Queue()
    for r in requests:
        work.put(r)

    def worker():
        conns = {}
        while True:
            try:
                port, method, path, headers = work.get_nowait()
            except queue.Empty:
                return
            c = conns.setdefault(port, http.client.HTTPConnection("127.0.0.1", port))
            c.request(method, path, headers=headers)
            resp = c.getresponse(); resp.read()
            if resp.status >= 400:
                raise SystemExit(f"replay: {method} {path}: {resp.status}")

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t


def run(cmd):
    """Wall time and peak RSS (MiB) of one process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss / 1024



def seeded_bytes(seed, size):
    """`size` pseudo-random bytes, the same for the same seed."""
    out, block = bytearray(), hashlib.sha256(seed).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


class CountingProxy:
    """A TCP forwarder to a registry, counting the bytes clients send."""

    def __init__(self, port):
        self.sent, self.lock = 0, threading.Lock()
        self.sock = socket.socket(); self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0)); self.sock.listen(64); self.port = self.sock.getsockname()[1]
        self.upstream = port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pipe, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, False), daemon=True).start()

    def _pipe(self, a, b, count):
        try:
            while True:
                d = a.recv(1 << 16)
                if not d:
                    break
                if count:
                    with self.lock:
                        self.sent += len(d)
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
