// Builds js/dist: the wasm modules (cargo + wasm-bindgen + wasm-opt) and the JS entry points.
// One wasm per package entry, so that nobody ships encoders they do not use:
//
//   dist/otlp/           `edgemetrics` (the default import): OTLP protobuf only
//   dist/remote-write/   `edgemetrics/remote-write`
//   dist/pushgateway/    `edgemetrics/pushgateway`
//   dist/compact/        `edgemetrics/compact`
//   dist/                `edgemetrics/all`: every format (also what the repository's tests import)
//   dist/tail/           `edgemetrics/tail`: every format + the compact decoder (Tail Workers)
//
//   node build.mjs                         every entry (one cargo build each)
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

/** The per-format entries (subdirectories of dist/) and the formats each one's wasm has. */
const VARIANTS = {
  otlp: ['otlp-proto'],
  'remote-write': ['remote-write'],
  pushgateway: ['pushgateway'],
  compact: ['compact'],
};
const ALL = ['otlp-proto', 'otlp-json', 'remote-write', 'pushgateway', 'compact', 'emf'];
const variantWasms = features === null ? [...Object.keys(VARIANTS), 'tail'].map((v) => join(out, v, 'edgemetrics_wasm_bg.wasm')) : [];
const outputs = [join(out, 'edgemetrics_wasm_bg.wasm'), ...variantWasms];

if (args.includes('--if-missing') && outputs.every((f) => existsSync(f))) {
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const src = Math.max(newest(join(here, 'src')), newest(join(root, 'src')), newest(join(root, 'bindings', 'src')));
  if (built >= src) process.exit(0);
}

// Progress goes to stderr, so `npm pack --json` (which runs this as `prepack`) keeps a clean stdout.
const run = (cmd, argv, env = {}) => {
  console.error('+', cmd, argv.join(' '));
  execFileSync(cmd, argv, { stdio: ['inherit', 2, 'inherit'], env: { ...process.env, ...env } });
};

const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
const wasmIn = join(targetDir, 'wasm32-unknown-unknown', 'release', 'edgemetrics_wasm.wasm');
const env = {};
if (optLevel) env.CARGO_PROFILE_RELEASE_OPT_LEVEL = optLevel;

function findWasmBindgen() {
  if (process.env.WASM_BINDGEN_BIN) return process.env.WASM_BINDGEN_BIN;
  const cargoBin = join(homedir(), '.cargo', 'bin', 'wasm-bindgen');
  return existsSync(cargoBin) ? cargoBin : 'wasm-bindgen';
}

// The integrations (otel, hono, vercel, workers) ship once, at dist/; an entry directory holds the
// runtime entries and the modules they load. tail.js belongs to the Tail Worker module only (it
// needs the decoder), which needs no other entry point than workerd.js.
const INTEGRATIONS = /^(otel|hono|vercel|workers|tail)\./;
const TAIL_SKIP = /^(browser|deno|edge-light|hono|inline|node|otel|vercel|workers)\.(js|d\.ts)$/;

/**
 * Builds one wasm module with `feats` (null: the crate's default, every format) into `dir`, with
 * its glue and the JS layer; `formats` is what variant.js tells the JS layer the module has.
 */
function buildOne(dir, feats, formats, { integrations, tail = false }) {
  const cargoArgs = ['build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'edgemetrics-wasm', '-j', process.env.CARGO_JOBS || '2'];
  if (tail) cargoArgs.push('--features', 'decode');
  else if (feats !== null) cargoArgs.push('--no-default-features', '--features', feats);
  run('cargo', cargoArgs, env);
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
  // wasm32 layout puts the stack (growing down from 128 KiB, set in bindings/build.rs) at the
  // bottom of memory and statics above it, so the low 1 KiB is only touched by a stack already
  // ~127 KiB deep. Measured with the module of all encoders: -580 B gzip. Other flag sets measured
  // on the OTLP-only module (43,568 B gzip with these): -Oz alone 44,076; -O3 43,910; adding
  // --gufa -Oz 43,569; --flatten --rereloop -Oz -Oz 43,543 (slower to build, kept out);
  // --monomorphize -Oz 43,787.
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
    const skip = tail ? TAIL_SKIP.test(f) : f.startsWith('tail.') || (!integrations && INTEGRATIONS.test(f));
    if (!skip) copyFileSync(join(here, 'src', f), join(dir, f));
  }
  // What the JS layer checks `options.format` against (a format this module lacks is a
  // FormatUnavailableError naming the entry that has it).
  writeFileSync(
    join(dir, 'variant.js'),
    "// Generated by build.mjs: the formats compiled into this directory's wasm module.\n" + `export const FORMATS = ${JSON.stringify(formats)};\n`,
  );
  // For the `edgemetrics/inline` entry (single-file bundles): the optimised wasm as base64.
  if (!tail)
    writeFileSync(
      join(dir, 'wasm-inline.js'),
      '// Generated by build.mjs: edgemetrics_wasm_bg.wasm as base64, for single-file bundles (inline.js).\n' +
        `export default ${JSON.stringify(readFileSync(wasmOut).toString('base64'))};\n`,
    );
  // The shipped JS is whitespace-minified (comments and indentation go; names and syntax stay, so
  // stack traces still name our functions): what a worker uploads is what the size budget measures.
  // The commented sources are js/src.
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const file = join(dir, f);
    writeFileSync(file, transformSync(readFileSync(file, 'utf8'), { minifyWhitespace: true, legalComments: 'none' }).code);
  }
  writeFileSync(join(dir, 'BUILD_INFO.json'), JSON.stringify({ features: feats ?? 'default', optLevel: optLevel ?? 'profile' }) + '\n');
  console.error(`built ${dir}: wasm ${readFileSync(wasmOut).length} bytes`);
}

rmSync(out, { recursive: true, force: true });
if (features !== null) {
  // One module with the listed cargo features (measuring; formats named as the JS layer knows them).
  const formats = ALL.filter((f) => features.split(',').includes(f));
  buildOne(out, features, formats, { integrations: true });
} else {
  buildOne(out, null, ALL, { integrations: true });
  for (const [name, formats] of Object.entries(VARIANTS)) buildOne(join(out, name), formats.join(','), formats, { integrations: false });
  // `edgemetrics/tail` (dist/tail/): every format plus the compact decoder (bindings feature
  // `decode`, about 10 KB gzip), which only a Tail Worker needs; producers keep smaller modules.
  buildOne(join(out, 'tail'), null, ALL, { integrations: false, tail: true });
}
// The licenses live at the repository root; npm packs only files under js/ (ignored by git there).
for (const f of ['LICENSE-MIT', 'LICENSE-APACHE']) copyFileSync(join(root, f), join(here, f));
