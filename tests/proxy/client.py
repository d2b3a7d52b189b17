#!/usr/bin/env python3
"""A client of the image proxy protocol (containers/common json-proxy),
for the suite: starts PROXY-COMMAND with one end of a SOCK_SEQPACKET
socketpair as its stdin, runs the calls in CALLS.json and prints one JSON
line per call: the reply, plus what came through its pipes.

usage: client.py CALLS.json -- PROXY-COMMAND...
CALLS.json: [{"method": ..., "args": [...]}, ...]; an argument
"$N" is replaced by the value replied to call N (0-based)."""
import array, json, os, socket, subprocess, sys, threading

def recv(sock):
    fds = array.array("i")
    msg, anc, _, _ = sock.recvmsg(32 * 1024, socket.CMSG_SPACE(2 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return json.loads(msg), list(fds)

def read_all(fd, out):
    with os.fdopen(fd, "rb") as f:
        out.append(f.read())

def main():
    sep = sys.argv.index("--")
    calls = json.load(open(sys.argv[1]))
    cmd = sys.argv[sep + 1:]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(cmd, stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    theirs.close()
    values = []
    for call in calls:
        args = [values[int(a[1:])] if isinstance(a, str) and a.startswith("$") else a for a in call.get("args", [])]
        ours.send(json.dumps({"method": call["method"], "args": args}).encode())
        if call["method"] == "Shutdown":
            break
        reply, fds = recv(ours)
        line = {"method": call["method"], "reply": reply}
        values.append(reply.get("value"))
        if fds and reply.get("pipeid"):
            data = []
            t = threading.Thread(target=read_all, args=(fds[0], data))
            t.start()
            ours.send(json.dumps({"method": "FinishPipe", "args": [reply["pipeid"]]}).encode())
            finish, _ = recv(ours)
            t.join()
            line["data"] = data[0].decode("utf-8", "replace")
            line["finish"] = finish
        elif len(fds) == 2:
            data, errs = [], []
            threads = [threading.Thread(target=read_all, args=(fds[0], data)), threading.Thread(target=read_all, args=(fds[1], errs))]
            for t in threads: t.start()
            for t in threads: t.join()
            line["data_len"] = len(data[0])
            line["errors"] = errs[0].decode("utf-8", "replace")
        print(json.dumps(line), flush=True)
    ours.close()
    code = proc.wait(timeout=60)
    err = proc.stderr.read().decode("utf-8", "replace")
    print(json.dumps({"exit": code, "stderr": err[-2000:]}), flush=True)

main()
