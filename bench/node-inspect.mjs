// `inspect --raw` from Node with skiff-js: `node bench/node-inspect.mjs IMAGE [N]`.
// With N > 1 it also reports the median of N calls inside one warm process.
import { inspect } from '../host-js/js/skiff.js';

const [image, n = '1'] = process.argv.slice(2);
const times = [];
for (let i = 0; i < Number(n); i++) {
  const t = performance.now();
  await inspect(image, { tlsVerify: false, raw: true });
  times.push(performance.now() - t);
}
if (times.length > 1) {
  times.sort((a, b) => a - b);
  console.log(`in-process median ${times[times.length >> 1].toFixed(2)} ms over ${times.length} calls`);
}
// Exit as soon as the work is done: fetch's idle keep-alive sockets would
// otherwise hold the process open for a few hundred milliseconds.
process.exit(0);
