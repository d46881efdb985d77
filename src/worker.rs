//! workers-rs host (feature `worker`): record during a request, push one batch at its end with
//! the runtime's `fetch` inside [`Context::wait_until`], so the response is never delayed.
//!
//! Most fetch handlers need only [`instrument`]: one call that keeps the isolate's metrics,
//! records the HTTP server metrics and flushes. Below it, by hand:
//! one [`WorkerMetrics`] lives per isolate (keep it in a `thread_local!`: wasm isolates are single
//! threaded). It owns the [`Registry`] and the delivery state machine ([`Pusher`]); this module
//! only supplies what the core cannot have: the clock (`Date.now()`), entropy
//! (`getrandom`, i.e. `crypto.getRandomValues`), timers ([`worker::Delay`]) and the network (the runtime's `fetch`).
//!
//! ```no_run
//! use std::cell::OnceCell;
//! use edgemetrics::worker::{Setup, WorkerMetrics};
//! use edgemetrics::{Histogram, InstrumentOptions, HTTP_DURATION_BUCKETS_SECONDS};
//! use worker::{event, Context, Env, Request, Response, Result};
//!
//! struct App { metrics: WorkerMetrics, duration: Histogram }
//!
//! thread_local! { static APP: OnceCell<Option<App>> = const { OnceCell::new() }; }
//!
//! fn app(env: &Env) -> Option<App> {
//!     // A bad metrics configuration disables metrics; it never fails the request.
//!     let metrics = Setup::from_env(env, "checkout").build().ok()?;
//!     let duration = metrics
//!         .histogram("http.server.request.duration", InstrumentOptions::unit("s").bounds(&HTTP_DURATION_BUCKETS_SECONDS))
//!         .ok()?;
//!     Some(App { metrics, duration })
//! }
//!
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
//!     let resp = Response::ok("hello")?;
//!     APP.with(|cell| {
//!         if let Some(app) = cell.get_or_init(|| app(&env)) {
//!             app.metrics.begin();
//!             let attrs = [("http.request.method", "GET".into()), ("http.route", "/".into())];
//!             app.metrics.record(app.duration, 0.002, &attrs);
//!             app.metrics.flush(&ctx); // spawns the push with ctx.wait_until, returns at once
//!         }
//!     });
//!     Ok(resp)
//! }
//! # fn main() {}
//! ```
//!
//! # Concurrency inside an isolate
//!
//! This host follows the [host-loop contract](crate::push::host).
//!
//! workerd may run several requests of one isolate concurrently. The [`Pusher`] delivers one batch
//! at a time, so a [`flush`](WorkerMetrics::flush) that finds a delivery in flight does not start
//! a second one: its data stays in the registry and, when the delivery settles, the latest such
//! flush sends everything recorded meanwhile in one follow-up batch from its own `wait_until`,
//! within what is left of its budget ([`Flush::Coalesced`]). Every invocation's `wait_until` work
//! therefore ends within the budget of its own flush, however busy the isolate is. Each invocation therefore causes at most one
//! batch (retries of that batch aside), and under load several invocations share one.
//! A delivery whose task was cancelled by the runtime (its `waitUntil` cut short) is detected by
//! age and abandoned; the pusher carries its data into the next batch.
//!
//! # Failures
//!
//! Nothing here returns an error to the request path after [`Setup::build`]: push failures are
//! counted by the pusher ([`WorkerMetrics::push_stats`]) and reported as `edgemetrics.sdk.*`
//! self-metrics in the next batch that gets through.

use std::cell::RefCell;
use std::rc::Rc;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use worker::js_sys::{self, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Context, Delay, Env};

use crate::env::{EnvConfig, FormatName};
use crate::model::{SdkStats, Temporality};
use crate::push::{
    self, Action, FlushPolicy, Protocol, PushStats, Pusher, Report, TransportError, Wire, DEFAULT_MAX_AGE_MS,
};
use crate::registry::{Config, Counter, Gauge, Histogram, InstrumentOptions, Registry, UpDownCounter};
use crate::{Attr, Error};

mod instrument;
pub use instrument::{instrument, isolate_metrics, RequestMetrics};

#[cfg(not(any(
    feature = "otlp",
    feature = "otlp-json",
    feature = "remote-write",
    feature = "pushgateway",
    feature = "compact"
)))]
compile_error!(
    "feature `worker` needs at least one format feature: otlp, otlp-json, remote-write, pushgateway or compact"
);

