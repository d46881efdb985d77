// Newcomer test, AWS Lambda style: a handler bundled by esbuild into one CommonJS file. It
// imports `edgemetrics/inline` (the wasm inlined as base64), so the bundle needs no .wasm next to
// it; configured only by the environment (OTEL_* and the Lambda variables).
import { wrapLambda } from 'edgemetrics/inline';

export const handler = wrapLambda(async (event, context, metrics) => {
  metrics.counter('orders.created', { unit: '{order}' }).add(event.orders, { channel: 'web' });
  return { statusCode: 200, body: 'ok' };
});
