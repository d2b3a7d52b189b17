// skiff-js: skiff's core (Rust, compiled to WebAssembly) for Node and browsers.
//
// This file only does IO. The core decides everything about the registry
// protocol — ping and HTTP fallback, auth challenges and tokens, redirects,
// retries, pagination, media types, platform choice, digest checks — and
// asks this driver to carry out plain requests, which it does with `fetch`.

import init, { Operation, parseReference as coreParse, manifestDigest as coreDigest } from '../pkg/skiff_js.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
let ready;

/** Loads the WebAssembly module once (from disk in Node, by URL in browsers). */
function load() {
  if (!ready) {
    ready = (async () => {
      const url = new URL('../pkg/skiff_js_bg.wasm', import.meta.url);
      if (isNode) {
        const { readFile } = await import('node:fs/promises');
        await init({ module_or_path: await readFile(url) });
      } else {
        await init({ module_or_path: url });
      }
    })();
  }
  return ready;
}

/** A failure reported by the core; `kind` is e.g. "not-found", "unauthorized", "invalid-input". */
export class SkiffError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'SkiffError';
    this.kind = kind;
  }
}

function rethrow(e) {
  if (e && typeof e === 'object' && 'kind' in e) throw new SkiffError(e.kind, e.message);
  throw e;
}

/** Parses `transport:reference` into its parts. Throws SkiffError on bad input. */
export async function parseReference(reference) {
  await load();
  try {
    return coreParse(reference);
  } catch (e) {
    rethrow(e);
  }
}

/** The digest that names a manifest, `sha256:…`. */
export async function manifestDigest(bytes) {
  await load();
  try {
    return coreDigest(toBytes(bytes));
  } catch (e) {
    rethrow(e);
  }
}

/**
 * What `skiff inspect` prints, as an object. `opts.raw` gives the raw
 * manifest bytes; `opts.config` the image config (`opts.raw` too: its bytes).
 */
export async function inspect(reference, opts = {}) {
  const out = await run({
    command: 'inspect',
    image: reference,
    raw: !!opts.raw,
    config: !!opts.config,
    no_tags: !!opts.noTags,
    platform: platform(opts),
    registry: registryOptions(opts),
  }, opts);
  return opts.raw ? out : JSON.parse(new TextDecoder().decode(out));
}

/** `{Repository, Tags}` of a `docker://` repository. */
export async function listTags(repository, opts = {}) {
  const out = await run({ command: 'list-tags', repository, registry: registryOptions(opts) }, opts);
  return JSON.parse(new TextDecoder().decode(out));
}

function platform(opts) {
  return {
    os: opts.overrideOs ?? (isNode ? process.platform : undefined),
    architecture: opts.overrideArch ?? (isNode ? process.arch : undefined),
    variant: opts.overrideVariant,
  };
}

function registryOptions(opts) {
  const r = { tls_verify: opts.tlsVerify, no_creds: !!opts.noCreds, retry_times: opts.retryTimes ?? 0 };
  if (opts.username !== undefined || opts.password !== undefined) {
    r.credentials = { username: opts.username ?? '', password: opts.password ?? '' };
  }
  if (opts.registryToken) r.registry_token = opts.registryToken;
  return r;
}

function toBytes(b) {
  if (b instanceof Uint8Array) return b;
  if (typeof b === 'string') return new TextEncoder().encode(b);
  return new Uint8Array(b);
}

