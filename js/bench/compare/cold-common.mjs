// What the two cold-path benches (cold.mjs, cold-phases.mjs) share: their flag parsing, the check that an --against
// dist is loaded as the published package is (an ES module package), and the receiver on
// 127.0.0.1 that answers every push with 200.
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Removes `name` and its value from `argv` and returns the value (null when absent). */
export function takeFlag(argv, name) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv.splice(i, 2)[1] : null;
}

/**
 * Refuses an --against DIR with no package.json of `"type": "module"` at or above it: Node would
 * first try each file as CommonJS (about 1 M instructions for the default entry under callgrind)
 * before loading it as ES module, which the published package does not pay. Returns DIR made
 * absolute (the children import from it by file URL), or null for no DIR.
 */
export function checkDist(dir) {
  if (dir === null) return null;
  for (let d = resolve(dir); ; d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      if (JSON.parse(readFileSync(p, 'utf8')).type === 'module') return resolve(dir);
      break;
    }
    if (dirname(d) === d) break;
  }
  throw new Error(`--against ${dir}: no package.json with "type": "module" at or above it; add one (echo '{"type":"module"}' > ${dir}/package.json)`);
}

/** A receiver on 127.0.0.1 that answers every request with 200 `{}`; resolves to { server, url }. */
export async function startSink() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}
