// skiff-js in Node against real registries started by the Rust harness
// (tests/scenarios/host_js.rs passes their addresses in the environment),
// compared with Debian's skopeo on the same images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect, listTags, manifestDigest, parseReference, SkiffError } from '../js/skiff.js';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through the Rust harness (cargo test host_js)`);
  return v;
};
const PLAIN = env('SKIFF_PLAIN');
const SECURE = env('SKIFF_SECURE');
const BEARER = env('SKIFF_BEARER');
const USER = env('SKIFF_USER');
const PASSWORD = env('SKIFF_PASSWORD');
const CERTS = env('SKIFF_SECURE_CERTS');

const skopeo = (...args) => execFileSync('skopeo', args, { maxBuffer: 64 << 20 });
const skopeoJson = (...args) => JSON.parse(skopeo(...args).toString());
/** skopeo 1.9.3 predates LayersData; compare the rest. */
const withoutLayersData = (o) => {
  const c = { ...o };
  delete c.LayersData;
  return c;
};

test('parseReference and manifestDigest are synchronous', async () => {
  const parsed = parseReference('docker://busybox');
  assert.ok(!(parsed instanceof Promise), 'parseReference returns its value, not a promise');
  assert.deepEqual(parsed, {
    transport: 'docker', registry: 'docker.io', repository: 'library/busybox', tag: 'latest',
  });
  assert.deepEqual(parseReference('oci:/tmp/layout:v1'), { transport: 'oci', tag: 'v1', path: '/tmp/layout' });
  assert.throws(() => parseReference('docker://Upper'), (e) => e instanceof SkiffError && e.kind === 'invalid-input' && /lowercase/.test(e.message));
  assert.throws(() => parseReference('nope:x'), /unknown transport/);
  assert.equal(manifestDigest(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${PLAIN}/test/multi:v1`);
  const dir = await mkdtemp(path.join(tmpdir(), 'skiff-js-'));
  await writeFile(path.join(dir, 'm.json'), raw);
  assert.equal(manifestDigest(new Uint8Array(raw)), skopeo('manifest-digest', path.join(dir, 'm.json')).toString().trim());
  await rm(dir, { recursive: true });
});

for (const repo of ['test/oci', 'test/docker', 'test/multi']) {
  test(`inspect ${repo} matches skopeo (plain HTTP)`, async () => {
    const img = `docker://${PLAIN}/${repo}:v1`;
    const ours = await inspect(img, { tlsVerify: false });
    assert.deepEqual(withoutLayersData(ours), skopeoJson('inspect', '--tls-verify=false', img));
    assert.deepEqual(ours.Layers, ours.LayersData.map((l) => l.Digest));
    const raw = await inspect(img, { tlsVerify: false, raw: true });
    assert.deepEqual(Buffer.from(raw), skopeo('inspect', '--raw', '--tls-verify=false', img));
    const config = await inspect(img, { tlsVerify: false, config: true });
    assert.deepEqual(config, skopeoJson('inspect', '--config', '--tls-verify=false', img));
  });
}

test('platform overrides and noTags', async () => {
  const img = `docker://${PLAIN}/test/multi:v1`;
  const arm = await inspect(img, { tlsVerify: false, overrideArch: 'arm64', noTags: true });
  assert.equal(arm.Architecture, 'arm64');
  assert.deepEqual(arm.RepoTags, []);
  assert.deepEqual(withoutLayersData(arm), skopeoJson('--override-arch', 'arm64', 'inspect', '-n', '--tls-verify=false', img));
});

test('listTags matches skopeo', async () => {
  const repo = `docker://${PLAIN}/test/tags`;
  assert.deepEqual(await listTags(repo, { tlsVerify: false }), skopeoJson('list-tags', '--tls-verify=false', repo));
});

test('HTTPS is the default: a plain-HTTP registry is refused without tlsVerify: false', async () => {
  await assert.rejects(inspect(`docker://${PLAIN}/test/oci:v1`), (e) => e.kind === 'io' && /pinging container registry/.test(e.message));
});

test('TLS registry with Basic credentials (CA from NODE_EXTRA_CA_CERTS)', async () => {
  const img = `docker://${SECURE}/test/oci:v1`;
  const ours = await inspect(img, { username: USER, password: PASSWORD });
  const theirs = skopeoJson('inspect', '--creds', `${USER}:${PASSWORD}`, '--cert-dir', CERTS, img);
  assert.deepEqual(withoutLayersData(ours), theirs);
  await assert.rejects(inspect(img, { username: USER, password: 'wrong' }), (e) => e.kind === 'unauthorized');
  await assert.rejects(inspect(img), (e) => e.kind === 'unauthorized');
});

test('anonymous bearer tokens', async () => {
  const img = `docker://${BEARER}/test/oci:v1`;
  const ours = await inspect(img, { tlsVerify: false });
  assert.deepEqual(withoutLayersData(ours), skopeoJson('inspect', '--tls-verify=false', img));
});

test('missing images are not-found errors', async () => {
  await assert.rejects(inspect(`docker://${PLAIN}/test/oci:nosuchtag`, { tlsVerify: false }), (e) => e.kind === 'not-found');
});

test('a custom fetch is used for every request', async () => {
  const seen = [];
  const spy = (url, init) => {
    seen.push(`${init.method} ${url}`);
    return fetch(url, init);
  };
  await inspect(`docker://${PLAIN}/test/oci:v1`, { tlsVerify: false, noTags: true, fetch: spy });
  assert.ok(seen.some((s) => s.startsWith('GET http://') && s.includes('/v2/test/oci/manifests/v1')), seen.join('\n'));
});

test('oci: layouts are read from disk in Node', async () => {
  const layout = env('SKIFF_LAYOUT');
  const img = `oci:${layout}:v1`;
  assert.deepEqual(withoutLayersData(await inspect(img)), skopeoJson('inspect', img));
});