/// Default time a delivery (all its attempts) may take after the response was sent.
pub const DEFAULT_BUDGET_MS: u64 = 10_000;

/// How often a waiting flush checks whether the delivery in flight has settled.
const FOLLOW_UP_POLL_MS: u64 = 20;

/// Largest response body read from a receiver (OTLP partial success is tiny).
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// What [`WorkerMetrics`] is built from: the registry configuration, where to push, and the
/// time budget of a delivery.
///
/// ```no_run
/// use edgemetrics::push::{Config as PushConfig, Format};
/// use edgemetrics::worker::Setup;
/// use edgemetrics::Temporality;
///
/// let metrics = Setup::new("checkout")
///     .push(PushConfig::new("https://otlp.example.com", Format::OtlpProtobuf { gzip: false }).bearer("t0k3n"))
///     .budget_ms(5_000)
///     .build()
///     .expect("valid metrics configuration");
/// # let _ = (metrics, Temporality::Delta);
/// ```
#[derive(Debug, Clone)]
pub struct Setup {
    /// Registry configuration (resource, temporality, limits).
    pub registry: Config,
    /// Delivery configuration; `None` records but sends nothing (metrics switched off).
    pub push: Option<push::Config>,
    /// Time a delivery may take, counted from [`WorkerMetrics::flush`] (default
    /// [`DEFAULT_BUDGET_MS`]). Keep it well under the platform's `waitUntil` limit (30 s).
    pub budget_ms: u64,
    /// Tag every series with a random per-isolate `service.instance.id` (default: on for
    /// cumulative temporality, where each series needs a single writer).
    pub instance_id: Option<bool>,
    /// When an invocation's [`flush`](WorkerMetrics::flush) pushes (default
    /// [`FlushPolicy::adaptive`] with [`DEFAULT_MAX_AGE_MS`]: when no other invocation of the isolate
    /// is in flight, or the unflushed data is 10 s old). `FlushPolicy::default()` pushes at every
    /// invocation's end.
    pub flush_policy: FlushPolicy,
    /// Invalid environment variables (reported by `build`).
    env_errors: Vec<String>,
}

impl Setup {
    /// Delta temporality, no endpoint, for `service_name`.
    pub fn new(service_name: &str) -> Self {
        Setup {
            registry: Config::new(service_name),
            push: None,
            budget_ms: DEFAULT_BUDGET_MS,
            instance_id: None,
            flush_policy: FlushPolicy::adaptive(DEFAULT_MAX_AGE_MS),
            env_errors: Vec::new(),
        }
    }

