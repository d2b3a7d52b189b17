// The skiff core component (the same .wasm the CLI runs) driven from Node
// through jco. Transpile it first:
//
//   cd host-js && npm install   # jco and @bytecodealliance/preview2-shim
//   npx jco transpile ../target/core-component/wasm32-wasip2/component/skiff_core.wasm \
//       -o jco-out --name skiff_core
//   SKIFF_JCO_DIR=jco-out node ../examples/jco/inspect.mjs docker://127.0.0.1:5000/app:v1
//
// Prints the parsed reference (JSON), `manifest-digest <digest>` of the raw
// manifest, then the inspect JSON. This file only does IO (fetch); the
// component makes every registry decision.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = path.resolve(process.env.SKIFF_JCO_DIR ?? 'jco-out');
const { engine } = await import(pathToFileURL(path.join(dir, 'skiff_core.js')).href);
const image = process.argv[2];

console.log(engine.parseReference(image));

// The user's environment: the core finds auth files and certs.d from it.
const environment = {
  variables: ['HOME', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'REGISTRY_AUTH_FILE', 'DOCKER_CONFIG']
    .filter((n) => process.env[n] !== undefined)
    .map((n) => [n, process.env[n]]),
  uid: process.getuid(),
  os: process.platform,
  architecture: process.arch,
  variant: undefined,
  scratchDir: undefined,
  pid: process.pid,
};

/** Runs one job to completion: poll for actions, perform them, hand back replies. */
async function run(job) {
  const op = new engine.Operation(job, environment);
  const pending = new Map();
  for (;;) {
    const action = op.poll(BigInt(Date.now()));
    if (action.tag === 'done') return action.val;
    if (action.tag === 'failed') throw new Error(`${action.val.kind}: ${action.val.message}`);
    if (action.tag === 'perform') {
      const { id, request } = action.val;
      if (request.tag === 'warn') console.error(request.val);
      else pending.set(id, perform(request).then((reply) => [id, reply]));
      continue;
    }
    const [id, reply] = await Promise.race(pending.values());
    pending.delete(id);
    op.handle(BigInt(Date.now()), id, reply);
  }
}

async function perform(request) {
  if (request.tag === 'wait') {
    await new Promise((r) => setTimeout(r, Number(request.val)));
    return { tag: 'elapsed' };
  }
  const missing = (e) => ({ tag: 'failed', val: { kind: e.code === 'ENOENT' ? 'not-found' : 'other', message: e.message } });
  if (request.tag === 'read-file') {
    try {
      const data = new Uint8Array(await readFile(request.val.path));
      if (BigInt(data.length) > request.val.maxBytes) return { tag: 'failed', val: { kind: 'too-large', message: 'too large' } };
      return { tag: 'data', val: data };
    } catch (e) {
      return missing(e);
    }
  }
  if (request.tag === 'list-dir') {
    try {
      return { tag: 'entries', val: await readdir(request.val) };
    } catch (e) {
      return missing(e);
    }
  }
  if (request.tag !== 'http') return { tag: 'failed', val: { kind: 'other', message: `unsupported ${request.tag}` } };
  const r = request.val;
  try {
    const resp = await fetch(r.url, {
      method: r.method,
      headers: r.headers.map((h) => [h.name, h.value]),
      body: r.body ?? undefined,
      redirect: 'manual',
    });
    const body = new Uint8Array(await resp.arrayBuffer());
    if (BigInt(body.length) > r.maxBody) return { tag: 'failed', val: { kind: 'too-large', message: 'body too large' } };
    const headers = [...resp.headers.entries()].map(([name, value]) => ({ name, value }));
    return { tag: 'http', val: { status: resp.status, headers, body } };
  } catch (e) {
    return { tag: 'failed', val: { kind: 'connect', message: `${e.message}: ${e.cause?.message ?? ''}` } };
  }
}

// A typed job (wit `job`): an inspect-job record, every field given.
const inspectJob = (raw) => ({
  tag: 'inspect',
  val: {
    image,
    raw,
    config: false,
    format: undefined,
    noTags: false,
    manifestDigest: undefined,
    side: {
      registry: {
        tlsVerify: false,
        certDir: undefined,
        credentials: undefined,
        registryToken: undefined,
        noCreds: false,
        authfile: undefined,
        retryTimes: 0,
        retryDelayMs: undefined,
        userAgentPrefix: undefined,
        registriesConf: undefined,
        tlsDetails: undefined,
        tokenHosts: [],
        timeouts: { connectMs: undefined, responseMs: undefined, idleMs: undefined, totalMs: undefined },
      },
      sharedBlobDir: undefined,
      daemonHost: undefined,
    },
    platform: { os: undefined, architecture: undefined, variant: undefined },
  },
});
const raw = await run(inspectJob(true));
console.log(`manifest-digest ${engine.manifestDigest(raw)}`);
const out = await run(inspectJob(false));
console.log(JSON.stringify(JSON.parse(new TextDecoder().decode(out))));
