//! A fault-injecting HTTP receiver on 127.0.0.1 (one `std::net` server thread), and the native
//! test host that drives a [`Pusher`] over real sockets.
//!
//! The receiver answers each connection according to a script of [`Fault`]s (then a default),
//! records every request it read, and keeps a store deduplicated by the batch-id header: the
//! receiver-side recipe from the `push` module docs (look the id up, store, then remember it).
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgemetrics::push::{Action, Pusher, Report, Request, Response, TransportError, BATCH_ID_HEADER};

/// What the receiver does with one connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Read the request, store it (deduplicated), answer 200 with an empty body.
    Ok,
    /// Read, store, answer 200 with this body (e.g. an OTLP partial success).
    OkBody(Vec<u8>),
    /// Read, do not store, answer this status with these headers.
    Status(u16, Vec<(String, String)>),
    /// Read, sleep this long, then answer this status (storing first only for a 2xx status). The
    /// client has usually given up by then.
    Slow(Duration, u16),
    /// Close the connection without reading the request (the client sees a reset or EOF).
    ResetBeforeRead,
    /// Read and store the request, then close without answering (ambiguous for the client).
    ResetAfterStore,
}

impl Fault {
    pub fn status(s: u16) -> Fault {
        Fault::Status(s, Vec::new())
    }
}

/// A request as the receiver read it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub fault: Fault,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Fault>,
    default: Option<Fault>,
    received: Vec<Received>,
    /// Batch ids stored (dedup set) and the bodies stored once each.
    seen: HashSet<String>,
    stored: Vec<Vec<u8>>,
    duplicates: u64,
    connections: u64,
    /// Random faults: (generator state, per-mille probability, faults to pick from).
    random: Option<(u64, u32, Vec<Fault>)>,
    injected: u64,
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The receiver. Stopped (flag + wake-up connection, thread joined) on drop.
pub struct Faulty {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Faulty {
    /// Starts the receiver; connections beyond the script get `Fault::Ok`.
    pub fn start() -> Faulty {
        Faulty::start_on(0)
    }

    /// Starts the receiver on a given port (0: any free port).
    pub fn start_on(port: u16) -> Faulty {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // One connection at a time: each has a bounded lifetime (read timeout, bounded
            // sleeps), and the loop ends when the stop flag is set.
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = conn {
                    serve(s, &st);
                }
            }
        });
        Faulty { port, state, stop, thread: Some(thread) }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// Faults for the next connections, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().script.extend(faults);
    }
    /// What connections get once the script is used up.
    pub fn set_default(&self, f: Fault) {
        self.state.lock().unwrap().default = Some(f);
    }
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
    pub fn stored(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().stored.clone()
    }
    pub fn duplicates(&self) -> u64 {
        self.state.lock().unwrap().duplicates
    }
    pub fn connections(&self) -> u64 {
        self.state.lock().unwrap().connections
    }
    /// Once the script is used up, each connection gets a fault drawn from `faults` with
    /// probability `permille`/1000 (seeded, reproducible); `None` switches that off.
    pub fn set_random(&self, random: Option<(u64, u32, Vec<Fault>)>) {
        self.state.lock().unwrap().random = random;
    }
    /// Random faults injected so far.
    pub fn injected(&self) -> u64 {
        self.state.lock().unwrap().injected
    }
    pub fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.received.clear();
        s.stored.clear();
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)), Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, state: &Mutex<State>) {
    let fault = {
        let mut st = state.lock().unwrap();
        st.connections += 1;
        match st.script.pop_front() {
            Some(f) => f,
            None => {
                let mut injected = None;
                if let Some((seed, permille, faults)) = st.random.as_mut() {
                    if splitmix(seed) % 1000 < *permille as u64 {
                        injected = Some(faults[(splitmix(seed) % faults.len() as u64) as usize].clone());
                    }
                }
                match injected {
                    Some(f) => {
                        st.injected += 1;
                        f
                    }
                    None => st.default.clone().unwrap_or(Fault::Ok),
                }
            }
        }
    };
    if fault == Fault::ResetBeforeRead {
        // Unread data in the receive buffer makes the kernel answer the close with a RST.
        std::thread::sleep(Duration::from_millis(2));
        drop(s);
        return;
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let Some((method, path, headers, body)) = read_request(&mut s) else { return };
    let rec = Received { method, path, headers, body, fault: fault.clone(), at: Instant::now() };
    let store = matches!(fault, Fault::Ok | Fault::OkBody(_) | Fault::ResetAfterStore)
        || matches!(fault, Fault::Slow(_, 200..=299));
    {
        let mut st = state.lock().unwrap();
        if store {
            // The dedup recipe: a known batch id is acknowledged without storing again.
            match rec.header(BATCH_ID_HEADER) {
                Some(id) if st.seen.contains(id) => st.duplicates += 1,
                id => {
                    st.stored.push(rec.body.clone());
                    if let Some(id) = id {
                        let id = id.to_string();
                        st.seen.insert(id);
                    }
                }
            }
        }
        st.received.push(rec);
    }
    let (status, headers, body): (u16, Vec<(String, String)>, Vec<u8>) = match fault {
        Fault::Ok => (200, vec![], vec![]),
        Fault::OkBody(b) => (200, vec![("Content-Type".into(), "application/x-protobuf".into())], b),
        Fault::Status(code, h) => (code, h, b"fault injected".to_vec()),
        Fault::Slow(d, code) => {
            std::thread::sleep(d);
            (code, vec![], vec![])
        }
        Fault::ResetAfterStore => {
            let _ = s.shutdown(Shutdown::Both);
            return;
        }
        Fault::ResetBeforeRead => unreachable!(),
    };
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = s.write_all(out.as_bytes());
    let _ = s.write_all(&body);
    let _ = s.flush();
}

type Parsed = (String, String, Vec<(String, String)>, Vec<u8>);

fn read_request(s: &mut TcpStream) -> Option<Parsed> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    if len > 64 << 20 {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some((method, path, headers, body))
}

// ------------------------------------------------------------------ native host

/// Unix time in milliseconds from the system clock.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// An HTTP response as the host read it.
pub struct HostResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn classify(e: &std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::ConnectionRefused => TransportError::Refused,
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout,
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::UnexpectedEof => TransportError::Reset,
        _ => TransportError::Other,
    }
}

