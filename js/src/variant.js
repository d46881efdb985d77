// The formats compiled into the wasm module next to this file. build.mjs overwrites this file in
// every entry directory of dist/ with what it built (dist/otlp: OTLP protobuf only, ...); this
// source copy lists every format, as the crate's default build has them all.
export const FORMATS = ['otlp-proto', 'otlp-json', 'remote-write', 'pushgateway', 'compact', 'emf'];
