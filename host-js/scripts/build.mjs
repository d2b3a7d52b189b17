// npm run build: compiles the core for wasm32-unknown-unknown and generates
// the wasm-bindgen glue into pkg/ (an ES module that works in Node and browsers).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// Optimised for size, across crates (LTO, one codegen unit): the bundle is
// downloaded by every page that uses it. SHA-2 keeps full speed: skiff-js
// hashes what it copies. The native builds are not affected.
run('cargo', [
  'build', '--release', '--locked', '-p', 'skiff-js', '--target', 'wasm32-unknown-unknown',
  '--config', 'profile.release.opt-level="s"',
  '--config', 'profile.release.package.skiff-core.opt-level="s"',
  '--config', 'profile.release.package.sha2.opt-level=3',
  '--config', 'profile.release.lto=true',
  '--config', 'profile.release.codegen-units=1',
]);
run('wasm-bindgen', [
  '--target', 'web',
  // Function names are for debuggers; they were 660 KB of the module.
  '--remove-name-section',
  '--out-dir', path.join(root, 'host-js/pkg'),
  path.join(targetDir, 'wasm32-unknown-unknown/release/skiff_js.wasm'),
]);
