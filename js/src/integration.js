// What the integrations (hono.js, vercel.js, workers.js) use of the JS layer, as ONE internal
// export of every runtime entry. Why a file of its own: build.mjs builds each integration against
// one package entry (`edgemetrics/hono` against `edgemetrics`, `edgemetrics/remote-write/hono`
// against `edgemetrics/remote-write`, ...) by turning its import of this module into an import of
// that entry, so an app ships the JS layer and the wasm of the entry it uses, once, and no other.
// One plain object (no call around it) so that a bundler drops it, and what only it reaches, from
// an app that uses no integration.
import { checkSource, flushVia, metricsFor, runInvocation } from './wrappers.js';
import { autoOptions, httpEnd, httpStart, invocationEnd, invocationStart, triggerOfHandler } from './auto.js';

/** @internal */
export const INTEGRATION = {
  autoOptions,
  checkSource,
  flushVia,
  httpEnd,
  httpStart,
  invocationEnd,
  invocationStart,
  metricsFor,
  runInvocation,
  triggerOfHandler,
};
