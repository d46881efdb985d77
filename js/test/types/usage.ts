// Compiled with `tsc --noEmit` by test/types.test.mjs: the declarations accept the documented
// usage and reject obvious misuse (the @ts-expect-error lines must be errors).
import { Metrics, startPeriodicFlush, withMetrics, wrapLambda, type FlushResult } from 'edgemetrics';

const metrics = new Metrics({ endpoint: 'https://otlp.example/', format: 'otlp-json', limits: { cardinality: 100 } });
const c = metrics.counter('http.requests', { unit: '{request}' });
c.add(1, { route: '/a', status: 200, ok: true });
const bound = c.bind({ route: '/b' });
bound.add(2);
metrics.histogram('lat', { bounds: [1, 10] }).record(3);
metrics.gauge('g').set(1);
metrics.upDownCounter('q').add(-1);
const r: Promise<FlushResult> = metrics.flush({ deadline: Date.now() + 1000 });
void new Metrics({ endpoint: 'http://x', retry: { maxAttempts: 2 } });
void r.then((x) => x.carried + x.dropped);
void r;
const logged = new Metrics({
  endpoint: 'http://x',
  onFlush: (res) => {
    if (res.error) console.warn(res.error, res.status);
  },
});
void (logged.lastFlush?.pending === true && logged.flushStats.stale + logged.instanceId.length);
void wrapLambda(async () => 1, logged, { flushBudgetMs: 500 });
// @ts-expect-error onFlush is a function
new Metrics({ endpoint: 'x', onFlush: 'log' });
export default withMetrics<{ URL: string }>(
  {
    async fetch(req, env, ctx, m) {
      m.counter('x').add(1);
      return new Response(env.URL);
    },
  },
  (env) => ({ endpoint: env.URL }),
);
export const handler = wrapLambda(async (event: { n: number }, context: { getRemainingTimeInMillis(): number }) => event.n, metrics);
// @ts-expect-error unknown format
new Metrics({ endpoint: 'x', format: 'xml' });
// @ts-expect-error counters take numbers
c.add('1');
void new Metrics({ endpoint: 'http://x', flush: 'invocation' });
void new Metrics({ endpoint: 'http://x', flush: { everyInvocations: 10, maxAgeMs: 5000, whenIdle: false } });
// @ts-expect-error unknown policy name
new Metrics({ endpoint: 'x', flush: 'hourly' });
metrics.begin();
void metrics.end().then((x) => x.deferred === true || x.sent);
void metrics.inFlight;
const stopFlushing: () => Promise<FlushResult> = startPeriodicFlush(metrics, { intervalMs: 5000 });
void stopFlushing;
