// OpenTelemetry semantic-convention helpers that every example uses: the bucket boundaries the
// HTTP conventions advise for `http.server.request.duration` (seconds).

/** Advised explicit bucket boundaries for HTTP durations in seconds (OpenTelemetry HTTP semantic conventions). */
export const HTTP_DURATION_BUCKETS_SECONDS = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
