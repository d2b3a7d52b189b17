// npm run build: compiles the core for wasm32-unknown-unknown and generates
// the wasm-bindgen glue into pkg/ (an ES module that works in Node and browsers).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run('cargo', ['build', '--release', '--locked', '-p', 'skiff-js', '--target', 'wasm32-unknown-unknown']);
run('wasm-bindgen', [
  '--target', 'web',
  '--out-dir', path.join(root, 'host-js/pkg'),
  path.join(targetDir, 'wasm32-unknown-unknown/release/skiff_js.wasm'),
]);
