// Newcomer test: invokes the bundled Lambda handler (index.js, alone in its directory) the way
// the Lambda runtime does, with a context that reports the remaining time.
const { handler } = require('./index.js');

handler({ orders: 4 }, { getRemainingTimeInMillis: () => 3000 }).then(
  (r) => process.exit(r && r.statusCode === 200 ? 0 : 1),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
