// Builds the module in four variants (all encoders / OTLP protobuf only, opt-level z / s) into
// a temporary directory and prints raw and gzip -9 sizes of the wasm and of the workerd entry
// (one bundled module: the wasm-bindgen glue and the package's own JS). Usage: node bench/sizes.mjs   (takes a few minutes on 2 cores)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'edgemetrics-sizes-'));
const gz = (b) => gzipSync(b, { level: 9 }).length;
const rows = [];
for (const [label, features] of [
  ['all encoders', null],
  ['core + otlp-proto', 'otlp-proto'],
]) {
  for (const opt of ['z', 's']) {
    const out = join(tmp, `${features ?? 'all'}-${opt}`);
    const args = [join(here, '..', 'build.mjs'), '--out', out, '--opt-level', opt];
    if (features) args.push('--features', features);
    execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    const wasm = readFileSync(join(out, 'edgemetrics_wasm_bg.wasm'));
    const js = readFileSync(join(out, 'workerd.js'));
    rows.push({
      variant: `${label}, opt-level ${opt}`,
      wasm: wasm.length,
      wasm_gz: gz(wasm),
      workerd_js_gz: gz(js),
      wasm_plus_js_gz: gz(wasm) + gz(js),
    });
  }
}
console.table(rows);
console.log(JSON.stringify(rows));
