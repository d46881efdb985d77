// Newcomer test, per-format entries (Node, and workerd via entries-worker.js): the default import
// (`edgemetrics`, OTLP) and `edgemetrics/remote-write` side by side in one program, each with its
// own wasm module, each pushing one batch; a format the default entry lacks is refused with a
// FormatUnavailableError naming the entry to import. Exits non-zero unless both were sent.
import { Metrics, FormatUnavailableError } from 'edgemetrics';
import { Metrics as RwMetrics } from 'edgemetrics/remote-write';

const endpoint = process.argv[2];
let refused = '';
try {
  new Metrics({ endpoint, format: 'remote-write' });
} catch (e) {
  if (e instanceof FormatUnavailableError) refused = e.entry;
}
const otlp = new Metrics({ endpoint, serviceName: 'newcomer-entries' });
const rw = new RwMetrics({ endpoint, format: 'remote-write', serviceName: 'newcomer-entries' });
otlp.counter('jobs.processed').add(2, { queue: 'default' });
rw.counter('jobs.processed').add(5, { queue: 'default' });
const [a, b] = [await otlp.flush(), await rw.flush()];
otlp.close();
rw.close();
console.log(JSON.stringify({ refused, otlp: a, rw: b }));
process.exit(a.sent && b.sent && refused === 'edgemetrics/remote-write' ? 0 : 1);
