// Builds the module in four variants (all encoders / OTLP protobuf only, opt-level z / s) into
// a temporary directory and prints raw and gzip -9 sizes of the wasm, the wasm-bindgen glue and
// the package's own JS. Usage: node bench/sizes.mjs   (takes a few minutes on 2 cores)
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
    const glue = readFileSync(join(out, 'edgemetrics_wasm.js'));
    const api = Buffer.concat([readFileSync(join(out, 'metrics.js')), readFileSync(join(out, 'workerd.js'))]);
    rows.push({
      variant: `${label}, opt-level ${opt}`,
      wasm: wasm.length,
      wasm_gz: gz(wasm),
      glue_gz: gz(glue),
      api_js_gz: gz(api),
      wasm_plus_glue_gz: gz(wasm) + gz(glue),
    });
  }
}
console.table(rows);
console.log(JSON.stringify(rows));
