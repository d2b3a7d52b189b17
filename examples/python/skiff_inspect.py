#!/usr/bin/env python3
"""The skiff core component (the same .wasm the CLI runs) driven from Python
with the `wasmtime` package from PyPI (pip install wasmtime==50.0.1).

usage: skiff_inspect.py SKIFF_CORE_WASM IMAGE   e.g. docker://127.0.0.1:5000/app:v1

Prints the parsed reference (JSON), `manifest-digest <digest>` of the raw
manifest, then the inspect JSON. Python only does IO (urllib); the component
makes every registry decision. (wasmtime-py converts list<u8> a byte at a
time: fine for manifests, too slow for layers.)
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record, Variant

ENGINE_IFACE = "skiff:core/engine@0.4.0"


class Core:
    def __init__(self, wasm_path):
        engine = Engine()
        self.store = Store(engine)
        self.store.set_wasi(WasiConfig())
        linker = Linker(engine)
        linker.add_wasip2()
        instance = linker.instantiate(self.store, Component.from_file(engine, wasm_path))
        iface = instance.get_export_index(self.store, ENGINE_IFACE)
        func = lambda name: instance.get_func(self.store, instance.get_export_index(self.store, name, iface))
        self.parse_reference = func("parse-reference")
        self.manifest_digest = func("manifest-digest")
        self.new_operation = func("[constructor]operation")
        self.poll = func("[method]operation.poll")
        self.handle = func("[method]operation.handle")

    def call(self, f, *args):
        result = f(self.store, *args)
        f.post_return(self.store)
        return result

    def run(self, job):
        """Drives one job to completion, performing its requests one at a time."""
        op = self.call(self.new_operation, job, environment())
        while True:
            action = self.call(self.poll, op, now())
            if action.tag == "done":
                return bytes(action.payload)
            if action.tag == "failed":
                raise RuntimeError(f"{action.payload.kind}: {action.payload.message}")
            if action.tag == "idle":
                raise RuntimeError("the core is waiting with nothing in flight")
            perform = action.payload
            request = perform.request
            if request.tag == "warn":
                print(request.payload, file=sys.stderr)
                continue
            self.call(self.handle, op, now(), getattr(perform, "id"), carry_out(request))


def now():
    return int(time.time() * 1000)


def record(**fields):
    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


def environment():
    """The user's environment: the core finds auth files and certs.d from it."""
    names = ["HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG"]
    variables = [(n, os.environ[n]) for n in names if n in os.environ]
    return record(variables=variables, uid=os.geteuid(), os=sys.platform, architecture=os.uname().machine,
                  variant=None, scratch_dir=None, pid=os.getpid())


def inspect_job(image, raw):
    """A typed job (wit `job`): an inspect-job record, every field given."""
    registry = record(tls_verify=False, cert_dir=None, credentials=None, registry_token=None, no_creds=False,
                      authfile=None, retry_times=0, retry_delay_ms=None, user_agent_prefix=None,
                      registries_conf=None, tls_details=None, token_hosts=[],
                      timeouts=record(connect_ms=None, response_ms=None, idle_ms=None, total_ms=None))
    side = record(registry=registry, shared_blob_dir=None, daemon_host=None)
    platform = record(os=None, architecture=None, variant=None)
    return Variant("inspect", record(image=image, raw=raw, config=False, format=None, no_tags=False,
                                     manifest_digest=None, side=side,
                                     platform=platform))


def file_failure(e):
    kind = "not-found" if isinstance(e, FileNotFoundError) else "other"
    return Variant("failed", record(kind=kind, message=str(e)))


def carry_out(request):
    if request.tag == "wait":
        time.sleep(request.payload / 1000)
        return Variant("elapsed")
    if request.tag == "read-file":
        try:
            with open(request.payload.path, "rb") as f:
                data = f.read(getattr(request.payload, "max-bytes") + 1)
        except OSError as e:
            return file_failure(e)
        if len(data) > getattr(request.payload, "max-bytes"):
            return Variant("failed", record(kind="too-large", message="file too large"))
        return Variant("data", data)
    if request.tag == "list-dir":
        try:
            return Variant("entries", os.listdir(request.payload))
        except OSError as e:
            return file_failure(e)
    if request.tag != "http":
        return Variant("failed", record(kind="other", message=f"unsupported request {request.tag}"))
    r = request.payload
    headers = {h.name: h.value for h in r.headers}
    body = bytes(r.body) if r.body is not None else None
    req = urllib.request.Request(r.url, data=body, headers=headers, method=r.method)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # the core decides about redirects

    opener = urllib.request.build_opener(NoRedirect)
    try:
        resp = opener.open(req, timeout=30)
    except urllib.error.HTTPError as e:
        resp = e
    except OSError as e:
        return Variant("failed", record(kind="connect", message=str(e)))
    data = resp.read(getattr(r, "max-body") + 1)
    if len(data) > getattr(r, "max-body"):
        return Variant("failed", record(kind="too-large", message="response body too large"))
    hdrs = [record(name=k, value=v) for k, v in resp.headers.items()]
    return Variant("http", record(status=resp.status if hasattr(resp, "status") else resp.code, headers=hdrs, body=data))


def main():
    wasm, image = sys.argv[1], sys.argv[2]
    core = Core(wasm)
    parsed = core.call(core.parse_reference, image)
    print(json.dumps(json.loads(parsed), separators=(",", ":")))
    raw = core.run(inspect_job(image, True))
    print("manifest-digest " + core.call(core.manifest_digest, raw))
    out = core.run(inspect_job(image, False))
    print(json.dumps(json.loads(out), separators=(",", ":")))


main()
