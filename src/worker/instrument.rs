//! One call around a workers-rs fetch handler: [`instrument`]. Why a module of its own: without
//! it every worker repeats the same code (a `thread_local!` holding the isolate's
//! [`WorkerMetrics`] in a `OnceCell`, `begin`, an elapsed-time measurement, the HTTP server
//! instruments and their attributes, `flush(&ctx)`). Here the library keeps the isolate's metrics
//! and records the stable HTTP server metrics itself:
//!
//! * `http.server.request.duration` (histogram, s, [`HTTP_DURATION_BUCKETS_SECONDS`]),
//! * `http.server.active_requests` (up-down counter, `{request}`),
//!
//! with `http.request.method` (`_OTHER` outside the registry), `url.scheme`, `http.route` (when
//! the handler names it with [`RequestMetrics::set_route`]: only the router knows the template),
//! `http.response.status_code`, and `error.type` (`worker::Error` when the handler returned an
//! error, which the wrapper returns unchanged; the status code for a 5xx response).
//!
//! Durations use `Date.now()`: in workerd it advances only across I/O, so they cover the time
//! spent waiting on I/O, not CPU time.
//!
//! ```no_run
//! use edgemetrics::worker::{instrument, Setup};
//! use edgemetrics::InstrumentOptions;
//! use worker::{event, Context, Env, Request, Response, Result};
//!
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
//!     instrument(req, env, ctx, |env| Setup::from_env(env, "checkout"), |req, _env, _ctx, m| async move {
//!         m.set_route("/");
//!         if let Ok(c) = m.counter("app.greetings", InstrumentOptions::unit("{greeting}")) {
//!             m.add(c, 1.0, &[("path", req.path().as_str().into())]);
//!         }
//!         Response::ok("hello")
//!     })
//!     .await
//! }
//! # fn main() {}
//! ```

use std::cell::{OnceCell, RefCell};
use std::future::Future;
use std::ops::Deref;
use std::rc::Rc;
use std::string::{String, ToString};
use std::thread_local;

use worker::wasm_bindgen::JsCast;
use worker::{Context, Env, Request, Response};

use super::{now_ms, Setup, WorkerMetrics};
use crate::registry::{Bound, Histogram, InstrumentId, InstrumentOptions, UpDownCounter};
use crate::{Attr, HTTP_DURATION_BUCKETS_SECONDS};

/// Service name of the metrics that replace an invalid configuration (they record and send
/// nothing).
const DISABLED_SERVICE: &str = "edgemetrics-disabled";

const KNOWN_METHODS: [&str; 10] =
    ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"];

/// The isolate's metrics and the HTTP server instruments, kept by the library.
struct Isolate {
    metrics: WorkerMetrics,
    http: Option<(Histogram, UpDownCounter)>,
}

thread_local! {
    // wasm isolates are single threaded: one per isolate.
    static ISOLATE: OnceCell<Isolate> = const { OnceCell::new() };
}

fn isolate<R>(env: &Env, setup: impl FnOnce(&Env) -> Setup, f: impl FnOnce(&Isolate) -> R) -> R {
    ISOLATE.with(|cell| {
        f(cell.get_or_init(|| {
            let metrics = match setup(env).build() {
                Ok(m) => m,
                Err(e) => {
                    worker::console_warn!("edgemetrics: metrics are off for this isolate: {e}");
                    // Records and sends nothing: the handler runs as before.
                    WorkerMetrics::off(DISABLED_SERVICE)
                }
            };
            let duration = metrics.histogram(
                "http.server.request.duration",
                InstrumentOptions::unit("s")
                    .description("Duration of HTTP server requests.")
                    .bounds(&HTTP_DURATION_BUCKETS_SECONDS),
            );
            let active = metrics.up_down_counter(
                "http.server.active_requests",
                InstrumentOptions::unit("{request}").description("Number of active HTTP server requests."),
            );
            let http = match (duration, active) {
                (Ok(d), Ok(a)) => Some((d, a)),
                _ => None,
            };
            Isolate { metrics, http }
        }))
    })
}

/// The isolate's [`WorkerMetrics`], built from `setup(env)` at the first call in the isolate
/// (later calls return the same metrics and do not call `setup`). An invalid configuration
/// gives metrics that record and send nothing, with one `console.warn`.
///
/// [`instrument`] uses the same metrics; call this for requests you do not want metered (a
/// health or debug route) or outside a fetch handler.
pub fn isolate_metrics(env: &Env, setup: impl FnOnce(&Env) -> Setup) -> WorkerMetrics {
    isolate(env, setup, |i| i.metrics.clone())
}

