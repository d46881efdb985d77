// Newcomer test, Deno: wrapLambda with no options, configured by the environment it may read
// (run with --allow-env for a few names only: the others must read as unset, never throw).
import { wrapLambda } from 'edgemetrics';

const handler = wrapLambda(async (event, context, metrics) => {
  metrics.counter('jobs.processed', { unit: '{job}' }).add(event.n);
  return 'done';
});
const out = await handler({ n: 2 }, undefined);
if (out !== 'done' || handler.metrics === undefined) Deno.exit(1);
