// Where the bytes of a worker's JS go: for the workerd module of one entry (dist/<entry>/workerd.js,
// the JS layer and the wasm-bindgen glue in one minified bundle), the bytes each input module
// keeps in it after tree-shaking and minification (esbuild's metafile, written by build.mjs under
// target/edgemetrics-js-meta/), and the gzip -9 size of each module minified alone (for the
// modules dist/<entry>/modules/ holds: the default entry and `all`). Deterministic: bytes only.
//   node bench/js-bytes.mjs [otlp|all|remote-write|pushgateway|compact]   (after node build.mjs)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { transform } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const js = join(here, '..');
const entry = process.argv[2] ?? 'otlp';
const target = process.env.CARGO_TARGET_DIR || join(js, '..', 'target');
const metaFile = join(target, 'edgemetrics-js-meta', entry, 'workerd.json');
if (!existsSync(metaFile)) {
  console.error(`no ${metaFile}: run node build.mjs first`);
  process.exit(1);
}
const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
const [outPath, output] = Object.entries(meta.outputs).find(([p]) => p.endsWith('workerd.js'));
const shipped = readFileSync(join(js, 'dist', entry === 'all' ? '' : entry, 'workerd.js'));
const gz = (b) => gzipSync(b, { level: 9 }).length;
const modules = join(js, 'dist', entry === 'all' ? '' : entry, 'modules');
console.log(
  `${outPath.split('/').slice(-2).join('/')}: ${shipped.length} B minified, ${gz(shipped)} B gzip -9 (Node zlib; the gzip CLI differs by a few bytes)\n`,
);
console.log('| input module | bytes in workerd.js | share | minified alone, gzip -9 (B, Node zlib) |');
console.log('|---|---:|---:|---:|');
const rows = Object.entries(output.inputs).map(([p, v]) => [p.split('/').pop(), v.bytesInOutput]);
rows.sort((a, b) => b[1] - a[1]);
for (const [name, bytes] of rows) {
  let alone = '-';
  const src = join(modules, name);
  if (existsSync(src)) {
    const r = await transform(readFileSync(src, 'utf8'), { format: 'esm', target: 'es2022', minify: true, legalComments: 'none' });
    alone = gz(Buffer.from(r.code));
  }
  console.log(`| ${name} | ${bytes} | ${((100 * bytes) / output.bytes).toFixed(1)} % | ${alone} |`);
}
