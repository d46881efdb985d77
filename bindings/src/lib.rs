//! wasm-bindgen bindings of the edgemetrics core for the `edgemetrics` npm package (`js/`).
//!
//! The JS layer owns one [`Core`] per `Metrics` object. Everything crossing the boundary is a
//! number or a string, so the generated glue stays small (no serde, no js-sys):
//!
//! * instruments are created once and identified by a `u32`;
//! * attributes travel as one *attribute key* string (format below), which the JS layer also uses
//!   as its `Map` key: a repeated attribute set costs one `Map` lookup plus one
//!   [`Core::record_bound`] call carrying two numbers;
//! * a flush is [`Core::prepare`] (collect + encode) followed by reads of the prepared request
//!   ([`Core::body`], [`Core::method`], [`Core::path`], [`Core::headers`]).
//!
//! # Attribute key format
//!
//! A sequence of pairs, each `KLEN ':' KEY VALUE`, where `VALUE` is one of
//!
//! * `'s' VLEN ':' STRING` — a string,
//! * `'i' DIGITS ';'` — a 64-bit integer,
//! * `'d' HEX16` — a double: its IEEE-754 bits as 16 hex digits (big-endian),
//! * `'t'` / `'f'` — a boolean,
//! * `'x'` — no value: an attribute the host dropped (null, undefined, unreadable), counted in
//!   `edgemetrics.sdk.attributes.dropped`. `0:x` stands for an attribute object that could not be
//!   read at all.
//!
//! Lengths count UTF-16 code units, as JS `String.prototype.length` does, so that the JS side can
//! build the key without encoding it; the length prefixes make the key injective (no escaping
//! needed, any character may appear in keys and values). A malformed key records nothing extra:
//! the pairs decoded before the error are kept and the rest dropped. An integer outside the int64
//! range drops its attribute alone (counted). A key may hold any number of pairs: past 64, the
//! first 64 in key order are passed on and the others counted as dropped.

// On wasm32 (outside tests) the module is `no_std`, like examples/wasm-minimal: rlsf's TLSF
// allocator (smaller than dlmalloc, see Cargo.toml) and a panic handler that traps without formatting a message.
// A panic already ended in a trap with std (`panic = "abort"`, and std's hook has nowhere to print
// on wasm32-unknown-unknown); what goes is std's panic hook and the `core::fmt` machinery that
// formatted the unused message: about 4 KB gzip of wasm.
#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

#[cfg(all(target_arch = "wasm32", not(test)))]
#[global_allocator]
static ALLOC: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

use alloc::string::String;
use alloc::vec::Vec;
use edgemetrics::push::{self, Action, Outcome, Pusher, TransportError};
use edgemetrics::registry::SmallestKeys;
use edgemetrics::{
    Attr, AttrValue, Config, Encoded, Error, InstrumentId, InstrumentKind, InstrumentOptions, Registry, Temporality,
};
use wasm_bindgen::prelude::*;

mod abi;

/// [`Core::bind_record`]: the set went to the overflow series (recorded, nothing bound).
pub const BIND_OVERFLOW: i32 = -2;
/// [`Core::bind_record`]: release the cached handles of this instrument and call again.
pub const BIND_RELEASE: i32 = -3;

/// Pairs decoded on the stack (a key with more goes through [`decode_many`]).
const SMALL_PAIRS: usize = 16;

/// Reads a length (decimal, terminated by `:`) from the front of `s`.
fn take_len(s: &mut &str) -> Option<usize> {
    // Digits read in place (no search for ':' then a separate parse): this runs twice per pair.
    let b = s.as_bytes();
    let mut n = 0usize;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b':' {
            if i == 0 {
                return None;
            }
            // `get` rather than indexing (never `None` here): no str slicing panic linked in.
            *s = s.get(i + 1..)?;
            return Some(n);
        }
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(d as usize)?;
        i += 1;
    }
    None
}

/// Splits the first `units` UTF-16 code units off `s` (whole characters only).
fn take_utf16<'a>(s: &mut &'a str, units: usize) -> Option<&'a str> {
    // ASCII (the usual key or value): one byte per unit, no character walk.
    if let Some(head) = s.as_bytes().get(..units) {
        if head.is_ascii() {
            let (head, tail) = s.split_at_checked(units)?;
            *s = tail;
            return Some(head);
        }
    }
    let mut seen = 0usize;
    let mut end = 0usize;
    for c in s.chars() {
        if seen == units {
            break;
        }
        seen += c.len_utf16();
        end += c.len_utf8();
    }
    if seen != units {
        return None;
    }
    let (head, tail) = s.split_at_checked(end)?;
    *s = tail;
    Some(head)
}

fn take_until_semicolon<'a>(s: &mut &'a str) -> Option<&'a str> {
    let end = s.find(';')?;
    let head = s.get(..end)?;
    *s = s.get(end + 1..)?;
    Some(head)
}

/// Decodes an attribute key (see the crate docs) into `out`; returns how many pairs were read
/// and how many were dropped (values that cannot be represented, such as an integer outside the
/// int64 range). `None` when the key holds more than `N` pairs (use a larger buffer, up to
/// [`MAX_ATTRS_PER_CALL`](edgemetrics::attr::MAX_ATTRS_PER_CALL), then [`decode_many`]).
pub fn decode_attrs<'a, const N: usize>(mut s: &'a str, out: &mut [Attr<'a>; N]) -> Option<(usize, u64)> {
    let mut n = 0;
    let mut dropped = 0;
    while !s.is_empty() {
        let Some(pair) = decode_pair(&mut s) else { break };
        let Some(pair) = pair else {
            dropped += 1;
            continue;
        };
        if n == N {
            return None;
        }
        out[n] = pair;
        n += 1;
    }
    Some((n, dropped))
}

/// Decodes a key of any length: at most
/// [`MAX_ATTRS_PER_CALL`](edgemetrics::attr::MAX_ATTRS_PER_CALL) pairs, those of the smallest keys
/// (bytes; for a repeated key the last one given wins), which contain the ones the core keeps under
/// any `maxAttributes` ≤ 64, reduced by the core's own [`SmallestKeys`] (in no particular order:
/// the core sorts them), and how many were dropped here.
pub fn decode_many(mut s: &str) -> (SmallestKeys<'_>, u64) {
    let mut best = SmallestKeys::default();
    let mut dropped = 0u64;
    while !s.is_empty() {
        let Some(pair) = decode_pair(&mut s) else { break };
        match pair {
            Some(p) => best.push(p),
            None => dropped += 1,
        }
    }
    let dropped = dropped + best.dropped();
    (best, dropped)
}

/// Runs `f` with the decoded attributes of `key` and counts what decoding dropped.
fn with_attrs<R>(reg: &mut Registry, key: &str, f: impl FnOnce(&mut Registry, &[Attr<'_>]) -> R) -> R {
    // A small buffer on the stack (filling MAX_ATTRS_PER_CALL entries cost more than decoding a
    // usual key). A longer key goes through `decode_many`: the pairs the registry would keep reach
    // it (for a repeated key the last one given), at most MAX_ATTRS_PER_CALL of them, reduced by
    // the registry's own `SmallestKeys`.
    let mut buf = [("", AttrValue::Bool(false)); SMALL_PAIRS];
    let (r, dropped) = match decode_attrs(key, &mut buf) {
        Some((n, dropped)) => (f(reg, &buf[..n]), dropped),
        None => {
            let (v, dropped) = decode_many(key);
            (f(reg, v.pairs()), dropped)
        }
    };
    if dropped > 0 {
        reg.count_dropped_attributes(dropped);
    }
    r
}

/// One pair: `None` when the key is malformed (decoding stops), `Some(None)` for a well-formed
/// pair whose value cannot be represented (it alone is dropped).
pub(crate) fn decode_pair<'a>(s: &mut &'a str) -> Option<Option<Attr<'a>>> {
    let klen = take_len(s)?;
    let key = take_utf16(s, klen)?;
    let tag = s.as_bytes().first().copied()?;
    // A tag that is not ASCII is malformed (refused below); `get` returns `None` for it instead of
    // panicking on a char boundary.
    *s = s.get(1..)?;
    let value = match tag {
        b's' => {
            let vlen = take_len(s)?;
            AttrValue::Str(take_utf16(s, vlen)?)
        }
        b'i' => match take_until_semicolon(s)?.parse() {
            Ok(v) => AttrValue::I64(v),
            // A bigint outside the int64 range: drop this attribute only.
            Err(_) => return Some(None),
        },
        b'd' => {
            // The IEEE-754 bits as 16 hex digits: exact, and no decimal float parser linked in.
            let hex = s.get(..16)?;
            *s = s.get(16..)?;
            AttrValue::F64(f64::from_bits(u64::from_str_radix(hex, 16).ok()?))
        }
        b't' => AttrValue::Bool(true),
        b'f' => AttrValue::Bool(false),
        // An attribute the host had to drop (null, undefined, unreadable): counted here.
        b'x' => return Some(None),
        _ => return None,
    };
    Some(Some((key, value)))
}

