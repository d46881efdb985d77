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
//   node build.mjs --js-only               rebuild only the JS of an earlier full build (its wasm kept)
//   node build.mjs --js-minify whitespace|syntax|names|full   how the shipped JS is minified (measuring)
//
// Needs: cargo with the wasm32-unknown-unknown target, wasm-bindgen-cli matching the
// `wasm-bindgen` pin in bindings/Cargo.toml (on PATH, in ~/.cargo/bin, or $WASM_BINDGEN_BIN),
// and npm's binaryen (devDependency) for wasm-opt.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
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
const jsOnly = args.includes('--js-only');

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

// What goes into each entry directory. Every runtime entry (node.js, workerd.js, ...) ships as ONE
// bundled ES module (the JS layer, the wasm-bindgen glue and the entry's loader; the .wasm stays a
// file next to it): a fresh Node process loads 1 file instead of 14 (the ESM loader's cost is per
// module). The integrations are bundled per entry with the entry itself left as an import of the
// package (see integration.js): `edgemetrics/hono` is dist/otlp/hono.js, importing `edgemetrics`;
// `edgemetrics/all/hono` is dist/hono.js, importing `edgemetrics/all`. edgemetrics/otel loads no
// entry at all (symbols.js), so it ships once, at dist/otel.js. tail.js belongs to dist/tail/ only.
const RUNTIME_ENTRIES = ['node', 'workerd', 'deno', 'browser', 'edge-light', 'inline'];
const INTEGRATIONS = ['hono', 'vercel', 'workers'];
const TYPES = /\.d\.ts$/;
// The .wasm (a file next to the bundle, or the platform's module binding) and Node's built-ins
// stay imports; everything else is inside the bundle.
const EXTERNAL = ['node:*', './edgemetrics_wasm_bg.wasm', './edgemetrics_wasm_bg.wasm?module'];
// How the shipped JS is minified (`--js-minify`, for measuring): `whitespace` (comments and
// indentation), `syntax` (+ shorter syntax), `names` (+ identifiers renamed, with esbuild's
// keepNames so that functions and classes keep their `name`), `full` (identifiers renamed).
// Measured side by side (default entry, gzip -9): workerd.js as shipped (what wrangler uploads
// when it does not minify) whitespace 17,498 B, syntax 17,172, names 16,131, full 15,297; an app
// bundled and minified by esbuild with `Metrics` only: syntax 11,436, full 11,434, names 16,073
// (keepNames' `__name(...)` calls keep every function alive: nothing can be tree-shaken); the
// import in a fresh Node process the same within noise for all four (4.3-4.5 ms at load 4-5).
// `full` is the default. Its cost: stack frames inside the package read `at ft`, `at new P`
// instead of `at checkOptions`, `at new Metrics` (our errors still say what failed in their
// message, `name` and `code`; the commented sources are js/src; `--js-minify syntax` builds a
// package with readable frames).
const JS_MINIFY = arg('--js-minify', 'full');
const MINIFY = {
  minifyWhitespace: true,
  minifySyntax: JS_MINIFY !== 'whitespace',
  minifyIdentifiers: JS_MINIFY === 'names' || JS_MINIFY === 'full',
  keepNames: JS_MINIFY === 'names',
  legalComments: 'none',
};

/**
 * Parts of wasm-bindgen's glue that no entry of this package runs, cut before bundling (each one
 * must be found, so that a new wasm-bindgen version fails the build here instead of shipping them
 * again): every entry calls `initSync({ module })` with one object, never the deprecated bare
 * argument, so its check and warning go; `TextEncoder.encodeInto` exists in every runtime the
 * package supports (Node >= 18, workerd, Deno, Bun, browsers), so its polyfill goes.
 */
