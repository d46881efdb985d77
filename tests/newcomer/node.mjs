// Newcomer test, Node and Bun: a plain script with explicit options (the endpoint as argument),
// recording a counter and flushing once; exits non-zero unless the flush reports the batch sent.
import { Metrics } from 'edgemetrics';

const metrics = new Metrics({ endpoint: process.argv[2], serviceName: 'newcomer-node' });
const jobs = metrics.counter('jobs.processed', { unit: '{job}' });
metrics.begin();
jobs.add(2, { queue: 'default' });
jobs.add(1, { queue: 'urgent' });
const result = await metrics.flush();
console.log(JSON.stringify(result));
process.exit(result.sent ? 0 : 1);