/// Owned form of an attribute key, in the order given (external labels, grouping keys).
#[cfg(any(feature = "remote-write", feature = "pushgateway"))]
fn decode_owned(mut s: &str) -> Vec<edgemetrics::KeyValue> {
    let mut out = Vec::new();
    while !s.is_empty() {
        match decode_pair(&mut s) {
            Some(Some((k, v))) => out.push(edgemetrics::KeyValue::new(k, v)),
            Some(None) => {}
            None => break,
        }
    }
    out
}

/// The core's wire format for the JS layer's format number (0 otlp-proto, 1 otlp-json,
/// 2 remote-write, 3 pushgateway, 4 compact, 5 emf); `None` when this build does not include it (each
/// format is a cargo feature forwarded to the core's).
fn format_from_code(code: u32, gzip: bool) -> Option<push::Format> {
    let _ = gzip;
    Some(match code {
        #[cfg(feature = "otlp-proto")]
        0 => push::Format::OtlpProtobuf { gzip },
        #[cfg(feature = "otlp-json")]
        1 => push::Format::OtlpJson { gzip },
        #[cfg(feature = "remote-write")]
        2 => push::Format::RemoteWrite(Default::default()),
        #[cfg(feature = "pushgateway")]
        3 => push::Format::Pushgateway(None),
        #[cfg(feature = "compact")]
        4 => push::Format::Compact,
        #[cfg(feature = "emf")]
        5 => push::Format::Emf(Default::default()),
        _ => return None,
    })
}

/// Error class the JS layer throws ([`abi::ERR_TYPE`] or [`abi::ERR_RANGE`]).
fn error_class(e: &Error) -> u32 {
    match e {
        Error::InvalidBounds { .. }
        | Error::InvalidExponential { .. }
        | Error::TooManyInstruments { .. }
        | Error::InvalidConfig { .. } => abi::ERR_RANGE,
        _ => abi::ERR_TYPE,
    }
}

/// What [`Core::instrument`] and [`Core::instrument_exponential`] return: the id, or minus the
/// error class with the message in `error`. Not inlined: one copy for both methods.
#[inline(never)]
fn instrument_result(r: Result<InstrumentId, Error>, error: &mut String) -> i32 {
    match r {
        Ok(id) => id.index() as i32,
        Err(e) => {
            *error = e.message();
            -(error_class(&e) as i32)
        }
    }
}

/// One registry plus the request prepared by the last flush.
#[wasm_bindgen]
pub struct Core {
    reg: Registry,
    /// Something was recorded (accepted or refused) since the last [`Core::prepare`]; refused
    /// values count because they produce self-metrics.
    dirty: bool,
    /// Points in the prepared batch.
    points: u32,
    /// What a `collect_only` [`Core::start`] collected for the next `start`: `Some(None)` when
    /// there was nothing to send; `None` when nothing was collected ahead (`start` collects).
    taken: Option<Option<edgemetrics::Batch>>,
    prepared: Option<Encoded>,
    error: String,
    /// Delivery state machine (retries, deadline, idempotency key, carry-over).
    pusher: Pusher<push::Format>,
    /// Batches handed over by other isolates ([`Core::ingest`]), merged: what the next
    /// [`Core::start`] pushes.
    #[cfg(feature = "decode")]
    window: Option<edgemetrics::Batch>,
    /// Ingest counters: batches merged, batches refused (malformed), points dropped by merging.
    #[cfg(feature = "decode")]
    ingest_stats: [u32; 3],
    /// Settings the pusher is rebuilt from when the format configuration changes; its `format`
    /// is the wire ([`push::Format`]) that also encodes for [`Core::prepare`].
    push_config: push::Config<push::Format>,
    seed: u128,
    /// [`Core::seed`] was called (the JS layer seeds lazily, at the first flush).
    seeded: bool,
    /// The request of the last `Send` action, the time of the last `Wait` action.
    current: Option<push::Request>,
    wait_until: f64,
    /// When an invocation's end flushes ([`Core::configure_flush`], [`Core::end_invocation`]).
    policy: push::FlushPolicy,
    /// The scope [`Core::set_scope`] set for the instruments created next (`None`: the default).
    scope: Option<(String, String)>,
    /// Where the bytes of the last answer of a getter are (see [`Core::out_ptr`]).
    out_ptr: usize,
    /// Text a getter built for its answer (headers as lines, a report's reason, an instance id).
    out: String,
    /// The slots of the last [`Core::report`].
    report: [f64; 10],
    /// Where the JS attribute cache writes the UTF-8 key of a missed set ([`Core::key_buf`],
    /// [`Core::bind_record_key`]): one copy into memory that stays, no allocation per miss.
    keys: Vec<u8>,
}