function trimGlue(src) {
  const cuts = [
    [
      /if \(module !== undefined\) \{\s*if \(Object\.getPrototypeOf\(module\) === Object\.prototype\) \{\s*\(\{module\} = module\)\s*\} else \{\s*console\.warn\('using deprecated parameters for `initSync\(\)`; pass a single object instead'\)\s*\}\s*\}/,
      'if (module !== undefined) ({ module } = module);',
    ],
    [/if \(!\('encodeInto' in cachedTextEncoder\)\) \{\s*cachedTextEncoder\.encodeInto = function \(arg, view\) \{[^}]*\};\s*\};\s*\}\n/, ''],
  ];
  for (const [re, by] of cuts) {
    if (!re.test(src)) throw new Error(`build.mjs: the wasm-bindgen glue changed; ${re} not found (see trimGlue)`);
    src = src.replace(re, by);
  }
  return src;
}

/** esbuild with the package's settings: ES2022 modules, every runtime (`platform: neutral`). */
async function bundle(entryPoints, options) {
  const r = await build({
    entryPoints,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: EXTERNAL,
    metafile: true,
    logLevel: 'error',
    ...MINIFY,
    ...options,
  });
  return r.metafile;
}

/** esbuild plugin: the layer's import of ./resource.js resolves to ./resource-workerd.js. */
const WORKERD_RESOURCE = {
  name: 'workerd-resource',
  setup(b) {
    b.onResolve({ filter: /^\.\/resource\.js$/ }, (a) =>
      a.importer.endsWith('resource-workerd.js') ? undefined : { path: join(a.resolveDir, 'resource-workerd.js') },
    );
  },
};

/** How the modules that only run in workerd (workerd.js, tail.js) are bundled (see buildOne). */
const WORKERD_ONLY = { plugins: [WORKERD_RESOURCE], define: { 'globalThis.Deno': 'undefined' } };

/**
 * Bundles the integrations of one entry from `stage` into `dir`: their import of ./integration.js
 * becomes an import of `entry` (the package's own name), so the app's bundler or runtime resolves
 * the entry with its own conditions. Fails the build when an integration would carry a copy of
 * the JS layer or the glue itself.
 */
async function bundleIntegrations(stage, dir, entry, names) {
  for (const name of names) {
    const meta = await bundle([join(stage, `${name}.js`)], {
      outfile: join(dir, `${name}.js`),
      plugins: [
        {
          name: 'integration-entry',
          setup(b) {
            b.onResolve({ filter: /^\.\/integration\.js$/ }, () => ({ path: entry, external: true }));
          },
        },
      ],
    });
    const inputs = Object.keys(meta.inputs).map((f) => f.split('/').pop());
    const layer = inputs.filter((f) => ['metrics.js', 'edgemetrics_wasm.js', 'wrappers.js', 'flush.js'].includes(f));
    if (layer.length) throw new Error(`build.mjs: ${name}.js for ${entry} would bundle ${layer.join(', ')} (must come from the entry)`);
  }
}

/**
 * Builds one wasm module with `feats` (null: the crate's default, every format) into `dir`, with
 * its glue and the JS layer; `formats` is what variant.js tells the JS layer the module has.
 */
