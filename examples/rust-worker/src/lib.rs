//! Example workers-rs worker instrumented with edgemetrics.
//!
//! Routes: `GET /`, `GET|POST /api/items`, `GET /api/items/:id` (ids 1–3, else 404),
//! `GET /slow` (waits `SLOW_MS`, default 120 ms), `GET /__metrics_debug` (the isolate's push
//! counters as JSON; not metered), anything else 404.
//!
//! `edgemetrics::worker::instrument` records the stable OpenTelemetry HTTP server metrics of
//! every request (`http.server.request.duration` in seconds with the advised buckets, its count
//! being the request count; `http.server.active_requests`) with the route the router names, and
//! pushes one batch from `ctx.wait_until`; the handler adds `http.server.response.body.size`
//! (bytes) through the registry. Endpoint and format come from the wrangler vars (`OTEL_*` /
//! `EDGEMETRICS_*`, see `edgemetrics::env` and `edgemetrics::worker::Setup::from_env`).
//!
//! Built without the `metrics` feature it is the same router with no metrics: the baseline for
//! the size and latency figures.

use std::time::Duration;
use worker::{event, Context, Delay, Env, Request, Response, Result};

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

#[cfg(feature = "metrics")]
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    use edgemetrics::worker::{instrument, isolate_metrics, Setup};
    use edgemetrics::InstrumentOptions;
    let setup = |env: &Env| Setup::from_env(env, "edgemetrics-rust-worker");
    if req.path() == "/__metrics_debug" {
        let body = debug_json(&isolate_metrics(&env, setup));
        return Ok(Response::ok(body)?.with_headers([("content-type", "application/json")].iter().collect()));
    }
    instrument(req, env, ctx, setup, |req, env, _ctx, m| async move {
        let (route, status, body) = route(&req, &env).await;
        m.set_route(route);
        let size = InstrumentOptions::unit("By")
            .description("Response body size")
            .bounds(&[16.0, 64.0, 256.0, 1024.0, 4096.0]);
        if let Ok(h) = m.histogram("http.server.response.body.size", size) {
            m.record(h, body.len() as f64, &[("http.route", route.into())]);
        }
        Ok(Response::ok(body)?.with_status(status))
    })
    .await
}

#[cfg(not(feature = "metrics"))]
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let (_, status, body) = route(&req, &env).await;
    Ok(Response::ok(body)?.with_status(status))
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