/** Drives one core operation to completion. */
async function run(job, opts) {
  await load();
  const doFetch = opts.fetch ?? globalThis.fetch;
  const op = new Operation(JSON.stringify(job));
  const pending = new Map();
  try {
    for (;;) {
      const action = op.poll(Date.now());
      switch (action.kind) {
        case 'perform': {
          const { id, request } = action;
          if (request.kind === 'warn') {
            console.warn(`skiff: ${request.message}`);
            break;
          }
          if (request.kind === 'note') break;
          pending.set(id, perform(request, doFetch).then((reply) => [id, reply]));
          break;
        }
        case 'done':
          return action.output;
        case 'failed':
          throw new SkiffError(action.errorKind, action.message);
        default: {
          if (pending.size === 0) throw new Error('skiff: internal error: the core is waiting with nothing in flight');
          const [id, reply] = await Promise.race(pending.values());
          pending.delete(id);
          op.handle(Date.now(), id, reply);
        }
      }
    }
  } finally {
    op.free();
  }
}

async function perform(request, doFetch) {
  switch (request.kind) {
    case 'http':
      return httpRequest(request, doFetch);
    case 'wait':
      await new Promise((resolve) => setTimeout(resolve, request.millis));
      return { kind: 'elapsed' };
    case 'read-file':
      return readFile(request.path, request.maxBytes);
    default:
      return { kind: 'failed', errorKind: 'other', message: `unsupported request ${request.kind}` };
  }
}

function failed(errorKind, message) {
  return { kind: 'failed', errorKind, message };
}

async function httpRequest(r, doFetch) {
  let resp;
  try {
    resp = await doFetch(r.url, {
      method: r.method,
      headers: r.headers,
      body: r.body ?? undefined,
      // Node reports redirects to the core, which decides where credentials
      // may go; browsers cannot expose them, so they follow (and drop
      // Authorization across origins, per the fetch standard).
      redirect: isNode ? 'manual' : 'follow',
    });
  } catch (e) {
    return failed(classify(e), `${r.method} ${r.url.split('?')[0]}: ${describe(e)}`);
  }
  const headers = [...resp.headers.entries()];
  if (r.method === 'HEAD') return { kind: 'http', status: resp.status, headers, body: new Uint8Array() };
  const declared = Number(resp.headers.get('content-length') ?? -1);
  if (declared > r.maxBody) {
    await resp.body?.cancel();
    return failed('too-large', `response body is larger than ${r.maxBody} bytes`);
  }
  const chunks = [];
  let size = 0;
  if (resp.body) {
    const reader = resp.body.getReader();
    for (;;) {
      let step;
      try {
        step = await reader.read();
      } catch (e) {
        return failed(classify(e), `reading body: ${describe(e)}`);
      }
      if (step.done) break;
      size += step.value.length;
      if (size > r.maxBody) {
        await reader.cancel();
        return failed('too-large', `response body is larger than ${r.maxBody} bytes`);
      }
      chunks.push(step.value);
    }
  }
  const body = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    body.set(c, off);
    off += c.length;
  }
  return { kind: 'http', status: resp.status, headers, body };
}

async function readFile(path, maxBytes) {
  if (!isNode) return failed('other', 'local files are not available in a browser');
  const fs = await import('node:fs/promises');
  try {
    const st = await fs.stat(path);
    if (st.size > maxBytes) return failed('too-large', `${path} is larger than ${maxBytes} bytes`);
    return { kind: 'data', data: new Uint8Array(await fs.readFile(path)) };
  } catch (e) {
    return failed(e.code === 'ENOENT' ? 'not-found' : 'other', `${path}: ${e.message}`);
  }
}

function describe(e) {
  const cause = e?.cause ? `: ${e.cause.message ?? e.cause}` : '';
  return `${e?.message ?? e}${cause}`;
}

/** How a fetch failure maps onto the core's IO error kinds. */
function classify(e) {
  const code = `${e?.cause?.code ?? e?.code ?? ''} ${e?.cause?.message ?? ''}`.toUpperCase();
  if (/CERT|TLS|SSL|EPROTO|HANDSHAKE/.test(code)) return 'tls';
  if (/TIMEOUT|ETIMEDOUT/.test(code)) return 'timeout';
  if (/ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|SOCKET/.test(code)) return 'connect';
  if (e?.name === 'TypeError') return 'connect';
  return 'other';
}