    /// Reads the configuration from wrangler vars and secrets (string properties of `env`; a
    /// var that is not a string, e.g. a JSON object, counts as unset) with the OpenTelemetry names, parsed by [`crate::env`] (its table lists every
    /// variable): `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
    /// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, ..., and `EDGEMETRICS_FORMAT` /
    /// `EDGEMETRICS_ENDPOINT` / `EDGEMETRICS_HEADERS` for remote write, Pushgateway and compact.
    ///
    /// `service_name` is the default for `service.name`. No endpoint, or `OTEL_SDK_DISABLED=true`:
    /// metrics are recorded and discarded. An invalid variable makes [`build`](Self::build) fail
    /// (the messages are in [`env_errors`](Self::env_errors)). `OTEL_EXPORTER_OTLP_TIMEOUT` is the
    /// delivery budget. The resource gets `telemetry.sdk.*` and
    /// `cloud.provider=cloudflare`, `cloud.platform=cloudflare.workers`; remote write and
    /// Pushgateway switch to cumulative temporality (with a per-isolate instance id) unless
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` says otherwise.
    /// `EDGEMETRICS_FLUSH_POLICY=invocation` pushes at every invocation's end (default `adaptive`).
    /// `EDGEMETRICS_FORMAT=emf` is an invalid variable here: EMF is written to a log, which this
    /// host does not do.
    pub fn from_env(env: &Env, service_name: &str) -> Self {
        // Vars and secrets are both string properties of `env` (one namespace: a name is one or
        // the other). Read directly, not through `Env::var`/`Env::secret`, which format an error
        // message for every absent name (most of the variables in `crate::env`'s table are).
        Self::from_lookup(|name| Reflect::get(env, &JsValue::from(name)).ok()?.as_string(), service_name)
    }

    /// [`from_env`](Self::from_env) over any lookup (`name → value`), e.g. a test's table.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, service_name: &str) -> Self {
        let c = EnvConfig::parse(lookup);
        let mut setup = Setup::new(c.service_name.as_deref().unwrap_or(service_name));
        for (k, v) in [
            ("telemetry.sdk.name", "edgemetrics"),
            ("telemetry.sdk.language", "rust"),
            ("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
            ("cloud.provider", "cloudflare"),
            ("cloud.platform", "cloudflare.workers"),
        ] {
            setup.registry = setup.registry.resource_attr(k, v);
        }
        for (k, v) in &c.resource {
            setup.registry = setup.registry.resource_attr(k, v.as_str());
        }
        setup.registry.temporality = c.temporality_or_default();
        if let Some(n) = c.cardinality {
            setup.registry.limits.cardinality = n;
        }
        if let Some(n) = c.max_series {
            setup.registry.limits.max_series = n;
        }
        if let Some(ms) = c.timeout_ms {
            setup.budget_ms = ms;
        }
        if c.flush_adaptive == Some(false) {
            setup.flush_policy = FlushPolicy::default();
        }
        if !c.disabled {
            setup.push = c.push_config();
        }
        setup.env_errors = c.errors;
        if c.format == Some(FormatName::Emf) {
            // EMF needs no endpoint, so without this error it would switch metrics off silently.
            setup.env_errors.push(String::from(
                "EDGEMETRICS_FORMAT emf is written to a log stream, not sent over HTTP: the workers-rs host cannot deliver it",
            ));
        }
        setup
    }

    /// The invalid environment variables [`from_env`](Self::from_env) found, one message each.
    pub fn env_errors(&self) -> &[String] {
        &self.env_errors
    }

    /// Sets where and how to push.
    pub fn push(mut self, cfg: push::Config) -> Self {
        self.push = Some(cfg);
        self
    }

    /// Sets the temporality (remote write and Pushgateway need [`Temporality::Cumulative`]).
    pub fn temporality(mut self, t: Temporality) -> Self {
        self.registry.temporality = t;
        self
    }

    /// Sets the delivery budget.
    pub fn budget_ms(mut self, ms: u64) -> Self {
        self.budget_ms = ms;
        self
    }

    /// Sets the flush policy (see [`Setup::flush_policy`]).
    ///
    /// ```no_run
    /// use edgemetrics::push::FlushPolicy;
    /// use edgemetrics::worker::Setup;
    /// // Push at the end of every invocation (no aggregation across invocations).
    /// let every = Setup::new("svc").flush_policy(FlushPolicy::default());
    /// // Adaptive with a 2 s age limit instead of the default 10 s.
    /// let adaptive = Setup::new("svc").flush_policy(FlushPolicy::adaptive(2_000));
    /// # let _ = (every, adaptive);
    /// ```
    pub fn flush_policy(mut self, policy: FlushPolicy) -> Self {
        self.flush_policy = policy;
        self
    }

    /// Forces the per-isolate `service.instance.id` on or off.
    pub fn instance_id(mut self, on: bool) -> Self {
        self.instance_id = Some(on);
        self
    }

    /// Validates the configuration and creates the isolate's metrics.
    ///
    /// Fails with [`Error::InvalidConfig`] for an invalid push configuration (endpoint, attempts,
    /// backoff, an invalid environment variable), a delta batch aimed at remote write, or EMF (a
    /// log format this host cannot deliver).
    pub fn build(mut self) -> Result<WorkerMetrics, Error> {
        if !self.env_errors.is_empty() {
            return Err(Error::InvalidConfig {
                reason: "invalid OTEL_* / EDGEMETRICS_* variable (see Setup::env_errors)",
            });
        }
        let mut seed = [0u8; 16];
        fill_random(&mut seed);
        let seed = u128::from_le_bytes(seed);
        let cumulative = self.registry.temporality == Temporality::Cumulative;
        let instance_id = hex64(seed as u64 ^ (seed >> 64) as u64);
        if self.instance_id.unwrap_or(cumulative)
            && !self.registry.resource.iter().any(|kv| kv.key == "service.instance.id")
        {
            self.registry = self.registry.resource_attr("service.instance.id", instance_id.as_str());
        }
        let pusher = match self.push {
            None => None,
            Some(cfg) => {
                if cfg.format.protocol() == Protocol::RemoteWrite && !cumulative {
                    return Err(Error::InvalidConfig { reason: "remote write needs cumulative temporality" });
                }
                if cfg.format.protocol() == Protocol::Log {
                    return Err(Error::InvalidConfig {
                        reason:
                            "EMF is written to a log stream, not sent over HTTP: the workers-rs host cannot deliver it",
                    });
                }
                Some(Pusher::new(cfg, seed).map_err(|e| match e {
                    push::PushError::InvalidConfig(reason) => Error::InvalidConfig { reason },
                    push::PushError::Encode(e) => e,
                    _ => Error::InvalidConfig { reason: "invalid push configuration" },
                })?)
            }
        };
        Ok(WorkerMetrics::assemble(
            Registry::new(self.registry),
            pusher,
            self.budget_ms,
            instance_id,
            self.flush_policy,
        ))
    }
}

