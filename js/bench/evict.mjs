// What an isolate killed mid-window loses, per flush policy, in workerd (miniflare): K requests of
// 300 ms start 20 ms apart (they overlap); when half of them have answered, workerd is stopped
// (`dispose`, as an eviction would). Lost = values of invocations that completed (answered) but
// never reached the receiver; invocations still in flight are not counted (their handlers never
// finished). Why a script of its own: the bound the README states is measured here.
//
// Usage: node bench/evict.mjs [rounds=5]   (prints one JSON line per policy)
import { rmSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { bundle } from '../test/bundle.mjs';
import { bundledWorker, decodeOtlp, startReceiver } from '../test/helpers.mjs';

const ROUNDS = Number(process.argv[2] ?? 5);
const K = 20;
const { dir, outfile } = await bundle('policy-worker.mjs');
for (const policy of ['invocation', 'adaptive']) {
  const out = { policy, rounds: ROUNDS, requestsPerRound: K, completed: 0, received: 0, lost: 0, pushes: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const rx = await startReceiver();
    const mf = new Miniflare({ ...bundledWorker(dir, outfile), bindings: { ENDPOINT: rx.url, POLICY: JSON.stringify(policy) } });
    await mf.ready;
    let completed = 0;
    let killed = false;
    const done = [];
    for (let i = 0; i < K; i++) {
      done.push(
        mf.dispatchFetch('http://localhost/?ms=300').then(
          (res) => res.text().then(() => (killed ? null : completed++)),
          () => null,
        ),
      );
      await new Promise((res) => setTimeout(res, 20));
    }
    while (completed < K / 2) await new Promise((res) => setTimeout(res, 5));
    killed = true;
    const atKill = completed;
    await mf.dispose();
    await Promise.allSettled(done);
    await new Promise((res) => setTimeout(res, 300));
    const received = rx.requests
      .map(decodeOtlp)
      .flatMap((d) => d.metrics['policy.hits']?.points ?? [])
      .reduce((s, p) => s + p.value, 0);
    out.completed += atKill;
    out.received += received;
    out.lost += Math.max(0, atKill - received);
    out.pushes += rx.requests.length;
    await rx.close();
  }
  console.log(JSON.stringify(out));
}
rmSync(dir, { recursive: true, force: true });