#[wasm_bindgen]
impl Core {
    /// An unconfigured core (an OTLP/protobuf pusher to a placeholder endpoint): call
    /// [`Core::configure`] before anything else. Construction cannot fail, so errors never cross
    /// the boundary as exceptions; `configure` returns their class as a code.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Core {
        // Any format this build has (every build has at least one; `configure` picks the real one).
        let Some(wire) = (0..6).find_map(|code| format_from_code(code, false)) else { core::panic!() };
        let push_config = push::Config::new("http://127.0.0.1", wire);
        // The placeholder configuration is valid: `Pusher::new` only refuses bad endpoints.
        let pusher = match Pusher::new(push_config.clone(), 0) {
            Ok(p) => p,
            Err(_) => core::panic!(),
        };
        Core {
            pusher,
            push_config,
            seed: 0,
            seeded: false,
            current: None,
            wait_until: 0.0,
            policy: push::FlushPolicy::default(),
            reg: Registry::new(Config::new("unknown_service")),
            #[cfg(feature = "decode")]
            window: None,
            #[cfg(feature = "decode")]
            ingest_stats: [0; 3],
            dirty: false,
            points: 0,
            taken: None,
            prepared: None,
            error: String::new(),
            scope: None,
            out_ptr: 0,
            out: String::new(),
            report: [0.0; 10],
            keys: Vec::new(),
        }
    }

    /// Applies the options buffer (see [`abi`]): builds the registry and the push plan. Returns
    /// [`abi::ERR_OK`], or the error class ([`abi::ERR_TYPE`], [`abi::ERR_RANGE`]) with the
    /// message, naming the option, in [`Core::error`].
    pub fn configure(&mut self, options: &str) -> u32 {
        match self.try_configure(options) {
            Ok(()) => abi::ERR_OK,
            Err(e) => {
                self.error = e.message;
                e.class
            }
        }
    }

    /// Seeds the push plan's generator (batch ids, jitter) with 128 random bits and, when the
    /// resource has no `service.instance.id`, sets it to a random 16-hex-digit id derived from the
    /// same bits. The JS layer calls it at the first flush, never at construction: a worker's
    /// global scope may not generate random values. Answers (see [`Core::out_ptr`]) the instance
    /// id in force (empty when the user gave one; [`Core::out_text`] in Rust).
    pub fn seed(&mut self, words: &[u32]) -> u32 {
        let seed = words.iter().fold(0u128, |acc, w| (acc << 32) | *w as u128);
        self.seed = seed;
        self.seeded = true;
        self.out.clear();
        if !self.reg.has_resource_attr("service.instance.id") {
            let v = (seed as u64) ^ ((seed >> 64) as u64);
            for i in (0..16).rev() {
                let d = ((v >> (i * 4)) & 0xf) as u8;
                self.out.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
            }
            self.reg.set_resource_attr("service.instance.id", self.out.as_str());
        }
        self.rebuild_pusher();
        self.answer_out()
    }

    /// Whether [`Core::seed`] was called.
    pub fn seeded(&self) -> bool {
        self.seeded
    }

    /// Creates (or finds) an instrument: what [`Core::instrument`] (`exponential` false) or
    /// [`Core::instrument_exponential`] (`exponential` true: `max_size`, `max_scale`) do, in the
    /// scope given, in one call with one string. `text` is the name, the unit, the description, the
    /// scope's name and the scope's version one after the other, the first four `*_len` UTF-16
    /// code units long (as JS `length` counts), the version the rest; an empty scope name is the
    /// default scope. Returns the id (≥ 0), or minus the error class ([`abi::ERRORS`]) with the
    /// message in [`Core::error`]. Why one call: each string argument is a copy into the module
    /// and a generated conversion on both sides of the boundary.
    #[wasm_bindgen(js_name = newInstrument)]
    #[allow(clippy::too_many_arguments)]
    pub fn new_instrument(
        &mut self,
        kind: u32,
        text: &str,
        name_len: u32,
        unit_len: u32,
        description_len: u32,
        scope_len: u32,
        exponential: bool,
        max_size: u32,
        max_scale: i32,
        has_bounds: bool,
        bounds: &[f64],
    ) -> i32 {
        let mut rest = text;
        let mut part = |units: u32| take_utf16(&mut rest, units as usize);
        let (Some(name), Some(unit), Some(description), Some(scope)) =
            (part(name_len), part(unit_len), part(description_len), part(scope_len))
        else {
            self.error = String::from("instrument: the lengths do not match the text");
            return -(abi::ERR_TYPE as i32);
        };
        let saved = self.scope.take();
        self.set_scope(scope, rest);
        let id = if exponential {
            self.instrument_exponential(name, unit, description, max_size, max_scale)
        } else {
            self.instrument(kind, name, unit, description, has_bounds, bounds)
        };
        self.scope = saved;
        id
    }

    /// Remote write: path appended to the endpoint (`None` keeps `/api/v1/write`) and external
    /// labels (an attribute key of string values). Returns `false` with the message in
    /// [`Core::error`] when a label name is invalid.
    #[cfg(feature = "remote-write")]
    #[wasm_bindgen(js_name = configureRemoteWrite)]
    pub fn configure_remote_write(&mut self, path: Option<String>, labels: &str) -> bool {
        let mut cfg = edgemetrics::encode::remote_write::RemoteWriteConfig::default();
        if let Some(p) = path {
            cfg.path = p;
        }
        for kv in decode_owned(labels) {
            let edgemetrics::Value::Str(v) = kv.value else { continue };
            if !edgemetrics::encode::prom::is_valid_label_name(&kv.key) {
                // push_str rather than `[..].concat()`: the generic join it links is ~1 KB of wasm.
                self.error.clear();
                self.error.push_str("invalid external label name \"");
                self.error.push_str(&kv.key);
                self.error.push_str("\": must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __");
                return false;
            }
            cfg.external_labels.push((kv.key, v));
        }
        if let push::Format::RemoteWrite(current) = &mut self.push_config.format {
            *current = cfg;
        }
        self.rebuild_pusher()
    }

    /// Pushgateway: `job` (`None`: derived from the resource at each flush, with an `instance`
    /// label from `service.instance.id`), grouping labels (an attribute key of string values),
    /// and `put` (replace the group) or POST. Returns `false` with the message in
    /// [`Core::error`] when the grouping key is invalid.
    #[cfg(feature = "pushgateway")]
    #[wasm_bindgen(js_name = configurePushgateway)]
    pub fn configure_pushgateway(&mut self, job: Option<String>, grouping: &str, put: bool) -> bool {
        let method = if put { edgemetrics::Method::Put } else { edgemetrics::Method::Post };
        if !matches!(self.push_config.format, push::Format::Pushgateway(_)) {
            return self.rebuild_pusher();
        }
        let Some(job) = job else {
            // An empty job: the group is derived from the resource at each flush, with `method`.
            let derived = edgemetrics::encode::pushgateway::PushgatewayConfig::new("").method(method);
            self.push_config.format = push::Format::Pushgateway(Some(derived));
            return self.rebuild_pusher();
        };
        let mut cfg = edgemetrics::encode::pushgateway::PushgatewayConfig::new(&job);
        cfg.method = method;
        for kv in decode_owned(grouping) {
            if let edgemetrics::Value::Str(v) = kv.value {
                cfg.grouping.push((kv.key, v));
            }
        }
        if let Err(e) = edgemetrics::encode::pushgateway::group_path(&cfg) {
            self.error = e.message();
            return false;
        }
        self.push_config.format = push::Format::Pushgateway(Some(cfg));
        self.rebuild_pusher()
    }

    /// Answers (see [`Core::out_ptr`]) the message of the last refused creation or failed step
    /// ([`Core::error_text`] in Rust).
    pub fn error(&mut self) -> u32 {
        self.answer(self.error.as_ptr(), self.error.len())
    }

    /// Where the bytes of the last getter's answer start in the module's memory. Getters that
    /// answer bytes or text ([`Core::body`], [`Core::error`], [`Core::req_url`], ...) return
    /// their length and leave the bytes in place, valid until the next call into this core: the
    /// JS layer copies or decodes them from memory. Why: a returned `String`/`Vec` is a
    /// (pointer, length) pair, which wasm-bindgen passes through a generated wrapper function in
    /// the wasm and a generated getter in the JS glue per method, plus a copy and a free.
    #[wasm_bindgen(js_name = outPtr)]
    pub fn out_ptr(&self) -> u32 {
        self.out_ptr as u32
    }

    /// Answers (see [`Core::out_ptr`]) the boundary's table of codes and option names (see
    /// [`abi::table`]); `js/test/abi.test.mjs` compares it with `js/src/abi.js`. Only in builds
    /// with the `abi-table` feature (js/build.mjs: the every-format module the tests import): the
    /// package's code never asks for it, and it is ~0.8 KB of wasm.
    #[cfg(feature = "abi-table")]
    #[wasm_bindgen(js_name = abiTable)]
    pub fn abi_table(&mut self) -> u32 {
        self.out = abi::table();
        self.answer_out()
    }

    /// Tells the registry the time at the start of an invocation (unix milliseconds), counts the
    /// invocation (self-metric `edgemetrics.sdk.invocations`) and starts the flush policy's
    /// window if none is open.
    pub fn begin(&mut self, now_ms: f64) {
        self.reg.begin(ms_to_ns(now_ms));
        self.reg.count_invocation();
        self.policy.begin(now_ms.max(0.0) as u64);
    }

    /// Sets the flush policy (see `edgemetrics::push::FlushPolicy`): flush every
    /// `every_invocations` invocations (0: no count limit), when the unflushed window is
    /// `max_age_ms` old (0: no age limit), and, with `when_idle`, whenever an invocation ends with
    /// no other one in flight. `(1, 0, false)` flushes at every invocation's end.
    #[wasm_bindgen(js_name = configureFlush)]
    pub fn configure_flush(&mut self, every_invocations: u32, max_age_ms: f64, when_idle: bool) {
        let every = if every_invocations == 0 { u32::MAX } else { every_invocations };
        self.policy = push::FlushPolicy::new(every, max_age_ms.max(0.0) as u64).when_idle(when_idle);
    }

    /// The end of an invocation at `now_ms`, with `others_in_flight` other invocations still
    /// running: `true` when the host should flush now (the policy then starts a new window).
    #[wasm_bindgen(js_name = endInvocation)]
    pub fn end_invocation(&mut self, now_ms: f64, others_in_flight: u32) -> bool {
        self.policy.end_invocation(now_ms.max(0.0) as u64, others_in_flight)
    }

    /// The address of the key buffer, at least `len` bytes long: the JS attribute cache writes
    /// the UTF-8 attribute key of a missed set there (`TextEncoder.encodeInto`, one step) and
    /// passes its length to [`Core::bind_record_key`]. The buffer moves only in this call.
    #[wasm_bindgen(js_name = keyBuf)]
    pub fn key_buf(&mut self, len: u32) -> u32 {
        let len = len as usize;
        if self.keys.len() < len {
            self.keys.resize(len, 0);
        }
        self.keys.as_mut_ptr() as usize as u32
    }

    /// Records or binds with the attribute key in the first `len` bytes of the key buffer (see
    /// [`Core::key_buf`]): no string crosses the boundary. `op` 0: [`Core::record`] (returns 0);
    /// 1: [`Core::bind`] of instrument `id` (`value` unused); 2: [`Core::bind_record`]. Bytes that
    /// are not UTF-8 (or past the buffer) cannot come from `encodeInto`; should they arrive, the
    /// set is treated as an unreadable object (`0:x`: no attributes, one dropped attribute
    /// counted), and `op` 2 records and returns -1 (nothing bound).
    pub fn keyed(&mut self, op: u32, id: u32, value: f64, len: u32) -> i32 {
        let keys = core::mem::take(&mut self.keys);
        let key = keys.get(..len as usize).and_then(|b| core::str::from_utf8(b).ok());
        let r = match (op, key) {
            (0, _) => {
                self.record(id, value, key.unwrap_or("0:x"));
                0
            }
            (1, _) => self.bind(id, key.unwrap_or("0:x")),
            (_, Some(key)) => self.bind_record(id, value, key),
            (_, None) => {
                self.record(id, value, "0:x");
                -1
            }
        };
        self.keys = keys;
        r
    }

    /// The JS attribute cache's miss on a full instrument: records `value` into its overflow
    /// series when a set without a series of its own certainly goes there, given that the cache
    /// holds handles to `own` distinct series of the instrument and has checked that the set is
    /// none of them (see [`Registry::record_overflowing`]); `false` (nothing recorded) when that is
    /// not certain. No attribute crosses the boundary.
    #[wasm_bindgen(js_name = recordOverflow)]
    pub fn record_overflow(&mut self, id: u32, value: f64, own: u32) -> bool {
        let done = self.reg.record_overflowing(InstrumentId::from_index(id), value, own as usize);
        self.dirty |= done;
        done
    }

    /// Releases one [`Core::bind`] of `handle` (the JS attribute cache does it for the sets it
    /// drops); the handle must not be used afterwards.
    pub fn unbind(&mut self, handle: u32) {
        self.reg.unbind(edgemetrics::Bound::from_index(handle));
    }

    /// Records through a bound handle: the hot path, two numbers in, nothing out.
    #[wasm_bindgen(js_name = recordBound)]
    pub fn record_bound(&mut self, handle: u32, value: f64) {
        self.reg.record_bound(edgemetrics::Bound::from_index(handle), value);
        self.dirty = true;
    }

    /// Collects the window ending at `now_ms` and encodes it. Returns the number of points
    /// (0: nothing to send, no request must be made).
    pub fn prepare(&mut self, now_ms: f64) -> u32 {
        self.prepared = None;
        self.points = 0;
        self.error.clear();
        if !self.dirty {
            // Still close the window so the next one starts now.
            self.reg.begin(ms_to_ns(now_ms));
            return 0;
        }
        self.dirty = false;
        let batch = self.reg.collect(ms_to_ns(now_ms));
        if batch.is_empty() {
            return 0;
        }
        let points = batch.point_count() as u32;
        match self.encode(&batch) {
            Ok(enc) => {
                self.prepared = Some(enc);
                self.points = points;
                points
            }
            Err(e) => {
                self.error = e.message();
                0
            }
        }
    }

    /// Answers (see [`Core::out_ptr`]) the body of the prepared request.
    pub fn body(&mut self) -> u32 {
        let b = self.prepared.as_ref().map_or(&[][..], |e| &e.body[..]);
        self.answer(b.as_ptr(), b.len())
    }

    /// Answers (see [`Core::out_ptr`]) the method of the prepared request.
    pub fn method(&mut self) -> u32 {
        let m = self.prepared.as_ref().map_or("POST", |e| e.method.as_str());
        self.answer(m.as_ptr(), m.len())
    }

    /// Answers (see [`Core::out_ptr`]) the URL of the prepared request: the endpoint joined with
    /// the format's path as the push plan joins them (a query in the endpoint stays after the path).
    pub fn url(&mut self) -> u32 {
        self.out = self.push_config.url(self.prepared.as_ref().map_or("", |e| e.path.as_str()));
        self.answer_out()
    }

    /// Answers (see [`Core::out_ptr`]) the headers of the prepared request as `name: value` lines
    /// separated by `\n`.
    pub fn headers(&mut self) -> u32 {
        self.out.clear();
        if let Some(e) = &self.prepared {
            for (k, v) in &e.headers {
                push_header(&mut self.out, k, v);
            }
        }
        self.answer_out()
    }

    /// Starts delivering what was recorded since the last flush (plus what a failed earlier flush
    /// carried over): collects the window ending at `now_ms` and hands it to the push plan with
    /// `budget_ms` to finish. Returns `false` when there is nothing to send (or the batch could not
    /// be encoded: then [`Core::error`] says why and [`Core::report`] counts the drop). After
    /// `true`, drive the plan with [`Core::next`].
    ///
    /// `collect_only`: only the collecting half. The batch is kept, and the next `start` encodes
    /// and plans it instead of collecting (its `now_ms` is then only the plan's clock); returns
    /// whether there is something to send. Why: a flush collects what was recorded until the
    /// call, while the host may start the encode and the request later (workerd: after the
    /// handler's response, see js/src/flush.js).
    pub fn start(&mut self, now_ms: f64, budget_ms: f64, collect_only: bool) -> bool {
        self.error.clear();
        self.current = None;
        let taken = match self.taken.take() {
            Some(t) => t,
            None => self.collect_window(now_ms),
        };
        if collect_only {
            let some = taken.is_some();
            self.taken = Some(taken);
            return some;
        }
        let Some(batch) = taken else { return false };
        // An empty batch (after merging carried data) finishes at once: `next` then says `done`
        // with an `empty` outcome and no request is made.
        match self.pusher.start(batch, now_ms.max(0.0) as u64, budget_ms.max(0.0) as u64) {
            Ok(()) => true,
            Err(e) => {
                self.error = e.message();
                false
            }
        }
    }

    /// The next step of the push plan at `now_ms`: 0 idle, 1 send (read the request with the
    /// `req*` getters, then call [`Core::on_response`] or [`Core::on_error`]), 2 wait until
    /// [`Core::wait_until`], 3 done (read [`Core::report`]), 4 a response is awaited.
    pub fn next(&mut self, now_ms: f64) -> u32 {
        match self.pusher.next(now_ms.max(0.0) as u64) {
            Action::Idle => 0,
            Action::Send(req) => {
                self.current = Some(req.clone());
                1
            }
            Action::Wait { until_ms } => {
                self.wait_until = until_ms as f64;
                2
            }
            Action::Done(_) => 3,
            Action::Awaiting => 4,
        }
    }

    /// Time (unix ms) until which the host must wait after a `2` from [`Core::next`].
    #[wasm_bindgen(js_name = waitUntil)]
    pub fn wait_until(&self) -> f64 {
        self.wait_until
    }

    /// Answers (see [`Core::out_ptr`]) the URL of the request to send.
    #[wasm_bindgen(js_name = reqUrl)]
    pub fn req_url(&mut self) -> u32 {
        let u = self.current.as_ref().map_or("", |r| r.url.as_str());
        self.answer(u.as_ptr(), u.len())
    }

    /// Answers (see [`Core::out_ptr`]) the method of the request to send.
    #[wasm_bindgen(js_name = reqMethod)]
    pub fn req_method(&mut self) -> u32 {
        let m = self.current.as_ref().map_or("POST", |r| r.method.as_str());
        self.answer(m.as_ptr(), m.len())
    }

    /// Answers (see [`Core::out_ptr`]) the headers of the request to send, as `name: value` lines
    /// separated by `\n`.
    #[wasm_bindgen(js_name = reqHeaders)]
    pub fn req_headers(&mut self) -> u32 {
        self.out.clear();
        for h in self.current.iter().flat_map(|r| r.headers.iter()) {
            push_header(&mut self.out, &h.name, &h.value);
        }
        self.answer_out()
    }

    /// Answers (see [`Core::out_ptr`]) the body of the request to send (uncompressed; gzip it when
    /// [`Core::req_gzip`]; [`Core::req_body_bytes`] in Rust).
    #[wasm_bindgen(js_name = reqBody)]
    pub fn req_body(&mut self) -> u32 {
        let b = self.req_body_bytes();
        self.answer(b.as_ptr(), b.len())
    }

    /// Whether the host must gzip the body (the `Content-Encoding` header is already set).
    #[wasm_bindgen(js_name = reqGzip)]
    pub fn req_gzip(&self) -> bool {
        self.current.as_ref().is_some_and(|r| r.gzip)
    }

    /// Time limit of this attempt in ms (already cut to the time left before the deadline).
    #[wasm_bindgen(js_name = reqTimeout)]
    pub fn req_timeout(&self) -> f64 {
        self.current.as_ref().map_or(0.0, |r| r.timeout_ms as f64)
    }

    /// Reports the response to the request sent: its status, its `Retry-After` header if any,
    /// and its body (OTLP partial success is read from it).
    #[wasm_bindgen(js_name = onResponse)]
    pub fn on_response(&mut self, status: u16, retry_after: Option<String>, body: &[u8], now_ms: f64) {
        let headers: [(&str, &str); 1];
        let hs: &[(&str, &str)] = match &retry_after {
            Some(v) => {
                headers = [("retry-after", v.as_str())];
                &headers
            }
            None => &[],
        };
        let resp = push::Response { status, headers: hs, body };
        if let Err(e) = self.pusher.on_response(&resp, now_ms.max(0.0) as u64) {
            self.error = e.message();
        }
    }

    /// Reports that the request got no response, classified as [`abi::TRANSPORT`] codes it.
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(&mut self, kind: u32, now_ms: f64) {
        let kind = match kind {
            0 => TransportError::Refused,
            1 => TransportError::Reset,
            2 => TransportError::Timeout,
            _ => TransportError::Other,
        };
        if let Err(e) = self.pusher.on_error(kind, now_ms.max(0.0) as u64) {
            self.error = e.message();
        }
    }

    /// The report of the last finished delivery: answers (see [`Core::out_ptr`]) the count of
    /// its slots, 10 doubles (8-byte aligned) as [`abi::REPORT`] names them ([`Core::report_slots`]
    /// in Rust); the outcome is coded as [`abi::OUTCOMES`] (the reason of a failure in
    /// [`Core::report_reason`]).
    pub fn report(&mut self) -> u32 {
        self.report = match self.pusher.next(0) {
            Action::Done(r) => [
                match r.outcome {
                    Outcome::Delivered => 1.0,
                    Outcome::Empty => 2.0,
                    Outcome::Failed(_) => 3.0,
                },
                r.attempts as f64,
                r.retries as f64,
                r.last_status.unwrap_or(0) as f64,
                r.dropped.points as f64,
                r.carried_out as f64,
                r.rejected_points as f64,
                r.points as f64,
                r.carried_in as f64,
                r.ambiguous as u8 as f64,
            ],
            _ => [0.0; 10],
        };
        self.out_ptr = self.report.as_ptr() as usize;
        self.report.len() as u32
    }

    /// Answers (see [`Core::out_ptr`]) why the last delivery failed (`deadline`, `exhausted`,
    /// `unauthorized`, `rejected`, `abandoned`, `encode`), with the last transport error if any;
    /// empty when it did not fail.
    #[wasm_bindgen(js_name = reportReason)]
    pub fn report_reason(&mut self) -> u32 {
        self.out.clear();
        let Action::Done(r) = self.pusher.next(0) else { return self.answer_out() };
        let s = &mut self.out;
        if let Outcome::Failed(reason) = r.outcome {
            s.push_str(reason.as_str());
            if let Some(t) = r.last_error {
                s.push_str(" (");
                s.push_str(t.as_str());
                s.push(')');
            } else if let Some(st) = r.last_status {
                s.push_str(" (HTTP ");
                push_decimal(s, st as u64);
                s.push(')');
            }
        }
        self.answer_out()
    }

    /// Decodes a compact batch (another isolate's, e.g. a producer worker's log line seen by a
    /// Tail Worker) and merges it into the window the next [`Core::start`] pushes
    /// ([`push::absorb`]: sums and histogram buckets add, min/max combine, gauges last write).
    /// The window keeps the first batch's resource with this core's `service.instance.id` (the
    /// aggregator is the one writer of the merged series). Returns 0 merged, 1 not merged because
    /// its resource (`service.instance.id` aside) differs from the window's (push the window,
    /// then ingest again), 2 refused as malformed (the reason in [`Core::error`], counted).
    #[cfg(feature = "decode")]
    pub fn ingest(&mut self, bytes: &[u8]) -> u32 {
        let mut batch = match edgemetrics::encode::compact::decode(bytes) {
            Ok(b) => b,
            Err(e) => {
                self.error = e.message();
                self.ingest_stats[1] = self.ingest_stats[1].saturating_add(1);
                return 2;
            }
        };
        let own_id = self.reg.config().resource.iter().find(|kv| kv.key == "service.instance.id").cloned();
        let mut resource: Vec<edgemetrics::KeyValue> =
            batch.resource.iter().filter(|kv| kv.key != "service.instance.id").cloned().collect();
        if let Some(id) = own_id {
            resource.push(id);
        }
        batch.resource = resource.into();
        match &mut self.window {
            None => self.window = Some(batch),
            Some(w) => {
                if w.resource != batch.resource {
                    return 1;
                }
                let dropped = push::absorb(w, batch);
                self.ingest_stats[2] = self.ingest_stats[2].saturating_add(dropped.points as u32);
            }
        }
        self.ingest_stats[0] = self.ingest_stats[0].saturating_add(1);
        0
    }

    /// Points in the window of ingested batches (0: none).
    #[cfg(feature = "decode")]
    #[wasm_bindgen(js_name = windowPoints)]
    pub fn window_points(&self) -> u32 {
        self.window.as_ref().map_or(0, |w| w.point_count() as u32)
    }

    /// Ingest counters since construction: batches merged, batches refused as malformed, points
    /// dropped because a metric changed kind between batches.
    #[cfg(feature = "decode")]
    #[wasm_bindgen(js_name = ingestStats)]
    pub fn ingest_stats(&self) -> Vec<u32> {
        self.ingest_stats.to_vec()
    }
}

