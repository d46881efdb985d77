// Newcomer test, per-format entries in workerd: the default import and `edgemetrics/remote-write`
// in one worker (wrangler bundles each entry's own .wasm); one request pushes one OTLP batch and
// one remote-write batch to env.ENDPOINT, and answers with the entry a remote-write format on the
// default import is refused with.
import { Metrics, FormatUnavailableError } from 'edgemetrics';
import { Metrics as RwMetrics } from 'edgemetrics/remote-write';

export default {
  async fetch(_request, env, ctx) {
    let refused = '';
    try {
      new Metrics({ endpoint: env.ENDPOINT, format: 'remote-write' });
    } catch (e) {
      if (e instanceof FormatUnavailableError) refused = e.entry;
    }
    const otlp = new Metrics({ endpoint: env.ENDPOINT, serviceName: 'newcomer-entries' });
    const rw = new RwMetrics({ endpoint: env.ENDPOINT, format: 'remote-write', serviceName: 'newcomer-entries' });
    otlp.counter('jobs.processed').add(2, { queue: 'default' });
    rw.counter('jobs.processed').add(5, { queue: 'default' });
    ctx.waitUntil(Promise.all([otlp.flush(), rw.flush()]).then(() => (otlp.close(), rw.close())));
    return new Response(refused);
  },
};
