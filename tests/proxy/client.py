#!/usr/bin/env python3
"""A client of the image proxy protocol (containers/common's json-proxy),
for the suite: starts PROXY-COMMAND with one end of a SOCK_SEQPACKET
socketpair as its stdin, makes the calls in CALLS.json and prints a JSON
line per call: the reply, and what came through its pipes (read while
FinishPipe is pending, as the protocol requires).

usage: client.py CALLS.json -- PROXY-COMMAND...   (PROXY_SOCKFD=N: pass --sockfd N)
CALLS.json is a list of {"method", "args"}. An argument "$N" stands for
the value call N replied. {"each_layer": N, "image": M} asks GetBlob for
every layer of the manifest that call N returned, of image M's id."""
import array, hashlib, json, os, socket, subprocess, sys, threading

TEXT = {"GetManifest", "GetFullConfig", "GetConfig", "GetLayerInfoPiped"}


def receive(sock):
    fds = array.array("i")
    msg, anc, _, _ = sock.recvmsg(32 * 1024, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return json.loads(msg), list(fds)


class Drained:
    """What came through a pipe: its length, digest, and the bytes of small
    documents (layers are streamed, never held)."""

    def __init__(self, keep):
        self.len, self.hash, self.kept = 0, hashlib.sha256(), bytearray() if keep else None


def drain(fd, out, keep=True):
    d = Drained(keep)
    hashing = not os.environ.get("PROXY_NO_HASH")  # benchmarks time the proxy, not this
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            d.len += len(chunk)
            if hashing:
                d.hash.update(chunk)
            if d.kept is not None:
                d.kept += chunk
    d.hashed = hashing
    out.append(d)


def described(method, d):
    out = {"data_len": d.len}
    if d.hashed:
        out["data_sha256"] = "sha256:" + d.hash.hexdigest()
    if method in TEXT:
        out["data"] = bytes(d.kept).decode("utf-8", "replace")
    return out


def call(sock, method, args):
    sock.send(json.dumps({"method": method, "args": args}).encode())
    reply, fds = receive(sock)
    line = {"method": method, "args": args, "reply": reply}
    if len(fds) == 1:
        data = []
        reader = threading.Thread(target=drain, args=(fds[0], data, method in TEXT))
        reader.start()
        sock.send(json.dumps({"method": "FinishPipe", "args": [reply["pipeid"]]}).encode())
        line["finish"], _ = receive(sock)
        reader.join()
        line.update(described(method, data[0]))
    elif len(fds) == 2:
        data, errors = [], []
        readers = [threading.Thread(target=drain, args=(fds[0], data, False)), threading.Thread(target=drain, args=(fds[1], errors))]
        for r in readers:
            r.start()
        for r in readers:
            r.join()
        line.update(described(method, data[0]))
        line["errors"] = bytes(errors[0].kept).decode("utf-8", "replace")
    return line


def main():
    sep = sys.argv.index("--")
    calls = json.load(open(sys.argv[1]))
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    cmd = sys.argv[sep + 1:]
    if os.environ.get("PROXY_SOCKFD"):
        # The socket as descriptor N (`--sockfd N`), stdin left alone.
        n = int(os.environ["PROXY_SOCKFD"])
        os.dup2(theirs.fileno(), n, inheritable=True)
        proc = subprocess.Popen(cmd + ["--sockfd", str(n)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(n,))
        os.close(n)
    else:
        proc = subprocess.Popen(cmd, stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    theirs.close()
    lines = []
    for c in calls:
        if "each_layer" in c:
            manifest = json.loads(lines[c["each_layer"]]["data"])
            image = lines[c["image"]]["reply"]["value"]
            for layer in manifest["layers"]:
                line = call(ours, "GetBlob", [image, layer["digest"], layer["size"]])
                print(json.dumps(line), flush=True)
            lines.append({})
            continue
        if c["method"] == "Shutdown":
            ours.send(json.dumps({"method": "Shutdown", "args": []}).encode())
            break
        args = [lines[int(a[1:])]["reply"]["value"] if isinstance(a, str) and a.startswith("$") else a for a in c.get("args", [])]
        line = call(ours, c["method"], args)
        lines.append(line)
        print(json.dumps(line), flush=True)
    else:
        ours.close()
    code = proc.wait(timeout=60)
    print(json.dumps({"exit": code, "stderr": proc.stderr.read().decode("utf-8", "replace")[-4000:]}), flush=True)


main()