impl Core {
    /// Records `value` with the attributes of `attrs` (an attribute key). Never throws.
    pub fn record(&mut self, id: u32, value: f64, attrs: &str) {
        with_attrs(&mut self.reg, attrs, |reg, a| reg.record(InstrumentId::from_index(id), value, a));
        self.dirty = true;
    }

    /// Binds an attribute set of instrument `id`; returns the handle (≥ 0) or -1 for an unknown
    /// instrument. Each bind holds the series until a matching [`Core::unbind`].
    pub fn bind(&mut self, id: u32, attrs: &str) -> i32 {
        let b = with_attrs(&mut self.reg, attrs, |reg, a| reg.bind(InstrumentId::from_index(id), a));
        match b {
            Some(b) => b.index() as i32,
            None => -1,
        }
    }

    /// The JS attribute cache's miss: records `value` with the attribute set `attrs` and, when the
    /// set has (or now gets) a series of its own, binds it and returns the handle (≥ 0): one
    /// boundary crossing instead of a bind and a record. Returns [`BIND_OVERFLOW`] when the set
    /// went to the instrument's overflow series (the value recorded there, nothing bound: such a
    /// set is not worth a cache slot); [`BIND_RELEASE`] when the instrument is full and holds bound
    /// series idle in this window (at most once per window: the cache should release its handles
    /// and call again, so that the registry can reclaim them; nothing recorded); -1 for an unknown
    /// instrument (the value counted as rejected).
    pub fn bind_record(&mut self, id: u32, value: f64, attrs: &str) -> i32 {
        let id = InstrumentId::from_index(id);
        if self.reg.instrument_full(id) && self.reg.release_advice(id) {
            return BIND_RELEASE;
        }
        let Some(b) = with_attrs(&mut self.reg, attrs, |reg, a| reg.bind(id, a)) else { return -1 };
        self.reg.record_bound(b, value);
        self.dirty = true;
        if self.reg.is_overflow(b) {
            self.reg.unbind(b);
            return BIND_OVERFLOW;
        }
        b.index() as i32
    }

