// edgemetrics in a Node function handler (AWS Lambda style, via wrapLambda). For the demo a
// receiver listens on 127.0.0.1 and the handler is invoked three times; each invocation pushes
// exactly one OTLP/HTTP protobuf batch, awaited before the handler's result is returned.
import http from 'node:http';
import { Metrics, wrapLambda } from 'edgemetrics';

const receiver = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => {
    console.log(`receiver: ${req.method} ${req.url} ${req.headers['content-type']} ${n} bytes, batch ${req.headers['x-edgemetrics-batch-id']}`);
    res.end();
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));

const metrics = new Metrics({ endpoint: `http://127.0.0.1:${receiver.address().port}`, format: 'otlp-proto', serviceName: 'node-example' });
const orders = metrics.counter('orders.placed', { unit: '{order}' });
const amount = metrics.histogram('orders.amount', { unit: 'EUR', bounds: [10, 50, 100, 500] });

export const handler = wrapLambda(async (event) => {
  orders.add(1, { country: event.country });
  amount.record(event.amount, { country: event.country });
  return { statusCode: 200 };
}, metrics);

// Pretend to be the Lambda runtime: three invocations with a 3 s budget each.
for (const event of [{ country: 'FR', amount: 42 }, { country: 'DE', amount: 120 }, { country: 'FR', amount: 7 }]) {
  const result = await handler(event, { getRemainingTimeInMillis: () => 3000 });
  console.log('handler returned', JSON.stringify(result));
}
receiver.close();
