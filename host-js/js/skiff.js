// skiff-js: skiff's core (Rust, compiled to WebAssembly) for Node and browsers.
//
// This file only does IO. The core decides everything about the registry
// protocol — ping and HTTP fallback, auth challenges and tokens, redirects,
// retries, pagination, media types, platform choice, digest checks — and
// asks this driver to carry out plain requests, which it does with `fetch`.

import init, { Operation, parseReference as coreParse, manifestDigest as coreDigest } from '../pkg/skiff_js.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

// The WebAssembly module is instantiated when this module is imported, so
// the pure functions below can be synchronous.
{
  const url = new URL('../pkg/skiff_js_bg.wasm', import.meta.url);
  if (isNode) {
    const { readFile } = await import('node:fs/promises');
    await init({ module_or_path: await readFile(url) });
  } else {
    await init({ module_or_path: url });
  }
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
export function parseReference(reference) {
  try {
    return coreParse(reference);
  } catch (e) {
    rethrow(e);
  }
}

/** The digest that names a manifest, `sha256:…`. */
export function manifestDigest(bytes) {
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
    platform: platformOverride(opts),
    side: { registry: registryOptions(opts) },
  }, opts);
  return opts.raw ? out : JSON.parse(new TextDecoder().decode(out));
}

/** `{Repository, Tags}` of a `docker://` repository. */
export async function listTags(repository, opts = {}) {
  const out = await run({ command: 'list-tags', repository, registry: registryOptions(opts) }, opts);
  return JSON.parse(new TextDecoder().decode(out));
}

function platformOverride(opts) {
  return { os: opts.overrideOs, architecture: opts.overrideArch, variant: opts.overrideVariant };
}

/** What the core needs to know of where it runs (it finds auth files from it). */
function environment() {
  if (!isNode) return {};
  const names = ['HOME', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'REGISTRY_AUTH_FILE', 'DOCKER_CONFIG', 'DOCKER_HOST'];
  const variables = Object.fromEntries(names.filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]]));
  return { variables, uid: process.getuid?.() ?? 0, platform: { os: process.platform, architecture: process.arch } };
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
  const doFetch = opts.fetch ?? globalThis.fetch;
  const op = new Operation(JSON.stringify(job), JSON.stringify(environment()));
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
          if (request.kind === 'note' || request.kind === 'progress') break;
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
    case 'stat':
      return stat(request.path);
    case 'list-dir':
      return listDir(request.path);
    case 'random':
      // Web Crypto, in browsers and in Node: the only entropy the core gets.
      return { kind: 'data', data: globalThis.crypto.getRandomValues(new Uint8Array(request.length)) };
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
  if (!isNode) return failed('not-found', 'local files are not available in a browser');
  const fs = await import('node:fs/promises');
  try {
    const st = await fs.stat(path);
    if (st.size > maxBytes) return failed('too-large', `${path} is larger than ${maxBytes} bytes`);
    return { kind: 'data', data: new Uint8Array(await fs.readFile(path)) };
  } catch (e) {
    return failed(fileErrorKind(e), `${path}: ${e.message}`);
  }
}

async function stat(path) {
  if (!isNode) return { kind: 'file-info', fileKind: 'absent', target: 'absent', size: 0 };
  const fs = await import('node:fs/promises');
  const kindOf = (s) => (s.isSymbolicLink() ? 'symlink' : s.isFile() ? 'regular' : s.isDirectory() ? 'directory' : 'other');
  try {
    const l = await fs.lstat(path);
    let target = kindOf(l);
    let size = l.size;
    // Milliseconds are what Node gives as a number; nanoseconds lose nothing here that matters.
    let modifiedNs = Math.round(l.mtimeMs * 1e6);
    let mode = l.mode & 0o7777;
    if (l.isSymbolicLink()) {
      try {
        const t = await fs.stat(path);
        target = kindOf(t);
        size = t.size;
        modifiedNs = Math.round(t.mtimeMs * 1e6);
        mode = t.mode & 0o7777;
      } catch {
        target = 'absent';
      }
    }
    return { kind: 'file-info', fileKind: kindOf(l), target, size, modifiedNs, mode };
  } catch (e) {
    if (e.code === 'ENOENT') return { kind: 'file-info', fileKind: 'absent', target: 'absent', size: 0 };
    return failed(fileErrorKind(e), `${path}: ${e.message}`);
  }
}

async function listDir(path) {
  if (!isNode) return failed('not-found', 'local files are not available in a browser');
  const fs = await import('node:fs/promises');
  try {
    return { kind: 'entries', entries: await fs.readdir(path) };
  } catch (e) {
    return failed(fileErrorKind(e), `${path}: ${e.message}`);
  }
}

function fileErrorKind(e) {
  return e.code === 'ENOENT' ? 'not-found' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission-denied' : 'other';
}

function describe(e) {
  const cause = e?.cause ? `: ${e.cause.message ?? e.cause}` : '';
  return `${e?.message ?? e}${cause}`;
}

/**
 * The IO error kind of a fetch failure, from Node's error codes (browsers
 * give none: a failed fetch is a TypeError, reported as `connect`). What a
 * kind means (retry, fall back to HTTP) is the core's decision.
 */
function classify(e) {
  const code = String(e?.cause?.code ?? e?.code ?? '');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'connect';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return 'reset';
  if (code === 'ETIMEDOUT' || code.startsWith('UND_ERR_') && code.includes('TIMEOUT')) return 'timeout';
  if (/CERT|TLS|SSL|EPROTO/.test(code)) return 'tls';
  if (e?.name === 'TypeError') return 'connect';
  return 'other';
}
