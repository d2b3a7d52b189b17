// Serves host-js/ on a loopback port and has headless Chromium (Debian's,
// driven by playwright-core) load a page that imports skiff-js and inspects
// $SKIFF_IMAGE in a registry that sends CORS headers. Prints what the page
// shows; exits non-zero unless it is $SKIFF_EXPECTED_DIGEST.
import http from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

const server = http.createServer(async (req, res) => {
  const file = path.normalize(path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (!file.startsWith(root + path.sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const profile = await mkdtemp(path.join(tmpdir(), 'skiff-chromium-'));

// A fresh profile directory each run (Playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let code = 1;
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.on('console', (m) => console.log(`console.${m.type()}: ${m.text()}`));
  const url = `http://localhost:${port}/test/browser.html?image=${encodeURIComponent(process.env.SKIFF_IMAGE)}`;
  await page.goto(url);
  const out = page.locator('#digest');
  await page.waitForFunction(() => document.getElementById('digest').textContent !== 'pending', null, { timeout: 30000 });
  const shown = await out.textContent();
  console.log(`page shows ${shown}`);
  console.log(`tags ${await page.locator('#tags').textContent()}`);
  code = shown === process.env.SKIFF_EXPECTED_DIGEST ? 0 : 1;
} finally {
  await browser.close();
  server.close();
  await rm(profile, { recursive: true, force: true });
}
process.exit(code);