    /// Points [`Core::out_ptr`] at `len` bytes from `ptr` (inside this core or static) and returns
    /// `len`: a getter's answer.
    fn answer(&mut self, ptr: *const u8, len: usize) -> u32 {
        self.out_ptr = ptr as usize;
        len as u32
    }

    /// Answers the text a getter built in `out`.
    fn answer_out(&mut self) -> u32 {
        self.answer(self.out.as_ptr(), self.out.len())
    }

    /// Creates (or finds) an instrument in the scope [`Core::set_scope`] set (Rust; JS calls
    /// [`Core::new_instrument`]). `kind`: 0 counter, 1 up-down counter, 2 gauge,
    /// 3 histogram ([`abi::KINDS`]). Returns the id (≥ 0), or minus the error class
    /// ([`abi::ERRORS`]) with the message in [`Core::error`]. `bounds` is used only for histograms, and only when `has_bounds`.
    pub fn instrument(
        &mut self,
        kind: u32,
        name: &str,
        unit: &str,
        description: &str,
        has_bounds: bool,
        bounds: &[f64],
    ) -> i32 {
        let kind = match kind {
            0 => InstrumentKind::Counter,
            1 => InstrumentKind::UpDownCounter,
            2 => InstrumentKind::Gauge,
            _ => InstrumentKind::Histogram,
        };
        let opts = InstrumentOptions {
            unit,
            description,
            bounds: if has_bounds { Some(bounds) } else { None },
            aggregation: None,
            scope: self.scope.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
        };
        instrument_result(self.reg.instrument(name, kind, &opts), &mut self.error)
    }

