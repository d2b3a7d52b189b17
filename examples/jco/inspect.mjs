// The skiff core component (the same .wasm the CLI runs) driven from Node
// through jco. Transpile it first:
//
//   cd host-js && npm install   # jco and @bytecodealliance/preview2-shim
//   npx jco transpile ../target/core-component/wasm32-wasip2/release/skiff_core.wasm \
//       -o jco-out --name skiff_core
//   SKIFF_JCO_DIR=jco-out node ../examples/jco/inspect.mjs docker://127.0.0.1:5000/app:v1
//
// Prints the parsed reference (JSON), `manifest-digest <digest>` of the raw
// manifest, then the inspect JSON. This file only does IO (fetch); the
// component makes every registry decision.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = path.resolve(process.env.SKIFF_JCO_DIR ?? 'jco-out');
const { engine } = await import(pathToFileURL(path.join(dir, 'skiff_core.js')).href);
const image = process.argv[2];

console.log(engine.parseReference(image));

/** Runs one job to completion: poll for actions, perform them, hand back replies. */
async function run(job) {
  const op = new engine.Operation(JSON.stringify(job));
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

const registry = { tls_verify: false };
const raw = await run({ command: 'inspect', image, raw: true, registry });
console.log(`manifest-digest ${engine.manifestDigest(raw)}`);
const out = await run({ command: 'inspect', image, registry, platform: { os: process.platform, architecture: process.arch } });
console.log(JSON.stringify(JSON.parse(new TextDecoder().decode(out))));