impl WorkerMetrics {
    fn assemble(
        registry: Registry,
        pusher: Option<Pusher>,
        budget_ms: u64,
        instance_id: String,
        policy: FlushPolicy,
    ) -> WorkerMetrics {
        WorkerMetrics {
            inner: Rc::new(RefCell::new(Inner {
                registry,
                pusher,
                budget_ms,
                generation: 0,
                flight_started_ms: None,
                pending: false,
                latest_waiter: 0,
                host: HostStats::default(),
                last_report: None,
                instance_id,
                policy,
                in_flight: 0,
            })),
        }
    }

    /// Metrics that record and send nothing (no push configuration), for an isolate whose
    /// configuration was invalid. Infallible, unlike [`Setup::build`].
    pub fn off(service_name: &str) -> WorkerMetrics {
        WorkerMetrics::assemble(
            Registry::new(Config::new(service_name)),
            None,
            DEFAULT_BUDGET_MS,
            String::new(),
            FlushPolicy::default(),
        )
    }
}

/// What [`WorkerMetrics::flush`] did. None of these is an error for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// A delivery task was handed to `ctx.wait_until`.
    Started,
    /// A delivery is in flight; its task sends this invocation's data in a follow-up batch.
    Coalesced,
    /// No endpoint configured: the window was collected and discarded (memory stays bounded).
    Disabled,
    /// Nothing to send.
    Empty,
    /// The batch could not be encoded; its points were dropped and counted.
    Dropped,
    /// The flush policy kept the data for a later invocation's push (other invocations are in
    /// flight and the data is younger than the policy's age limit).
    Deferred,
}

/// What the host did, beyond the pusher's own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostStats {
    /// Calls to [`WorkerMetrics::flush`].
    pub flushes: u64,
    /// Delivery tasks handed to `wait_until`.
    pub tasks: u64,
    /// Flushes that found a delivery in flight (their data went in a follow-up batch).
    pub coalesced: u64,
    /// Flushes the flush policy deferred to a later invocation.
    pub deferred: u64,
    /// Follow-up batches sent by a running task.
    pub follow_ups: u64,
    /// Deliveries abandoned because their task had stopped (cancelled `waitUntil`).
    pub stale_flights: u64,
    /// Batches that could not be encoded.
    pub encode_failures: u64,
}

struct Inner {
    registry: Registry,
    pusher: Option<Pusher>,
    budget_ms: u64,
    /// Bumped whenever a delivery is started; a task whose generation is stale stops.
    generation: u64,
    /// When the in-flight delivery started (`None`: idle).
    flight_started_ms: Option<u64>,
    /// Some invocation flushed while a delivery was in flight.
    pending: bool,
    /// Number of the latest flush that found a delivery in flight: that invocation (the one with
    /// the most time left) sends the follow-up from its own `wait_until`.
    latest_waiter: u64,
    host: HostStats,
    last_report: Option<Report>,
    instance_id: String,
    policy: FlushPolicy,
    /// Invocations begun ([`WorkerMetrics::begin`]) and not yet flushed.
    in_flight: u32,
}

/// The metrics of one isolate: typed instruments, recording, and [`flush`](Self::flush).
///
/// Cloning is cheap (a reference-counted handle to the same state).
#[derive(Clone)]
pub struct WorkerMetrics {
    inner: Rc<RefCell<Inner>>,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner.try_borrow() {
            Ok(g) => f
                .debug_struct("WorkerMetrics")
                .field("pusher", &g.pusher)
                .field("host", &g.host)
                .field("series", &g.registry.series_count())
                .finish(),
            Err(_) => f.write_str("WorkerMetrics { <busy> }"),
        }
    }
}