/// What the handler of [`instrument`] gets: the isolate's [`WorkerMetrics`] (by `Deref`: its
/// instruments and recording methods, `bind`, ...) and the request's route.
#[derive(Clone)]
pub struct RequestMetrics {
    metrics: WorkerMetrics,
    route: Rc<RefCell<Option<String>>>,
}

impl RequestMetrics {
    /// Names the route template of this request (`/api/items/:id`), recorded as `http.route`.
    pub fn set_route(&self, route: &str) {
        if let Ok(mut r) = self.route.try_borrow_mut() {
            *r = Some(route.to_string());
        }
    }
    /// The isolate's metrics (also reachable through `Deref`).
    pub fn metrics(&self) -> &WorkerMetrics {
        &self.metrics
    }
}

impl Deref for RequestMetrics {
    type Target = WorkerMetrics;
    fn deref(&self) -> &WorkerMetrics {
        &self.metrics
    }
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics").field("metrics", &self.metrics).finish()
    }
}

/// A second handle to the same JavaScript execution context (the handler gets one, the wrapper
/// keeps one for the flush).
fn share(ctx: &Context) -> Context {
    let js: &worker::worker_sys::Context = ctx.as_ref();
    let v: &worker::wasm_bindgen::JsValue = js.as_ref();
    Context::new(v.clone().unchecked_into())
}