    /// Sets the instrumentation scope of the instruments [`Core::instrument`] and
    /// [`Core::instrument_exponential`] create or find from now on (an OpenTelemetry meter's name
    /// and version); an empty `name` goes back to the default scope `edgemetrics`. The scope is
    /// checked when an instrument is created (a type error for an over-long name or version).
    pub fn set_scope(&mut self, name: &str, version: &str) {
        self.scope = if name.is_empty() { None } else { Some((String::from(name), String::from(version))) };
    }

    /// Creates (or finds) an exponential histogram: at most `max_size` buckets per sign, each
    /// window starting at scale `max_scale` (validated by the core: 2..=16384 and -10..=20, a
    /// range error otherwise). Returns the id or minus the error class, like [`Core::instrument`].
    pub fn instrument_exponential(
        &mut self,
        name: &str,
        unit: &str,
        description: &str,
        max_size: u32,
        max_scale: i32,
    ) -> i32 {
        let Ok(max_scale) = i8::try_from(max_scale) else {
            self.error = String::from("invalid exponential histogram options: maxScale must be between -10 and 20");
            return -(abi::ERR_RANGE as i32);
        };
        let cfg = edgemetrics::exphist::ExpConfig { max_size, max_scale };
        let opts = InstrumentOptions::default().exponential(cfg);
        let scope = self.scope.as_ref().map(|(n, v)| (n.as_str(), v.as_str()));
        let opts = InstrumentOptions { unit, description, scope, ..opts };
        instrument_result(self.reg.instrument(name, InstrumentKind::Histogram, &opts), &mut self.error)
    }

    /// Number of instruments (for tests and diagnostics; not exported to JS, which never asks).
    pub fn instrument_count(&self) -> u32 {
        self.reg.instrument_count() as u32
    }

    /// Number of live series (for tests and diagnostics; not exported to JS, which never asks).
    pub fn series_count(&self) -> u32 {
        self.reg.series_count() as u32
    }

    /// The message [`Core::error`] answers.
    pub fn error_text(&self) -> &str {
        &self.error
    }

    /// The text the last [`Core::seed`], [`Core::headers`], [`Core::req_headers`] or
    /// [`Core::report_reason`] answered.
    pub fn out_text(&self) -> &str {
        &self.out
    }

    /// The body [`Core::req_body`] answers.
    pub fn req_body_bytes(&self) -> &[u8] {
        self.current.as_ref().map_or(&[][..], |r| &r.body[..])
    }

    /// The slots the last [`Core::report`] answered.
    pub fn report_slots(&self) -> &[f64; 10] {
        &self.report
    }

    fn try_configure(&mut self, buf: &str) -> Result<(), abi::OptionError> {
        let o = abi::parse(buf)?;
        let range = |message: &str| abi::OptionError { class: abi::ERR_RANGE, message: message.into() };
        // gzip only for the OTLP formats (0, 1); the options check refuses it for the others.
        let gzip = o.gzip && o.format <= 1;
        let wire = match format_from_code(o.format, gzip) {
            Some(w) => w,
            None => {
                let mut msg = String::from("options.format: this build of edgemetrics has no encoder number ");
                push_decimal(&mut msg, o.format as u64);
                return Err(range(&msg));
            }
        };
        let mut config = Config::new(o.service_name.as_deref().unwrap_or("unknown_service"))
            .temporality(if o.cumulative { Temporality::Cumulative } else { Temporality::Delta })
            .self_metrics(o.self_metrics);
        for kv in o.resource {
            config.resource.retain(|r| r.key != kv.key);
            config.resource.push(kv);
        }
        let l = &mut config.limits;
        let slots: [&mut usize; 7] = [
            &mut l.cardinality,
            &mut l.max_instruments,
            &mut l.max_series,
            &mut l.max_attribute_bytes,
            &mut l.attributes.max_attributes,
            &mut l.attributes.max_key_len,
            &mut l.attributes.max_value_len,
        ];
        for (slot, v) in slots.into_iter().zip(o.limits) {
            if let Some(v) = v {
                *slot = v as usize;
            }
        }
        let mut push_config = push::Config::new(&o.endpoint, wire).self_metrics(o.self_metrics);
        for (k, v) in &o.headers {
            push_config = if is_secret_header(k) { push_config.secret_header(k, v) } else { push_config.header(k, v) };
        }
        let [attempts, attempt_timeout, base, cap] = o.retry;
        if let Some(n) = attempts {
            push_config = push_config.max_attempts(n);
        }
        if let Some(ms) = attempt_timeout {
            push_config = push_config.attempt_timeout_ms(ms as u64);
        }
        if base.is_some() || cap.is_some() {
            let base = base.map_or(push_config.backoff_base_ms, |v| v as u64);
            let cap = cap.map_or(push_config.backoff_cap_ms.max(base), |v| v as u64);
            push_config = push_config.backoff_ms(base, cap);
        }
        let pusher = Pusher::new(push_config.clone(), self.seed)
            .map_err(|e| abi::OptionError { class: abi::ERR_TYPE, message: e.message() })?;
        self.pusher = pusher;
        self.push_config = push_config;
        self.reg = Registry::new(config);
        Ok(())
    }

    /// Closes the window at `now_ms`: the batch a flush pushes, or `None` when there is nothing
    /// to send (nothing recorded and nothing carried over).
    fn collect_window(&mut self, now_ms: f64) -> Option<edgemetrics::Batch> {
        // Whatever asked for this flush, the policy's window restarts with it.
        self.policy.reset();
        #[cfg(feature = "decode")]
        if let Some(window) = self.window.take() {
            // Ingested batches are pushed as they were merged; what this core recorded itself
            // stays in the registry for a later flush (its resource may differ).
            return Some(window);
        }
        if !self.dirty && self.pusher.carried_points() == 0 {
            self.reg.begin(ms_to_ns(now_ms));
            return None;
        }
        self.dirty = false;
        Some(self.reg.collect(ms_to_ns(now_ms)))
    }

    fn encode(&self, batch: &edgemetrics::Batch) -> Result<Encoded, Error> {
        use push::Wire;
        self.push_config.format.encode(batch)
    }

    fn rebuild_pusher(&mut self) -> bool {
        match Pusher::new(self.push_config.clone(), self.seed) {
            Ok(p) => {
                self.pusher = p;
                true
            }
            Err(e) => {
                self.error = e.message();
                false
            }
        }
    }
}