impl WorkerMetrics {
    /// Creates (or returns the existing) counter. See [`Registry::counter`].
    pub fn counter(&self, name: &str, opts: InstrumentOptions<'_>) -> Result<Counter, Error> {
        self.inner.borrow_mut().registry.counter(name, opts)
    }
    /// Creates (or returns the existing) up-down counter.
    pub fn up_down_counter(&self, name: &str, opts: InstrumentOptions<'_>) -> Result<UpDownCounter, Error> {
        self.inner.borrow_mut().registry.up_down_counter(name, opts)
    }
    /// Creates (or returns the existing) gauge.
    pub fn gauge(&self, name: &str, opts: InstrumentOptions<'_>) -> Result<Gauge, Error> {
        self.inner.borrow_mut().registry.gauge(name, opts)
    }
    /// Creates (or returns the existing) histogram.
    pub fn histogram(&self, name: &str, opts: InstrumentOptions<'_>) -> Result<Histogram, Error> {
        self.inner.borrow_mut().registry.histogram(name, opts)
    }

    /// Marks the start of an invocation: new series and a new delta window start now, and the
    /// invocation counts as in flight (for the flush policy) until its [`flush`](Self::flush).
    pub fn begin(&self) {
        let now = now_ms();
        let Ok(mut g) = self.inner.try_borrow_mut() else { return };
        g.registry.begin(now.saturating_mul(1_000_000));
        g.registry.count_invocation();
        g.policy.begin(now);
        g.in_flight = g.in_flight.saturating_add(1);
    }