/// Wraps a fetch handler: begins the isolate's window, runs `handler(req, env, ctx, metrics)`,
/// records the HTTP server metrics of the request, and flushes through `ctx.wait_until` (the
/// response is never delayed). The handler's result (response or error) is returned unchanged.
///
/// `setup` is called once per isolate, at the first request, with the Workers `env` (e.g.
/// `|env| Setup::from_env(env, "my-worker")`); every later call of `instrument` or
/// [`isolate_metrics`] in the isolate uses the same metrics.
pub async fn instrument<S, H, Fut>(
    req: Request,
    env: Env,
    ctx: Context,
    setup: S,
    handler: H,
) -> worker::Result<Response>
where
    S: FnOnce(&Env) -> Setup,
    H: FnOnce(Request, Env, Context, RequestMetrics) -> Fut,
    Fut: Future<Output = worker::Result<Response>>,
{
    let (metrics, http) = isolate(&env, setup, |i| (i.metrics.clone(), i.http));
    metrics.begin();
    let started = now_ms();
    let method = {
        let m = req.method();
        let m = m.as_ref();
        KNOWN_METHODS.iter().find(|k| **k == m).copied().unwrap_or("_OTHER")
    };
    // The runtime's URL string (WHATWG-serialised: the scheme is lowercase), not `req.url()`:
    // parsing it with the `url` crate linked that crate, IDNA and its Unicode tables into every
    // worker (~75 KB gzip of wasm) to read five bytes.
    let scheme = if req.inner().url().starts_with("https:") { "https" } else { "http" };
    let base: [Attr<'_>; 2] = [("http.request.method", method.into()), ("url.scheme", scheme.into())];
    if let Some((_, active)) = http {
        metrics.add_up_down(active, 1.0, &base);
    }
    let rm = RequestMetrics { metrics: metrics.clone(), route: Rc::new(RefCell::new(None)) };
    let result = handler(req, env, share(&ctx), rm.clone()).await;
    if let Some((duration, active)) = http {
        let (status, error) = match &result {
            Ok(resp) => {
                let s = resp.status_code();
                (s, if s >= 500 { Some(StatusText::Code(s)) } else { None })
            }
            Err(_) => (500, Some(StatusText::Error)),
        };
        let elapsed_s = now_ms().saturating_sub(started) as f64 / 1000.0;
        let route = rm.route.try_borrow().ok().and_then(|r| r.clone());
        let code_text;
        let mut attrs: std::vec::Vec<Attr<'_>> = std::vec::Vec::with_capacity(5);
        attrs.extend_from_slice(&base);
        if let Some(r) = route.as_deref() {
            attrs.push(("http.route", r.into()));
        }
        attrs.push(("http.response.status_code", i64::from(status).into()));
        match error {
            Some(StatusText::Error) => attrs.push(("error.type", "worker::Error".into())),
            Some(StatusText::Code(s)) => {
                code_text = s.to_string();
                attrs.push(("error.type", code_text.as_str().into()));
            }
            None => {}
        }
        metrics.record(duration, elapsed_s, &attrs);
        metrics.add_up_down(active, -1.0, &base);
    }
    metrics.flush(&ctx);
    result
}

enum StatusText {
    Error,
    Code(u16),
}

/// Bound series on the isolate's metrics: recording through a [`Bound`] does no attribute work.
impl WorkerMetrics {
    /// Binds `attrs` to `instrument` (any counter, up-down counter, gauge or histogram); see
    /// [`Registry::bind`](crate::Registry::bind). `None` for an instrument of another registry
    /// (counted as `invalid_handle`) or while the metrics are borrowed elsewhere.
    ///
    /// ```no_run
    /// # fn f(m: &edgemetrics::worker::WorkerMetrics) -> Result<(), edgemetrics::Error> {
    /// let hits = m.counter("cache.hits", edgemetrics::InstrumentOptions::unit("{hit}"))?;
    /// if let Some(b) = m.bind(hits, &[("cache", "kv".into())]) {
    ///     m.record_bound(b, 1.0);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn bind(&self, instrument: impl Into<InstrumentId>, attrs: &[Attr<'_>]) -> Option<Bound> {
        self.inner.try_borrow_mut().ok()?.registry.bind(instrument, attrs)
    }
    /// Records `value` through a bound series (add for counters, set for gauges, record for
    /// histograms), as [`Registry::record_bound`](crate::Registry::record_bound).
    pub fn record_bound(&self, handle: Bound, value: f64) {
        if let Ok(mut g) = self.inner.try_borrow_mut() {
            g.registry.record_bound(handle, value)
        }
    }
    /// Releases a [`bind`](Self::bind); see [`Registry::unbind`](crate::Registry::unbind).
    pub fn unbind(&self, handle: Bound) {
        if let Ok(mut g) = self.inner.try_borrow_mut() {
            g.registry.unbind(handle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricData;

    // Natively: `WorkerMetrics::off` and bound recording touch no JavaScript.
    #[test]
    fn bind_records_through_the_isolate_metrics_and_off_sends_nothing() {
        let m = WorkerMetrics::off("t");
        let hits = m.counter("cache.hits", InstrumentOptions::unit("{hit}")).unwrap();
        let b = m.bind(hits, &[("cache", "kv".into())]).expect("bound");
        for _ in 0..3 {
            m.record_bound(b, 1.5);
        }
        m.record_bound(b, f64::NAN); // refused and counted, never a panic
        assert_eq!(m.registry_stats().rejected_non_finite, 1);
        let batch = m.inner.borrow_mut().registry.collect(1_000_000_000);
        let metric = batch.metrics.iter().find(|x| &*x.name == "cache.hits").unwrap();
        let MetricData::Sum { points, .. } = &metric.data else { panic!("a sum") };
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].value, 4.5);
        let attrs: std::vec::Vec<_> =
            points[0].attributes.iter().map(|kv| (kv.key.as_str(), kv.value.clone())).collect();
        assert_eq!(attrs, [("cache", crate::Value::Str("kv".into()))]);
        m.unbind(b);
        // Off: no push configuration, nothing in flight, nothing carried.
        assert!(!m.in_flight());
        assert_eq!(m.carried_points(), 0);
        assert_eq!(m.push_stats(), Default::default());
    }

    // EMF has no HTTP delivery: the workers-rs host refuses it at configuration time (a typed
    // error) instead of POSTing log lines to an endpoint.
    #[cfg(feature = "emf")]
    #[test]
    fn emf_is_refused_by_the_workers_host() {
        let cfg = crate::push::Config::new("https://logs.example", crate::push::Format::Emf(Default::default()));
        let err = Setup::new("t").push(cfg).build().err().expect("refused");
        assert!(matches!(err, crate::Error::InvalidConfig { reason } if reason.contains("EMF")), "{err:?}");
    }

    // EDGEMETRICS_FORMAT=emf: an invalid variable for this host, with or without an endpoint
    // (EMF needs none: without the error, metrics would be off without a word).
    #[test]
    fn emf_from_the_environment_is_an_error_of_the_workers_host() {
        for endpoint in [None, Some("https://logs.example")] {
            let setup = Setup::from_lookup(
                |k| match k {
                    "EDGEMETRICS_FORMAT" => Some("emf".into()),
                    "EDGEMETRICS_ENDPOINT" => endpoint.map(Into::into),
                    _ => None,
                },
                "t",
            );
            let errors = setup.env_errors().to_vec();
            assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with("EDGEMETRICS_FORMAT emf") && e.contains("workers-rs host cannot deliver")),
                "{errors:?}"
            );
            assert!(matches!(setup.build(), Err(crate::Error::InvalidConfig { .. })), "{errors:?}");
        }
    }
}
