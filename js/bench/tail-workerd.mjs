// Requests and bytes per N invocations in local workerd (miniflare), Tail Worker mode against
// direct push, with the producer and Tail Worker of test/tail.test.mjs (window 10 tail events,
// OTLP/protobuf to a receiver on 127.0.0.1). Counts, not timings: the figures do not depend on the
// machine's load. Prints one JSON line.
//
// Usage: node bench/tail-workerd.mjs [invocations=1000]
import { rmSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { join } from 'node:path';
import { bundle, dist } from '../test/bundle.mjs';
import { bundledWorker, startReceiver, waitFor } from '../test/helpers.mjs';

const N = Number(process.argv[2] ?? 1000);
const p = await bundle('tail-producer.mjs');
const c = await bundle('tail-consumer.mjs', { wasmDir: join(dist, 'tail') });
const out = { invocations: N, window: 10 };
for (const mode of ['tail', 'direct']) {
  const receiver = await startReceiver();
  const mf = new Miniflare({
    workers: [
      { ...bundledWorker(p.dir, p.outfile), name: 'producer', bindings: { MODE: mode, ENDPOINT: receiver.url }, tails: ['consumer'] },
      { ...bundledWorker(c.dir, c.outfile), name: 'consumer', bindings: { ENDPOINT: receiver.url } },
    ],
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  await mf.ready;
  for (let i = 0; i < N; i++) await (await mf.dispatchFetch(`http://localhost/?i=${i}`)).text();
  const expect = mode === 'tail' ? Math.floor(N / 10) : N;
  await waitFor(() => receiver.requests.length >= expect, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 500));
  out[mode] = { requests: receiver.requests.length, bodyBytes: receiver.requests.reduce((a, r) => a + r.body.length, 0) };
  await mf.dispose();
  await receiver.close();
}
rmSync(p.dir, { recursive: true, force: true });
rmSync(c.dir, { recursive: true, force: true });
console.log(JSON.stringify(out));
