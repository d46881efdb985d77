// Builds js/dist: the wasm module (cargo + wasm-bindgen + wasm-opt) and the JS entry points.
//
//   node build.mjs                         all encoders, into dist/ (and dist/tail/: + the decoder)
//   node build.mjs --if-missing            only when dist/ is missing or older than the sources
//   node build.mjs --features otlp-proto --out dist-min   smaller module with the listed encoders
//   node build.mjs --opt-level s           override the release profile's opt-level (measuring)
//
// Needs: cargo with the wasm32-unknown-unknown target, wasm-bindgen-cli matching the
// `wasm-bindgen` pin in bindings/Cargo.toml (on PATH, in ~/.cargo/bin, or $WASM_BINDGEN_BIN),
// and npm's binaryen (devDependency) for wasm-opt.
import { execFileSync } from 'node:child_process';
import { transformSync } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const out = resolve(here, arg('--out', 'dist'));
const features = arg('--features', null);
const optLevel = arg('--opt-level', null);

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

if (args.includes('--if-missing') && existsSync(join(out, 'edgemetrics_wasm_bg.wasm'))) {
  const built = Math.min(
    statSync(join(out, 'edgemetrics_wasm_bg.wasm')).mtimeMs,
    existsSync(join(out, 'tail', 'edgemetrics_wasm_bg.wasm')) ? statSync(join(out, 'tail', 'edgemetrics_wasm_bg.wasm')).mtimeMs : 0,
  );
  const src = Math.max(newest(join(here, 'src')), newest(join(root, 'src')), newest(join(root, 'bindings', 'src')));
  if (built >= src) process.exit(0);
}

// Progress goes to stderr, so `npm pack --json` (which runs this as `prepack`) keeps a clean stdout.
const run = (cmd, argv, env = {}) => {
  console.error('+', cmd, argv.join(' '));
  execFileSync(cmd, argv, { stdio: ['inherit', 2, 'inherit'], env: { ...process.env, ...env } });
};

const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
const env = {};
if (optLevel) env.CARGO_PROFILE_RELEASE_OPT_LEVEL = optLevel;
const wasmIn = join(targetDir, 'wasm32-unknown-unknown', 'release', 'edgemetrics_wasm.wasm');

function findWasmBindgen() {
  if (process.env.WASM_BINDGEN_BIN) return process.env.WASM_BINDGEN_BIN;
  const cargoBin = join(homedir(), '.cargo', 'bin', 'wasm-bindgen');
  return existsSync(cargoBin) ? cargoBin : 'wasm-bindgen';
}

const TAIL_SKIP = /^(browser|deno|edge-light|hono|inline|node|otel|vercel|workers)\.(js|d\.ts)$/;

/** Builds the wasm module with `cargoFeatures` (cargo arguments) into `dir`, with the JS modules. */
function buildInto(dir, cargoFeatures) {
  run(
    'cargo',
    ['build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'edgemetrics-wasm', '-j', process.env.CARGO_JOBS || '2', ...cargoFeatures],
    env,
  );
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // --target web: an ES module with `initSync` (used by every entry point) that runs unchanged in
  // workerd, Node, Deno, Bun and browsers.
  run(findWasmBindgen(), ['--target', 'web', '--no-typescript', '--out-dir', dir, '--out-name', 'edgemetrics_wasm', wasmIn]);
  // wasm-bindgen copies the Rust doc comments into the glue as JSDoc blocks: ~2 KB of the glue's
  // gzip size with no use at run time (the package's types are js/src/index.d.ts). Only whole-line
  // `/** ... */` blocks are removed; code is left byte for byte.
  const glue = join(dir, 'edgemetrics_wasm.js');
  writeFileSync(glue, readFileSync(glue, 'utf8').replace(/^[ \t]*\/\*\*(?:[^*]|\*(?!\/))*\*\/[ \t]*\n/gm, ''));

  const wasmOpt = join(here, 'node_modules', 'binaryen', 'bin', 'wasm-opt');
  const wasmOut = join(dir, 'edgemetrics_wasm_bg.wasm');
  // --converge repeats -Oz while it still shrinks the module; --strip-producers drops the toolchain
  // names; --low-memory-unused lets addresses fold into load/store offsets, valid because rustc's
  // wasm32 layout puts the stack (growing down from 1 MiB) at the bottom of memory and statics above
  // it, so the low 1 KiB is only touched by a stack already ~1 MiB deep. Measured with the module
  // of all encoders: -580 B gzip.
  run(process.execPath, [
    wasmOpt,
    '-Oz',
    '--converge',
    '--strip-producers',
    '--low-memory-unused',
    '--enable-bulk-memory',
    '--enable-sign-ext',
    '--enable-nontrapping-float-to-int',
    '--enable-mutable-globals',
    '--enable-multivalue',
    '--enable-reference-types',
    wasmOut,
    '-o',
    wasmOut,
  ]);

  for (const f of readdirSync(join(here, 'src'))) {
    // tail.js belongs to the Tail Worker module only (it needs the decoder), which needs no other
    // entry point than workerd.js.
    if (dir === out ? f.startsWith('tail.') : TAIL_SKIP.test(f)) continue;
    copyFileSync(join(here, 'src', f), join(dir, f));
  }
  // The shipped JS is whitespace-minified (comments and indentation go; names and syntax stay, so
  // stack traces still name our functions): what a worker uploads is what the size budget measures.
  // The commented sources are js/src.
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const file = join(dir, f);
    writeFileSync(file, transformSync(readFileSync(file, 'utf8'), { minifyWhitespace: true, legalComments: 'none' }).code);
  }
  return wasmOut;
}

const wasmOut = buildInto(out, features !== null ? ['--no-default-features', '--features', features] : []);
// `edgemetrics/tail` (dist/tail/): the same JS modules over a module that also has the compact
// decoder (bindings feature `decode`, about 10 KB gzip), which only a Tail Worker needs; the
// workers that produce the batches keep the smaller module of dist/.
if (features === null) buildInto(join(out, 'tail'), ['--features', 'decode']);
// The licenses live at the repository root; npm packs only files under js/ (ignored by git there).
for (const f of ['LICENSE-MIT', 'LICENSE-APACHE']) copyFileSync(join(root, f), join(here, f));
// For the `edgemetrics/inline` entry (single-file bundles): the optimised wasm as base64.
writeFileSync(
  join(out, 'wasm-inline.js'),
  '// Generated by build.mjs: edgemetrics_wasm_bg.wasm as base64, for single-file bundles (inline.js).\n' +
    `export default ${JSON.stringify(readFileSync(wasmOut).toString('base64'))};\n`,
);
writeFileSync(join(out, 'BUILD_INFO.json'), JSON.stringify({ features: features ?? 'default', optLevel: optLevel ?? 'profile' }) + '\n');
console.error(`built ${out}: wasm ${readFileSync(wasmOut).length} bytes`);