/// Headers whose values are credentials: kept out of `Debug` output by the push plan.
fn is_secret_header(name: &str) -> bool {
    ["authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Appends `v` in decimal (without `core::fmt`, which this module otherwise need not link).
/// Appends one `name: value\n` line (the headers' text form across the boundary).
fn push_header(s: &mut String, name: &str, value: &str) {
    s.push_str(name);
    s.push_str(": ");
    s.push_str(value);
    s.push('\n');
}

fn push_decimal(s: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    s.extend(digits[i..].iter().map(|&b| char::from(b)));
}

/// Unix milliseconds (a JS time value) to unix nanoseconds; negative and NaN become 0.
fn ms_to_ns(ms: f64) -> u64 {
    if ms > 0.0 {
        // Whole milliseconds are multiplied as integers: `ms * 1e6` as an f64 would exceed 2^53
        // and lose the low digits of a current timestamp.
        // `as u64` truncates (and saturates from 2^64 on, where the result is u64::MAX either
        // way): the same as `ms.trunc()`, which core lacks.
        let whole = ms as u64;
        whole.saturating_mul(1_000_000).saturating_add(((ms - whole as f64) * 1_000_000.0) as u64)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgemetrics::attr::MAX_ATTRS_PER_CALL as MAX_PAIRS;

    #[test]
    fn bind_record_and_the_overflow_shortcut() {
        let mut core = Core::new();
        let buf = "8:endpoints16:http://127.0.0.118:limits.cardinalityi3;11:selfMetricsf";
        assert_eq!(core.configure(buf), abi::ERR_OK, "{}", core.error_text());
        let id = core.instrument(0, "c", "", "", false, &[]) as u32;
        let sum = |core: &mut Core, now: f64| {
            let batch = core.reg.collect(ms_to_ns(now));
            let Some(m) = batch.metric("c") else { return Vec::new() };
            let edgemetrics::MetricData::Sum { points, .. } = &m.data else { unreachable!() };
            let mut v: Vec<(usize, f64)> = points.iter().map(|p| (p.attributes.len(), p.value)).collect();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v
        };
        // Own series: bound and recorded in one call.
        let a = core.bind_record(id, 2.0, "1:ks1:a");
        let b = core.bind_record(id, 3.0, "1:ks1:b");
        assert!(a >= 0 && b >= 0 && a != b);
        assert!(!core.record_overflow(id, 1.0, 2), "no release advice asked in this window yet");
        // Full: the value goes to the overflow series, nothing stays bound.
        assert_eq!(core.bind_record(id, 4.0, "1:ks1:c"), BIND_OVERFLOW);
        assert!(!core.record_overflow(id, 1.0, 1), "the caller does not hold both series");
        assert!(core.record_overflow(id, 5.0, 2));
        assert_eq!(core.bind_record(99, 1.0, "1:ks1:a"), -1, "unknown instrument");
        assert_eq!(sum(&mut core, 1.0), vec![(1, 2.0), (1, 3.0), (1, 9.0)]);
        // Next window: both bound series idle; the first miss on the full instrument is told to
        // release them (nothing recorded), after which the new set gets a reclaimed slot.
        assert!(!core.record_overflow(id, 1.0, 2), "advice not asked in this window");
        assert_eq!(core.bind_record(id, 7.0, "1:ks1:d"), BIND_RELEASE);
        assert_eq!(core.bind_record(id, 7.0, "1:ks1:d"), BIND_OVERFLOW, "advice given once per window");
        core.unbind(a as u32);
        core.unbind(b as u32);
        let d = core.bind_record(id, 8.0, "1:ks1:e");
        assert!(d >= 0, "an idle released series was reclaimed");
        assert_eq!(sum(&mut core, 2.0), vec![(1, 7.0), (1, 8.0)]);
    }

    #[test]
    fn keyed_reads_the_key_buffer_and_records_bad_bytes_without_attributes() {
        let mut core = Core::new();
        assert_eq!(core.configure("8:endpoints16:http://127.0.0.1"), abi::ERR_OK, "{}", core.error_text());
        let id = core.instrument(0, "c", "", "", false, &[]) as u32;
        let write = |core: &mut Core, key: &[u8]| {
            core.key_buf(key.len() as u32 + 8);
            core.keys[..key.len()].copy_from_slice(key);
            key.len() as u32
        };
        // The first `len` bytes only: what follows in the buffer is left from earlier keys.
        let len = write(&mut core, "1:ks2:h\u{e9}".as_bytes());
        let a = core.keyed(2, id, 2.0, len);
        assert!(a >= 0);
        let len = write(&mut core, b"1:ks1:b");
        assert!(core.keyed(2, id, 3.0, len) >= 0);
        assert_eq!(core.keyed(2, id, 4.0, len), core.bind_record(id, 0.0, "1:ks1:b"), "same set, same series");
        assert_eq!(core.keyed(1, id, 0.0, len), core.bind(id, "1:ks1:b"), "op 1 binds the same series");
        assert_eq!(core.keyed(0, id, 1.0, len), 0, "op 0 records");
        // Not UTF-8, or longer than the buffer: recorded without attributes, one drop counted each.
        let len = write(&mut core, &[b'1', b':', b'k', b's', b'1', b':', 0xff]);
        assert_eq!(core.keyed(2, id, 5.0, len), -1);
        assert_eq!(core.keyed(2, id, 6.0, u32::MAX), -1);
        core.keyed(0, id, 0.5, u32::MAX);
        assert_eq!(core.reg.stats().attributes_dropped, 3, "the three bad keys are counted");
        let batch = core.reg.collect(ms_to_ns(1.0));
        let m = batch.metric("c").unwrap();
        let edgemetrics::MetricData::Sum { points, .. } = &m.data else { unreachable!() };
        let mut got: Vec<(String, f64)> = points
            .iter()
            .map(|p| (p.attributes.iter().map(|kv| format!("{}={:?}", kv.key, kv.value)).collect(), p.value))
            .collect();
        got.sort_by(|x, y| x.0.cmp(&y.0));
        let want = [("", 11.5), ("k=Str(\"b\")", 8.0), ("k=Str(\"h\u{e9}\")", 2.0)];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v)));
    }

    fn dec(s: &str) -> Vec<(String, String)> {
        let mut buf = [("", AttrValue::Bool(false)); MAX_PAIRS];
        let (n, _) = decode_attrs(s, &mut buf).unwrap();
        buf[..n].iter().map(|(k, v)| (k.to_string(), format!("{v:?}"))).collect()
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the literal is the exact boundary the test probes
    fn ms_to_ns_matches_the_trunc_formula() {
        let former = |ms: f64| {
            if ms > 0.0 {
                let whole = ms.trunc();
                (whole as u64).saturating_mul(1_000_000).saturating_add(((ms - whole) * 1_000_000.0) as u64)
            } else {
                0
            }
        };
        for ms in [
            f64::NAN,
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            1e-9,
            0.5,
            1.0,
            1.999_999,
            1_763_780_000_123.456,
            4_503_599_627_370_495.5,
            9.007_199_254_740_993e15,
            1.8e13,
            1.8446744073709552e13,
            1.9e16,
            1.8446744073709552e19,
            1e300,
            f64::MAX,
            f64::INFINITY,
        ] {
            assert_eq!(ms_to_ns(ms), former(ms), "{ms}");
        }
    }

    #[test]
    fn unrepresentable_values_drop_alone_and_long_keys_keep_the_first_in_key_order() {
        let mut buf = [("", AttrValue::Bool(false)); MAX_PAIRS];
        let (n, dropped) = decode_attrs("1:ai99999999999999999999;1:bt1:cx0:x", &mut buf).unwrap();
        assert_eq!((n, dropped), (1, 3));
        assert_eq!(buf[0].0, "b");
        let mut key = String::new();
        for i in (0..100).rev() {
            let k = format!("k{i:03}");
            key.push_str(&format!("{}:{}t", k.len(), k));
        }
        assert!(decode_attrs(&key, &mut buf).is_none());
        let (v, dropped) = decode_many(&key);
        assert_eq!((v.pairs().len(), dropped), (MAX_PAIRS, 36));
        let mut keys: Vec<&str> = v.pairs().iter().map(|p| p.0).collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..64).map(|i| format!("k{i:03}")).collect::<Vec<_>>());
    }

    /// `Core::new_instrument` splits its one string by UTF-16 lengths as JS counts them.
    #[test]
    fn new_instrument_splits_its_text_by_utf16_lengths() {
        let mut core = Core::new();
        let buf = "8:endpoints16:http://127.0.0.111:selfMetricsf";
        assert_eq!(core.configure(buf), abi::ERR_OK, "{}", core.error_text());
        // The description "dé😀" is 4 UTF-16 units (7 bytes).
        let t = "jobsmsdé😀lib1.0";
        let scoped = core.new_instrument(0, t, 4, 2, 4, 3, false, 0, 0, false, &[]);
        assert!(scoped >= 0, "{}", core.error_text());
        assert!(core.scope.is_none(), "the scope applies to this call only");
        core.set_scope("lib", "1.0");
        assert_eq!(core.instrument(0, "jobs", "ms", "dé😀", false, &[]), scoped, "the same instrument");
        core.set_scope("", "");
        let plain = core.new_instrument(0, "jobs", 4, 0, 0, 0, false, 0, 0, false, &[]);
        assert!(plain >= 0 && plain != scoped, "an empty scope name is the default scope");
        let exp = core.new_instrument(3, "lat", 3, 0, 0, 0, true, 160, 20, false, &[]);
        assert_eq!(core.instrument_exponential("lat", "", "", 160, 20), exp);
        assert_eq!(core.new_instrument(3, "e", 1, 0, 0, 0, true, 160, 99, false, &[]), -(abi::ERR_RANGE as i32));
        let bounded = core.new_instrument(3, "h", 1, 0, 0, 0, false, 0, 0, true, &[1.0, 2.0]);
        assert_eq!(core.instrument(3, "h", "", "", true, &[1.0, 2.0]), bounded);
        // Lengths past the text, or splitting a character's surrogate pair: a type error.
        assert_eq!(core.new_instrument(0, "ab", 3, 0, 0, 0, false, 0, 0, false, &[]), -(abi::ERR_TYPE as i32));
        assert_eq!(core.new_instrument(0, "a😀", 1, 0, 1, 0, false, 0, 0, false, &[]), -(abi::ERR_TYPE as i32));
        assert!(core.error_text().contains("lengths"), "{}", core.error_text());
    }

    /// `Core::set_scope`: instruments created after it are in that scope (same name, another
    /// instrument); the Tail Worker's `ingest` keeps every producer's scopes in the pushed window.
    #[cfg(feature = "decode")]
    #[test]
    fn scopes_reach_the_batch_and_survive_ingest() {
        let mut core = Core::new();
        let buf = "6:formati4;8:endpoints20:http://127.0.0.1:9/x11:serviceNames4:shop11:selfMetricsf";
        assert_eq!(core.configure(buf), abi::ERR_OK, "{}", core.error_text());
        let plain = core.instrument(0, "jobs", "", "", false, &[]);
        core.set_scope("queue-lib", "2.1.0");
        let scoped = core.instrument(0, "jobs", "", "", false, &[]);
        assert_eq!(core.instrument(0, "jobs", "", "", false, &[]), scoped, "found again in its scope");
        core.set_scope(&"x".repeat(256), "");
        assert_eq!(core.instrument(0, "jobs", "", "", false, &[]), -(abi::ERR_TYPE as i32));
        assert!(core.error_text().contains("instrumentation scope"), "{}", core.error_text());
        core.set_scope("", "");
        assert_eq!(core.instrument(0, "jobs", "", "", false, &[]), plain, "back in the default scope");
        assert!(plain >= 0 && scoped >= 0 && plain != scoped);
        core.reg.record(InstrumentId::from_index(plain as u32), 1.0, &[]);
        core.reg.record(InstrumentId::from_index(scoped as u32), 5.0, &[]);
        let batch = core.reg.collect(1_000_000);
        let compact = edgemetrics::encode::compact::encode(&batch);

        // Two producers' batches merge per scope in the aggregator.
        let mut tail = Core::new();
        let buf = "6:formati4;8:endpoints20:http://127.0.0.1:9/x11:serviceNames4:tail11:selfMetricsf";
        assert_eq!(tail.configure(buf), abi::ERR_OK, "{}", tail.error_text());
        tail.seed(&[1, 2, 3, 4]);
        assert_eq!(tail.ingest(&compact), 0);
        assert_eq!(tail.ingest(&compact), 0);
        assert!(tail.start(2_000.0, 1_000.0, false));
        assert_eq!(tail.next(2_000.0), 1);
        let pushed = edgemetrics::encode::compact::decode(tail.req_body_bytes()).unwrap();
        let got: Vec<((&str, &str), f64)> = pushed
            .metrics
            .iter()
            .map(|m| match &m.data {
                edgemetrics::MetricData::Sum { points, .. } => (pushed.scope_of(m), points[0].value),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, [(("edgemetrics", edgemetrics::SCOPE_VERSION), 2.0), (("queue-lib", "2.1.0"), 10.0)]);
    }

    /// `Core::ingest` (feature `decode`, what edgemetrics/tail calls): malformed input is refused
    /// and counted, batches of one producer service merge whatever their instance id, another
    /// service's batch waits for the window to be pushed, and the pushed window holds the sums.
    #[cfg(feature = "decode")]
    #[test]
    fn ingest_merges_refuses_and_separates_resources() {
        fn producer(service: &str, instance: &str, n: f64) -> Vec<u8> {
            let cfg = Config::new(service).self_metrics(false).resource_attr("service.instance.id", instance);
            let mut reg = Registry::new(cfg);
            let c = reg.counter("jobs", InstrumentOptions::default()).unwrap();
            c.add(&mut reg, n, &[]);
            edgemetrics::encode::compact::encode(&reg.collect(1_000_000))
        }
        let mut core = Core::new();
        let buf = "6:formati4;8:endpoints20:http://127.0.0.1:9/x11:serviceNames4:tail11:selfMetricsf";
        assert_eq!(core.configure(buf), abi::ERR_OK, "{}", core.error_text());
        core.seed(&[1, 2, 3, 4]);
        assert_eq!(core.ingest(b"not a batch"), 2);
        assert!(!core.error_text().is_empty());
        assert_eq!(core.ingest(&producer("shop", "isolate-a", 2.0)), 0);
        assert_eq!(core.ingest(&producer("shop", "isolate-b", 5.0)), 0, "instance ids differ, the service is the same");
        assert_eq!(core.window_points(), 1);
        assert_eq!(core.ingest(&producer("billing", "isolate-c", 1.0)), 1, "another service waits for the push");
        assert_eq!(core.ingest_stats(), vec![2, 1, 0]);
        assert!(core.start(2_000.0, 1_000.0, false));
        assert_eq!(core.next(2_000.0), 1);
        let pushed = edgemetrics::encode::compact::decode(core.req_body_bytes()).unwrap();
        match &pushed.metric("jobs").unwrap().data {
            edgemetrics::MetricData::Sum { points, .. } => assert_eq!(points[0].value, 7.0),
            _ => unreachable!(),
        }
        assert_eq!(pushed.resource_str("service.name"), Some("shop"));
        assert_ne!(pushed.resource_str("service.instance.id"), Some("isolate-a"), "the aggregator's own id");
        assert_eq!(core.window_points(), 0);
        assert_eq!(core.ingest(&producer("billing", "isolate-c", 1.0)), 0, "a new window takes it");
    }

    /// A `collect_only` [`Core::start`] collects at the call: what is recorded after it waits
    /// for the next flush, whenever the `start` that encodes the collected batch runs; with
    /// nothing recorded, that flush has nothing to send; otherwise `start` collects itself.
    #[test]
    fn collect_only_collects_at_the_call_and_the_next_start_sends_it() {
        let mut core = Core::new();
        // OTLP JSON: the pushed value is read from the body's text.
        let buf = "6:formati1;8:endpoints20:http://127.0.0.1:9/x11:serviceNames1:s11:selfMetricsf";
        assert_eq!(core.configure(buf), abi::ERR_OK, "{}", core.error_text());
        core.seed(&[1, 2, 3, 4]);
        let id = core.instrument(0, "c", "", "", false, &[]) as u32;
        let pushed = |core: &mut Core, now: f64| {
            assert_eq!(core.next(now), 1);
            let body = String::from_utf8(core.req_body_bytes().to_vec()).unwrap();
            core.on_response(200, None, &[], now);
            assert_eq!(core.next(now), 3);
            let at = body.find("\"asDouble\":").expect("one point") + 11;
            assert!(body[at..].find("\"asDouble\":").is_none(), "one point: {body}");
            body[at..].split([',', '}']).next().unwrap().parse::<f64>().unwrap()
        };
        core.record(id, 2.0, "");
        assert!(core.start(1_000.0, 1_000.0, true));
        core.record(id, 5.0, "");
        assert!(core.start(1_001.0, 1_000.0, false));
        assert_eq!(pushed(&mut core, 1_002.0), 2.0, "only what was recorded before the collect");
        // Nothing collected ahead: start collects the 5 recorded after the last collect.
        assert!(core.start(2_000.0, 1_000.0, false));
        assert_eq!(pushed(&mut core, 2_001.0), 5.0);
        // Nothing recorded since: the taken flush has nothing to send, even with a record after it.
        assert!(!core.start(3_000.0, 1_000.0, true));
        core.record(id, 7.0, "");
        assert!(!core.start(3_001.0, 1_000.0, false));
        assert!(core.start(4_000.0, 1_000.0, false));
        assert_eq!(pushed(&mut core, 4_001.0), 7.0);
    }

    #[test]
    fn attribute_keys_decode() {
        assert_eq!(
            dec("5:routes6:/cart;2:okt1:ni200;1:xd3ff8000000000000"),
            vec![
                ("route".into(), "Str(\"/cart;\")".into()),
                ("ok".into(), "Bool(true)".into()),
                ("n".into(), "I64(200)".into()),
                ("x".into(), "F64(1.5)".into()),
            ]
        );
        // UTF-16 lengths: "é" is one unit, "😀" is two.
        assert_eq!(dec("1:és2:😀"), vec![("é".into(), "Str(\"😀\")".into())]);
        assert_eq!(dec("1:adfff0000000000000"), vec![("a".into(), "F64(-inf)".into())]);
        assert_eq!(dec("1:ad3ff8"), vec![]);
        // Malformed tails are dropped, what came before is kept.
        assert_eq!(dec("1:at9:a"), vec![("a".into(), "Bool(true)".into())]);
        assert_eq!(dec("x"), vec![]);
        assert_eq!(dec(""), vec![]);
    }
}
