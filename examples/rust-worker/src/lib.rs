//! Example workers-rs worker instrumented with edgemetrics.
//!
//! Routes: `GET /`, `GET|POST /api/items`, `GET /api/items/:id` (ids 1–3, else 404),
//! `GET /slow` (waits `SLOW_MS`, default 120 ms), `GET /__metrics_debug` (the isolate's push
//! counters as JSON; not metered), anything else 404.
//!
//! Per request it records the stable OpenTelemetry HTTP server metrics:
//! `http.server.request.duration` (histogram, seconds, the advised buckets; its count is the
//! request count), `http.server.response.body.size` (histogram, bytes) and
//! `http.server.active_requests` (up-down counter), with `http.route`, `http.request.method` and
//! `http.response.status_code`,
//! then pushes one batch from `ctx.wait_until`. Endpoint and format come from the wrangler vars
//! (`OTEL_*` / `EDGEMETRICS_*`, see `edgemetrics::env` and `edgemetrics::worker::Setup::from_env`).
//!
//! Built without the `metrics` feature it is the same router with no metrics: the baseline for
//! the size and latency figures.

use std::time::Duration;
use worker::{event, Context, Delay, Env, Request, Response, Result};

#[cfg(feature = "metrics")]
mod metrics {
    use std::cell::OnceCell;

    use edgemetrics::worker::{Setup, WorkerMetrics};
    use edgemetrics::{Histogram, InstrumentOptions, UpDownCounter, HTTP_DURATION_BUCKETS_SECONDS};
    use worker::Env;

    /// The isolate's metrics and instruments.
    pub struct App {
        pub metrics: WorkerMetrics,
        pub duration: Histogram,
        pub size: Histogram,
        pub active: UpDownCounter,
    }

    thread_local! {
        // `None` when the configuration is invalid: metrics are off, the worker keeps serving.
        static APP: OnceCell<Option<App>> = const { OnceCell::new() };
    }

    fn build(env: &Env) -> Option<App> {
        let metrics = match Setup::from_env(env, "edgemetrics-rust-worker").build() {
            Ok(m) => m,
            Err(e) => {
                worker::console_warn!("edgemetrics disabled: {e}");
                return None;
            }
        };
        let duration = metrics
            .histogram(
                "http.server.request.duration",
                InstrumentOptions::unit("s")
                    .description("Duration of HTTP server requests")
                    .bounds(&HTTP_DURATION_BUCKETS_SECONDS),
            )
            .ok()?;
        let size = metrics
            .histogram(
                "http.server.response.body.size",
                InstrumentOptions::unit("By")
                    .description("Response body size")
                    .bounds(&[16.0, 64.0, 256.0, 1024.0, 4096.0]),
            )
            .ok()?;
        let active =
            metrics.up_down_counter("http.server.active_requests", InstrumentOptions::unit("{request}")).ok()?;
        Some(App { metrics, duration, size, active })
    }

    /// Runs `f` with the isolate's metrics (built on first use), if they are on.
    pub fn with<R>(env: &Env, f: impl FnOnce(&App) -> R) -> Option<R> {
        APP.with(|cell| cell.get_or_init(|| build(env)).as_ref().map(f))
    }
}

/// Route template, status and body of one request.
async fn route(req: &Request, env: &Env) -> (&'static str, u16, String) {
    let path = req.path();
    let method = req.method();
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_ref(), segs.as_slice()) {
        ("GET", []) => ("/", 200, "edgemetrics example worker\n".into()),
        ("GET", ["api", "items"]) => {
            ("/api/items", 200, r#"[{"id":1,"name":"apple"},{"id":2,"name":"pear"},{"id":3,"name":"fig"}]"#.into())
        }
        ("POST", ["api", "items"]) => ("/api/items", 201, r#"{"id":4,"created":true}"#.into()),
        ("GET", ["api", "items", id]) => match *id {
            "1" => ("/api/items/:id", 200, r#"{"id":1,"name":"apple"}"#.into()),
            "2" => ("/api/items/:id", 200, r#"{"id":2,"name":"pear"}"#.into()),
            "3" => ("/api/items/:id", 200, r#"{"id":3,"name":"fig"}"#.into()),
            _ => ("/api/items/:id", 404, r#"{"error":"no such item"}"#.into()),
        },
        ("GET", ["slow"]) => {
            let ms = env.var("SLOW_MS").ok().and_then(|v| v.to_string().parse().ok()).unwrap_or(120u64);
            Delay::from(Duration::from_millis(ms)).await;
            ("/slow", 200, "slow\n".into())
        }
        _ => ("unmatched", 404, "not found\n".into()),
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    #[cfg(feature = "metrics")]
    if req.path() == "/__metrics_debug" {
        let body = metrics::with(&env, |app| debug_json(&app.metrics)).unwrap_or_else(|| "{\"enabled\":false}".into());
        return Ok(Response::ok(body)?.with_headers([("content-type", "application/json")].iter().collect()));
    }
    #[cfg(feature = "metrics")]
    let started = metrics::with(&env, |app| {
        app.metrics.begin();
        app.metrics.add_up_down(app.active, 1.0, &[]);
        edgemetrics::worker::now_ms()
    });
    let method = req.method().to_string();

    let (route, status, body) = route(&req, &env).await;
    let len = body.len();
    let resp = Response::ok(body)?.with_status(status);

    #[cfg(feature = "metrics")]
    metrics::with(&env, |app| {
        let m = &app.metrics;
        let elapsed_s = edgemetrics::worker::now_ms().saturating_sub(started.unwrap_or(0)) as f64 / 1000.0;
        let attrs = [
            ("http.route", route.into()),
            ("http.request.method", method.as_str().into()),
            ("http.response.status_code", i64::from(status).into()),
        ];
        m.record(app.duration, elapsed_s, &attrs);
        m.record(app.size, len as f64, &attrs[..1]);
        m.add_up_down(app.active, -1.0, &[]);
        m.flush(&ctx);
    });
    #[cfg(not(feature = "metrics"))]
    let _ = (&ctx, route, method, len);
    Ok(resp)
}

#[cfg(feature = "metrics")]
fn debug_json(m: &edgemetrics::worker::WorkerMetrics) -> String {
    use edgemetrics::push::Reason;
    let p = m.push_stats();
    let h = m.host_stats();
    let r = m.last_report();
    let reasons =
        Reason::ALL.iter().map(|r| format!("\"{}\":{}", r.as_str(), p.failures(*r))).collect::<Vec<_>>().join(",");
    format!(
        "{{\"enabled\":true,\"instance_id\":\"{}\",\"attempts\":{},\"retries\":{},\"delivered\":{},\"failures\":{{{}}},\
         \"dropped_points\":{},\"carried_points_total\":{},\"carried_points_now\":{},\"last_status\":{},\
         \"flushes\":{},\"tasks\":{},\"coalesced\":{},\"follow_ups\":{},\"stale_flights\":{},\"in_flight\":{},\
         \"last_outcome\":\"{}\",\"last_error\":\"{}\"}}",
        m.instance_id(),
        p.attempts,
        p.retries,
        p.delivered,
        reasons,
        p.dropped_total(),
        p.carried,
        m.carried_points(),
        p.last_status.map_or("null".to_string(), |s| s.to_string()),
        h.flushes,
        h.tasks,
        h.coalesced,
        h.follow_ups,
        h.stale_flights,
        m.in_flight(),
        r.as_ref().map_or("none", |r| if r.delivered() { "delivered" } else { "failed" }),
        r.as_ref().and_then(|r| r.last_error).map_or("", |e| e.as_str()),
    )
}
