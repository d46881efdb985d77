// Type-checks the documented usage of edgemetrics/otel, edgemetrics/hono and edgemetrics/vercel
// against the real @opentelemetry/api and hono types; lines marked @ts-expect-error must fail.
import { metrics, type MeterProvider } from '@opentelemetry/api';
import { Hono } from 'hono';
import { Metrics } from 'edgemetrics';
import { EdgeMeterProvider } from 'edgemetrics/otel';
import { metricsMiddleware, HTTP_DURATION_BUCKETS } from 'edgemetrics/hono';
import { withWaitUntil } from 'edgemetrics/vercel';

const m = new Metrics({ endpoint: 'http://127.0.0.1:4318' });
const provider: MeterProvider = new EdgeMeterProvider(m, {});
metrics.setGlobalMeterProvider(provider);
provider
  .getMeter('lib', '1.0.0')
  .createHistogram('x', { advice: { explicitBucketBoundaries: [1, 2] } })
  .record(1);
// @ts-expect-error unknown option
new EdgeMeterProvider(m, { scope: true });

type Env = { OTLP_ENDPOINT: string };
const app = new Hono<{ Bindings: Env; Variables: { metrics: Metrics } }>();
app.use(metricsMiddleware<Env>((env) => ({ endpoint: env.OTLP_ENDPOINT })));
app.get('/', (c) => {
  c.get('metrics').counter('hits').add(1);
  return c.text(String(HTTP_DURATION_BUCKETS.length));
});

declare function waitUntil(p: Promise<unknown>): void;
const handler = withWaitUntil(
  async (request: Request, metrics: Metrics) => {
    metrics.counter('n').add(1);
    return new Response('ok');
  },
  m,
  { waitUntil },
);
const r: Promise<Response> = handler(new Request('http://x/'));
void r;

import { instrumentDurableObject, instrumentEntrypoint } from 'edgemetrics/workers';
class Obj {
  constructor(
    public ctx: unknown,
    public env: Env,
  ) {}
  async inc(n: number) {
    return n;
  }
}
const Counter = instrumentDurableObject<Obj, Env>(Obj, (env) => ({ endpoint: env.OTLP_ENDPOINT }));
declare const counter: InstanceType<typeof Counter>;
const n: Promise<number> = counter.inc(1);
counter.metrics.counter('c').add(1);
void n;
void instrumentEntrypoint(Obj, m);

import { pagesFunction } from 'edgemetrics/workers';
type PagesContext = { env: Env; waitUntil(p: Promise<unknown>): void; params: { id: string }; data: Record<string, unknown> };
export const onRequestGet = pagesFunction(
  async (context: PagesContext, metrics) => {
    metrics.counter('pages').add(1, { id: context.params.id });
    return new Response('ok');
  },
  (env) => ({ endpoint: env.OTLP_ENDPOINT }),
);

// The integrations of the other entries have the same types.
import { metricsMiddleware as rwMiddleware } from 'edgemetrics/remote-write/hono';
import { withWaitUntil as allWithWaitUntil } from 'edgemetrics/all/vercel';
import { pagesFunction as compactPages } from 'edgemetrics/compact/workers';
app.use(rwMiddleware<Env>((env) => ({ endpoint: env.OTLP_ENDPOINT, format: 'remote-write' })));
void allWithWaitUntil(async () => new Response('ok'), { endpoint: 'http://127.0.0.1:4318', format: 'otlp-json' }, { waitUntil });
void compactPages(async () => new Response('ok'), { endpoint: 'http://127.0.0.1:4318', format: 'compact' });