    /// Adds `value` to a counter (refused values are counted, never an error).
    pub fn add(&self, c: Counter, value: f64, attrs: &[Attr<'_>]) {
        if let Ok(mut g) = self.inner.try_borrow_mut() {
            c.add(&mut g.registry, value, attrs)
        }
    }
    /// Adds `value` (either sign) to an up-down counter.
    pub fn add_up_down(&self, c: UpDownCounter, value: f64, attrs: &[Attr<'_>]) {
        if let Ok(mut g) = self.inner.try_borrow_mut() {
            c.add(&mut g.registry, value, attrs)
        }
    }
    /// Sets a gauge.
    pub fn set(&self, gauge: Gauge, value: f64, attrs: &[Attr<'_>]) {
        if let Ok(mut g) = self.inner.try_borrow_mut() {
            gauge.set(&mut g.registry, value, attrs)
        }
    }
    /// Records a histogram value.
    pub fn record(&self, h: Histogram, value: f64, attrs: &[Attr<'_>]) {
        if let Ok(mut g) = self.inner.try_borrow_mut() {
            h.record(&mut g.registry, value, attrs)
        }
    }

    /// Ends the invocation begun with [`begin`](Self::begin) and, when the flush policy says so
    /// ([`Setup::flush_policy`]; by default when no other invocation is in flight or the data is
    /// 10 s old), collects the window and pushes it from a task handed to `ctx.wait_until`;
    /// returns at once.
    ///
    /// Call it once, at the end of the request (after building the response). See
    /// [`Flush`] for the outcomes; none of them needs handling.
    pub fn flush(&self, ctx: &Context) -> Flush {
        let now = now_ms();
        let Ok(mut g) = self.inner.try_borrow_mut() else { return Flush::Empty };
        g.host.flushes += 1;
        g.in_flight = g.in_flight.saturating_sub(1);
        if g.pusher.is_none() {
            let _ = g.registry.collect(now.saturating_mul(1_000_000));
            return Flush::Disabled;
        }
        let others = g.in_flight;
        if !g.policy.end_invocation(now, others) {
            g.host.deferred += 1;
            return Flush::Deferred;
        }
        if let Some(started) = g.flight_started_ms {
            // A task whose wait_until was cut short never finishes: after twice the budget, stop
            // waiting for it (start() below carries its batch over as "abandoned").
            if !push::host::is_stale(started, g.budget_ms, now) {
                g.pending = true;
                g.host.coalesced += 1;
                g.latest_waiter += 1;
                let (me, deadline) = (g.latest_waiter, now.saturating_add(g.budget_ms));
                drop(g);
                ctx.wait_until(deliver(self.inner.clone(), Phase::After { me, deadline_ms: deadline }));
                return Flush::Coalesced;
            }
            g.host.stale_flights += 1;
            g.flight_started_ms = None;
        }
        let budget = g.budget_ms;
        // This batch holds everything recorded so far, including what earlier flushes left for a
        // follow-up.
        g.pending = false;
        match g.start(now, budget) {
            Ok(true) => {}
            Ok(false) => return Flush::Empty,
            Err(()) => return Flush::Dropped,
        }
        g.host.tasks += 1;
        let phase = Phase::Deliver { generation: g.generation, left: max_steps(&g) };
        drop(g);
        ctx.wait_until(deliver(self.inner.clone(), phase));
        Flush::Started
    }

    /// The pusher's counters since the isolate started (zero when pushing is off).
    pub fn push_stats(&self) -> PushStats {
        self.inner.try_borrow().ok().and_then(|g| g.pusher.as_ref().map(|p| *p.stats())).unwrap_or_default()
    }
    /// The host's counters since the isolate started.
    pub fn host_stats(&self) -> HostStats {
        self.inner.try_borrow().map(|g| g.host).unwrap_or_default()
    }
    /// The registry's counters (rejected values, overflow) since the last collect.
    pub fn registry_stats(&self) -> SdkStats {
        self.inner.try_borrow().map(|g| *g.registry.stats()).unwrap_or_default()
    }
    /// The report of the last finished delivery.
    pub fn last_report(&self) -> Option<Report> {
        self.inner.try_borrow().ok().and_then(|g| g.last_report.clone())
    }
    /// This isolate's random id (the `service.instance.id` when enabled), 16 hex digits.
    pub fn instance_id(&self) -> String {
        self.inner.try_borrow().map(|g| g.instance_id.clone()).unwrap_or_default()
    }
    /// Points waiting to be carried into the next batch.
    pub fn carried_points(&self) -> usize {
        self.inner.try_borrow().ok().and_then(|g| g.pusher.as_ref().map(Pusher::carried_points)).unwrap_or(0)
    }
    /// `true` while a delivery is in flight.
    pub fn in_flight(&self) -> bool {
        self.inner.try_borrow().map(|g| g.flight_started_ms.is_some()).unwrap_or(false)
    }
}

impl Inner {
    /// Collects and starts a delivery. `Ok(false)`: nothing to send.
    fn start(&mut self, now: u64, budget: u64) -> Result<bool, ()> {
        let batch = self.registry.collect(now.saturating_mul(1_000_000));
        let Some(pusher) = self.pusher.as_mut() else { return Ok(false) };
        if batch.is_empty() && pusher.carried_points() == 0 {
            return Ok(false);
        }
        let mut extra = [0u8; 8];
        fill_random(&mut extra);
        pusher.add_entropy(u64::from_le_bytes(extra));
        self.generation = self.generation.wrapping_add(1);
        match pusher.start(batch, now, budget) {
            Ok(()) => {
                self.flight_started_ms = Some(now);
                Ok(true)
            }
            Err(_) => {
                // The pusher counted the dropped points; remember the report.
                self.host.encode_failures += 1;
                self.last_report = pusher.last_report().cloned();
                self.flight_started_ms = None;
                Err(())
            }
        }
    }
}

/// Where a delivery task handed to `ctx.wait_until` stands.
enum Phase {
    /// A follow-up (the host-loop contract's "at most one follow-up"): wait until the delivery in
    /// flight settles, then, if this is the latest such flush, collect everything recorded
    /// meanwhile into one follow-up batch and deliver it within what is left of this invocation's
    /// budget. Earlier waiters just end: their data rides in the latest one's batch. So every
    /// invocation's `wait_until` work ends within its budget of its flush, and no invocation's
    /// work grows with the traffic that follows it.
    After { me: u64, deadline_ms: u64 },
    /// Delivering the flight `generation`, at most `left` more pusher steps.
    Deliver { generation: u64, left: usize },
}

/// What a delivery task awaits next.
enum Step {
    Send(Result<Prepared, TransportError>),
    Wait(u64),
    Done,
}

/// The one future type handed to `ctx.wait_until`: it only awaits. Every decision (the
/// follow-up's wait, the pusher's next action, applying a response) is made by the plain
/// function [`advance`], so the future's state is the phase and the one await in progress, and
/// its poll function (wasm-bindgen's future-to-promise glue instantiated for it) stays small.
async fn deliver(inner: Rc<RefCell<Inner>>, mut phase: Phase) {
    let mut result = None;
    loop {
        match advance(&inner, &mut phase, result.take()) {
            Step::Send(prepared) => result = Some(send(prepared).await),
            Step::Wait(ms) => Delay::from(Duration::from_millis(ms)).await,
            Step::Done => return,
        }
    }
}

/// Pusher steps one delivery may take: every attempt is at most two steps (send, wait); +4
/// covers the final Done.
fn max_steps(g: &Inner) -> usize {
    g.pusher.as_ref().map_or(0, |p| p.config().max_attempts as usize * 2 + 4)
}

/// One turn of a delivery task: applies the last attempt's `result` to the pusher and says what
/// to await next. A task whose flight is no longer current (a newer delivery started, or the
/// metrics are borrowed elsewhere) stops without touching it; the task that ends its flight
/// records the report and marks the isolate idle.
#[inline(never)]
fn advance(inner: &RefCell<Inner>, phase: &mut Phase, result: Option<Result<Received, TransportError>>) -> Step {
    let now = now_ms();
    let Ok(mut g) = inner.try_borrow_mut() else {
        return match *phase {
            Phase::After { deadline_ms, .. } if now < deadline_ms => {
                Step::Wait(FOLLOW_UP_POLL_MS.min(deadline_ms - now))
            }
            _ => Step::Done,
        };
    };
    if let Phase::After { me, deadline_ms } = *phase {
        if now >= deadline_ms {
            // Out of time: the data stays in the registry for the next flush (counted nowhere as
            // lost; it is still recorded).
            return Step::Done;
        }
        if g.flight_started_ms.is_some() {
            return Step::Wait(FOLLOW_UP_POLL_MS.min(deadline_ms - now));
        }
        if g.latest_waiter != me || !g.pending {
            return Step::Done;
        }
        g.pending = false;
        match g.start(now, deadline_ms - now) {
            Ok(true) => g.host.follow_ups += 1,
            _ => return Step::Done,
        }
        *phase = Phase::Deliver { generation: g.generation, left: max_steps(&g) };
    }
    let Phase::Deliver { generation, left } = phase else { return Step::Done };
    if g.generation != *generation {
        return Step::Done;
    }
    let Some(p) = g.pusher.as_mut() else { return Step::Done };
    if let Some(result) = result {
        let _ = match &result {
            Ok(resp) => {
                let headers: Vec<(&str, &str)> = resp.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                p.on_response(&push::Response { status: resp.status, headers: &headers, body: &resp.body }, now)
            }
            Err(kind) => p.on_error(*kind, now),
        };
    }
    if *left > 0 {
        *left -= 1;
        match p.next(now) {
            Action::Send(r) => return Step::Send(prepare(r)),
            Action::Wait { until_ms } => return Step::Wait(until_ms.saturating_sub(now).max(1)),
            _ => {}
        }
    }
    if let Some(r) = g.pusher.as_ref().and_then(Pusher::last_report) {
        g.last_report = Some(r.clone());
    }
    g.flight_started_ms = None;
    Step::Done
}

struct Received {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// One attempt ready to send: the runtime's request init (headers, body, abort signal) built
/// synchronously from the pusher's request, which therefore is never copied out of the pusher.
struct Prepared {
    url: String,
    init: web_sys::RequestInit,
    /// The gzipped body being read into an `ArrayBuffer` (set as the body once it resolves).
    gzipped: Option<js_sys::Promise>,
    /// `AbortSignal.timeout(timeout_ms)`: aborts the fetch and the reading of its body.
    signal: web_sys::AbortSignal,
}

/// Builds the runtime's request for one attempt, with an `AbortSignal.timeout` of the attempt's
/// `timeout_ms` (started here, so time spent compressing counts: a fetch that starts late starts
/// with less time, or already aborted).
///
/// Written against `web_sys` (the runtime's own `Request`, `Headers`, `Response`) rather than
/// workers-rs's `Fetch`/`Request`/`Response` wrappers: those parse the URL into a path, convert a
/// `cf` init object and read bodies through a byte stream, about 4 KB gzip of wasm this host does
/// not need.
fn prepare(req: &push::Request) -> Result<Prepared, TransportError> {
    let other = |_| TransportError::Other;
    let headers = web_sys::Headers::new().map_err(other)?;
    for h in &req.headers {
        headers.set(&h.name, &h.value).map_err(other)?;
    }
    let signal = web_sys::AbortSignal::timeout_with_f64(req.timeout_ms.max(1) as f64);
    let init = web_sys::RequestInit::new();
    init.set_method(req.method.as_str());
    init.set_headers(&headers);
    init.set_signal(Some(&signal));
    let gzipped = if req.gzip {
        Some(gzip(&req.body)?)
    } else {
        init.set_body(&Uint8Array::from(&req.body[..]));
        None
    };
    Ok(Prepared { url: req.url.clone(), init, gzipped, signal })
}

/// Sends one attempt with the runtime's `fetch`. The request's signal aborts it (and the reading
/// of its body) after its `timeout_ms`: a rejection while the signal is aborted is
/// [`TransportError::Timeout`]; other rejections go through `worker::Error`, so they are
/// classified from the same text as before.
async fn send(prepared: Result<Prepared, TransportError>) -> Result<Received, TransportError> {
    let p = prepared?;
    let failed = |e: JsValue, otherwise: fn(JsValue) -> TransportError| {
        if p.signal.aborted() {
            TransportError::Timeout
        } else {
            otherwise(e)
        }
    };
    if let Some(gzipped) = p.gzipped {
        let buf = JsFuture::from(gzipped).await.map_err(|e| failed(e, |_| TransportError::Other))?;
        p.init.set_body(&Uint8Array::new(&buf));
    }
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let fetched = JsFuture::from(global.fetch_with_str_and_init(&p.url, &p.init)).await;
    let resp: web_sys::Response =
        fetched.map_err(|e| failed(e, |e| classify(&worker::Error::from(e))))?.unchecked_into();
    let status = resp.status();
    let mut headers = Vec::new();
    for name in ["retry-after", "content-type"] {
        if let Ok(Some(v)) = resp.headers().get(name) {
            headers.push((String::from(name), v));
        }
    }
    // Only OTLP reads the body (partial success); others skip it.
    let wants_body = matches!(status, 200..=299)
        && headers.iter().any(|(k, v)| k == "content-type" && (has(v, b"protobuf") || has(v, b"json")));
    let mut body = Vec::new();
    if wants_body {
        let reset = |e| failed(e, |_| TransportError::Reset);
        let buf = JsFuture::from(resp.array_buffer().map_err(reset)?).await.map_err(reset)?;
        body = Uint8Array::new(&buf).to_vec();
    }
    body.truncate(MAX_RESPONSE_BODY);
    Ok(Received { status, headers, body })
}

/// `needle` occurs in `v`: a plain window scan (`str::contains` with a `&str` pattern links core's
/// two-way searcher, ~1.5 KB of wasm, for two short words in one header).
fn has(v: &str, needle: &[u8]) -> bool {
    v.as_bytes().windows(needle.len()).any(|w| w == needle)
}

/// Maps a fetch rejection to a transport error by the host-loop contract's one classification
/// ([`push::host::classify_transport_error`]); our own timer firing is handled by the caller.
fn classify(e: &worker::Error) -> TransportError {
    push::host::classify_transport_error(&e.to_string(), false)
}

/// Starts compressing `body` with the runtime's `CompressionStream("gzip")`: the promise of the
/// compressed `ArrayBuffer`.
fn gzip(body: &[u8]) -> Result<js_sys::Promise, TransportError> {
    let err = |_| TransportError::Other;
    let global = js_sys::global();
    let ctor: js_sys::Function = Reflect::get(&global, &"CompressionStream".into())
        .map_err(err)?
        .dyn_into()
        .map_err(|_| TransportError::Other)?;
    let args = js_sys::Array::of1(&"gzip".into());
    let cs = Reflect::construct(&ctor, &args).map_err(err)?;
    let input = web_sys::Response::new_with_opt_u8_array(Some(&mut body.to_vec())).map_err(err)?;
    let stream = input.body().ok_or(TransportError::Other)?;
    let pipe: js_sys::Function =
        Reflect::get(&stream, &"pipeThrough".into()).map_err(err)?.dyn_into().map_err(|_| TransportError::Other)?;
    let compressed = pipe.call1(&stream, &cs).map_err(err)?;
    let out = web_sys::Response::new_with_opt_readable_stream(Some(compressed.unchecked_ref())).map_err(err)?;
    out.array_buffer().map_err(err)
}

/// Host clock: `Date.now()` in unix milliseconds. (In Workers it advances only across IO.)
pub fn now_ms() -> u64 {
    let t = js_sys::Date::now();
    if t.is_finite() && t > 0.0 {
        t as u64
    } else {
        0
    }
}

/// Fills `buf` from `getrandom`, whose `wasm_js` backend (enabled by the `worker` feature: this
/// host already depends on wasm-bindgen, the case getrandom's docs allow) calls
/// `crypto.getRandomValues`; no `RUSTFLAGS` are needed. Falls back to `Math.random` if that fails
/// (a runtime without Web Crypto): ids and jitter then stay distinct, only less unpredictable.
fn fill_random(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        for b in buf.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
}

fn hex64(v: u64) -> String {
    let mut s = String::with_capacity(16);
    crate::codec::text::push_hex(&mut s, v as u128, 16);
    s
}