async function buildOne(dir, feats, formats, { entry = null, integrations = false, tail = false, modules = false }) {
  const cargoArgs = ['build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'edgemetrics-wasm', '-j', process.env.CARGO_JOBS || '2'];
  if (tail) cargoArgs.push('--features', 'decode');
  else if (feats !== null) cargoArgs.push('--no-default-features', '--features', feats);
  // `Core.abiTable` (only test/abi.test.mjs asks for it) in the every-format module the tests import.
  else if (entry === 'edgemetrics/all') cargoArgs.push('--features', 'abi-table');
  // The glue as wasm-bindgen wrote it, kept under target/ for `--js-only` (rebuilds only the JS).
  const glueKeep = join(targetDir, 'edgemetrics-js-glue', relative(out, dir) || 'all', 'edgemetrics_wasm.js');
  const wasmOut = join(dir, 'edgemetrics_wasm_bg.wasm');
  const glue = join(dir, 'edgemetrics_wasm.js');
  if (jsOnly) {
    if (!existsSync(glueKeep) || !existsSync(wasmOut)) throw new Error(`build.mjs --js-only: no earlier build of ${dir}`);
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) rmSync(join(dir, f));
    rmSync(join(dir, 'modules'), { recursive: true, force: true });
    copyFileSync(glueKeep, glue);
  } else {
    run('cargo', cargoArgs, env);
    mkdirSync(dir, { recursive: true });
    // --target web: an ES module with `initSync` (used by every entry point) that runs unchanged in
    // workerd, Node, Deno, Bun and browsers.
    run(findWasmBindgen(), ['--target', 'web', '--no-typescript', '--out-dir', dir, '--out-name', 'edgemetrics_wasm', wasmIn]);
    // wasm-bindgen copies the Rust doc comments into the glue as JSDoc blocks: ~2 KB of the glue's
    // gzip size with no use at run time (the package's types are js/src/index.d.ts). Only whole-line
    // `/** ... */` blocks are removed; code is left byte for byte.
    writeFileSync(glue, readFileSync(glue, 'utf8').replace(/^[ \t]*\/\*\*(?:[^*]|\*(?!\/))*\*\/[ \t]*\n/gm, ''));

    const wasmOpt = join(here, 'node_modules', 'binaryen', 'bin', 'wasm-opt');
    // --converge repeats -Oz while it still shrinks the module; --strip-producers drops the toolchain
    // names; --low-memory-unused lets addresses fold into load/store offsets, valid because rustc's
    // wasm32 layout puts the stack (growing down from 128 KiB, set in bindings/build.rs) at the
    // bottom of memory and statics above it, so the low 1 KiB is only touched by a stack already
    // ~127 KiB deep. Measured with the module of all encoders: -580 B gzip. Other flag sets measured
    // on the OTLP-only module (43,568 B gzip with these): -Oz alone 44,076; -O3 43,910; adding
    // --gufa -Oz 43,569; --flatten --rereloop -Oz -Oz 43,543 (slower to build, kept out);
    // --monomorphize -Oz 43,787.
    // -ocimfs 20 (--one-caller-inline-max-function-size): a function with one caller is inlined
    // only when it has at most 20 instructions, not whatever its size (binaryen's default for
    // -Oz), so the push plan stays in its own functions instead of being folded into the exports
    // that call it. More bytes raw, fewer after gzip, measured side by side on the same input
    // (issue 12): OTLP-only 44,042 -> 42,917 B gzip (raw 94,425 -> 96,931), every format 75,137 ->
    // 72,500 B; other limits: 0 43,058, 10 42,955, 30 42,940, 50 43,228, 100 43,531.
    run(process.execPath, [
      wasmOpt,
      '-Oz',
      '-ocimfs',
      '20',
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
    mkdirSync(dirname(glueKeep), { recursive: true });
    copyFileSync(glue, glueKeep);
  }
  // The sources and the generated modules meet in a staging directory, bundled from there.
  const stage = join(dir, '.stage');
  mkdirSync(stage, { recursive: true });
  for (const f of readdirSync(join(here, 'src'))) copyFileSync(join(here, 'src', f), join(stage, f));
  writeFileSync(join(stage, 'edgemetrics_wasm.js'), trimGlue(readFileSync(glue, 'utf8')));
  // What the JS layer checks `options.format` against (a format this module lacks is a
  // FormatUnavailableError naming the entry that has it).
  writeFileSync(
    join(stage, 'variant.js'),
    "// Generated by build.mjs: the formats compiled into this directory's wasm module.\n" + `export const FORMATS = ${JSON.stringify(formats)};\n`,
  );
  // For the `edgemetrics/inline` entry (single-file bundles): the optimised wasm as base64.
  writeFileSync(
    join(stage, 'wasm-inline.js'),
    '// Generated by build.mjs: edgemetrics_wasm_bg.wasm as base64, for single-file bundles (inline.js).\n' +
      `export default ${JSON.stringify(readFileSync(wasmOut).toString('base64'))};\n`,
  );
  rmSync(glue);
  if (tail) {
    // edgemetrics/tail: tail.js with the workerd entry of this directory's module, one file.
    // A Tail Worker runs in workerd too: the same resource module and define as the workerd entry.
    await bundle([join(stage, 'tail.js')], { outfile: join(dir, 'tail.js'), ...WORKERD_ONLY });
    copyFileSync(join(here, 'src', 'tail.d.ts'), join(dir, 'tail.d.ts'));
  } else {
    await bundle(
      RUNTIME_ENTRIES.filter((e) => e !== 'workerd').map((e) => join(stage, `${e}.js`)),
      { outdir: dir },
    );
    // The workerd entry with resource-workerd.js in place of resource.js (the detection of the
    // other runtimes is dead code in workerd; see that file), and without env.js's Deno.env
    // lookup: workerd has no `Deno` global, so `globalThis.Deno` is `undefined` there by
    // definition. Measured on the default entry's workerd.js, gzip -9: 15,492 -> 15,123 B with
    // the resource swap, -86 B more with the define.
    const meta = await bundle([join(stage, 'workerd.js')], { outdir: dir, ...WORKERD_ONLY });
    // Its metafile (bytes per input module), for bench/js-bytes.mjs; kept under target/, not shipped.
    const metaOut = join(targetDir, 'edgemetrics-js-meta', relative(out, dir) || 'all', 'workerd.json');
    mkdirSync(dirname(metaOut), { recursive: true });
    writeFileSync(metaOut, JSON.stringify(meta));
    if (entry !== null) await bundleIntegrations(stage, dir, entry, INTEGRATIONS);
    if (integrations) {
      for (const f of readdirSync(join(here, 'src')).filter((f) => TYPES.test(f) && f !== 'tail.d.ts')) copyFileSync(join(here, 'src', f), join(dir, f));
      await bundle([join(stage, 'otel.js')], { outfile: join(dir, 'otel.js') });
    }
  }
  if (modules) {
    // The same JS layer as separate, unminified modules for the repository's own tests of internal
    // parts (the boundary table, wasm memory, the environment parser). Not part of the package.
    const m = join(dir, 'modules');
    mkdirSync(m, { recursive: true });
    for (const f of readdirSync(stage).filter((f) => f.endsWith('.js'))) copyFileSync(join(stage, f), join(m, f));
    copyFileSync(wasmOut, join(m, 'edgemetrics_wasm_bg.wasm'));
  }
  rmSync(stage, { recursive: true, force: true });
  writeFileSync(join(dir, 'BUILD_INFO.json'), JSON.stringify({ features: feats ?? 'default', optLevel: optLevel ?? 'profile' }) + '\n');
  console.error(`built ${dir}: wasm ${readFileSync(wasmOut).length} bytes`);
}

if (!jsOnly) rmSync(out, { recursive: true, force: true });
if (features !== null) {
  // One module with the listed cargo features (measuring; formats named as the JS layer knows them).
  const formats = ALL.filter((f) => features.split(',').includes(f));
  await buildOne(out, features, formats, { integrations: true });
} else {
  await buildOne(out, null, ALL, { entry: 'edgemetrics/all', integrations: true, modules: true });
  for (const [name, formats] of Object.entries(VARIANTS)) {
    const entry = name === 'otlp' ? 'edgemetrics' : `edgemetrics/${name}`;
    // dist/otlp/modules: the default entry's layer as modules, for the comparative bench's memory row.
    await buildOne(join(out, name), formats.join(','), formats, { entry, modules: name === 'otlp' });
  }
  // `edgemetrics/tail` (dist/tail/): every format plus the compact decoder (bindings feature
  // `decode`, about 10 KB gzip), which only a Tail Worker needs; producers keep smaller modules.
  await buildOne(join(out, 'tail'), null, ALL, { tail: true });
}
// The licenses live at the repository root; npm packs only files under js/ (ignored by git there).
for (const f of ['LICENSE-MIT', 'LICENSE-APACHE']) copyFileSync(join(root, f), join(here, f));