/// Sends `req` over a fresh connection (HTTP/1.1, `Connection: close`) with connect, write and
/// read timeouts of `req.timeout_ms` (and one overall deadline), and maps failures to
/// [`TransportError`]. Gzip is not implemented by this host (the tests never ask for it).
pub fn send(req: &Request) -> Result<HostResponse, TransportError> {
    assert!(!req.gzip, "the native test host does not gzip");
    let rest = req.url.strip_prefix("http://").expect("test host speaks plain http");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = authority.parse().expect("test URLs use an IP:port");
    let timeout = Duration::from_millis(req.timeout_ms.max(1));
    let deadline = Instant::now() + timeout;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| classify(&e))?;
    s.set_write_timeout(Some(timeout)).map_err(|e| classify(&e))?;
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        req.method.as_str(),
        req.body.len()
    );
    for h in &req.headers {
        head.push_str(&format!("{}: {}\r\n", h.name, h.value));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(|e| classify(&e))?;
    s.write_all(&req.body).map_err(|e| classify(&e))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Timeout);
        }
        s.set_read_timeout(Some(left)).map_err(|e| classify(&e))?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(classify(&e)),
        }
        if raw.len() > 16 << 20 {
            return Err(TransportError::Other);
        }
    }
    // Closed before a complete head: the request may have been processed, nothing came back.
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or(TransportError::Reset)?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| TransportError::Other)?;
    let mut lines = head.split("\r\n");
    let status: u16 =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or(TransportError::Other)?;
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Ok(HostResponse { status, headers, body: raw[end + 4..].to_vec() })
}

/// How the host tells time: the real clock (sleeping on `Wait`), or a virtual clock that jumps
/// to the wait's end (network IO stays real).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    Real,
    Virtual,
}

/// What one flush looked like from the host.
pub struct Flush {
    pub report: Report,
    /// Wall-clock time the loop took.
    pub elapsed: Duration,
    /// Waits the plan asked for, in ms.
    pub waits: Vec<u64>,
}

/// The host loop: `next` → send / wait / done. Bounded to 1 000 steps and, on the real clock, by
/// the deadline plus a margin.
pub fn drive(p: &mut Pusher, clock: Clock, now_ms: &mut u64) -> Flush {
    let started = Instant::now();
    let mut waits = Vec::new();
    for _ in 0..1_000 {
        if clock == Clock::Real {
            *now_ms = unix_ms();
        }
        let req = match p.next(*now_ms) {
            Action::Send(req) => req.clone(),
            Action::Wait { until_ms } => {
                waits.push(until_ms - *now_ms);
                match clock {
                    Clock::Real => {
                        let ms = until_ms.saturating_sub(unix_ms());
                        assert!(ms <= 60_000, "wait of {ms} ms");
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                    Clock::Virtual => *now_ms = until_ms,
                }
                continue;
            }
            Action::Done(r) => return Flush { report: r.clone(), elapsed: started.elapsed(), waits },
            a => panic!("host loop got {a:?}"),
        };
        let sent = Instant::now();
        let result = send(&req);
        match clock {
            Clock::Real => *now_ms = unix_ms(),
            // Virtual time still moves by the real duration of the exchange.
            Clock::Virtual => *now_ms += sent.elapsed().as_millis() as u64,
        }
        match result {
            Ok(r) => {
                let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                p.on_response(&Response { status: r.status, headers: &headers, body: &r.body }, *now_ms).unwrap();
            }
            Err(e) => p.on_error(e, *now_ms).unwrap(),
        }
    }
    panic!("flush did not finish within 1 000 steps")
}

/// Formats unix seconds as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), independently of
/// the parser under test (civil-from-days by repeated subtraction).
pub fn imf_fixdate(unix_s: u64) -> String {
    let mut days = unix_s / 86_400;
    let secs = unix_s % 86_400;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mut year = 1970u64;
    loop {
        let len = if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let lens = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= lens[month] {
        days -= lens[month];
        month += 1;
    }
    let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{weekday}, {:02} {} {year} {:02}:{:02}:{:02} GMT",
        days + 1,
        names[month],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
