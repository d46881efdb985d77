// The hand-written declarations (src/index.d.ts) type-check the documented usage with tsc, via
// the package's own exports map ("types" condition).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

test('index.d.ts accepts the documented usage and rejects misuse (tsc --noEmit)', () => {
  const r = spawnSync(process.execPath, [join(pkg, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(pkg, 'test', 'types')], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('withMetrics(...) type-checks as ExportedHandler<Env> of @cloudflare/workers-types (tsc --noEmit)', () => {
  const r = spawnSync(process.execPath, [join(pkg, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(pkg, 'test', 'types', 'workers')], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
