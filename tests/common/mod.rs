//! Test harness shared by the integration tests: a minimal HTTP/1.1 client over `std::net`, and
//! real servers (Prometheus, Pushgateway) started on 127.0.0.1 and stopped by PID on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) to `127.0.0.1:port` and reads the whole response.
pub fn http(method: &str, port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad HTTP response"))
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).ok()?.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body = out;
    }
    Some(Response { status, headers, body })
}

/// A free TCP port on 127.0.0.1 (bound then released; the race is acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed (by PID) and reaped on drop, with its temp dir removed.
pub struct Server {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("edgemetrics-{tag}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn require(bin: &str) -> String {
    assert!(
        std::path::Path::new(bin).exists(),
        "{bin} is missing: run the README test command (tests/run.sh), which installs it with apt-get"
    );
    bin.to_string()
}

fn wait_ready(port: u16, path: &str, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http("GET", port, path, &[], b"") {
            if r.status == 200 {
                return;
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} not ready on 127.0.0.1:{port} within 30 s");
}

/// Starts Prometheus with the remote-write receiver on 127.0.0.1.
pub fn prometheus() -> Server {
    prometheus_with(&[])
}

/// Starts Prometheus with the remote-write receiver and native histograms enabled.
pub fn prometheus_native_histograms() -> Server {
    prometheus_with(&["--enable-feature=native-histograms"])
}

/// Starts Prometheus with the remote-write receiver and `extra` flags on 127.0.0.1.
pub fn prometheus_with(extra: &[&str]) -> Server {
    let bin = require("/usr/bin/prometheus");
    let dir = temp_dir("prom");
    let port = free_port();
    std::fs::write(dir.join("prometheus.yml"), "global:\n  scrape_interval: 1h\nscrape_configs: []\n").unwrap();
    let mut child = Command::new(bin)
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .expect("start prometheus");
    wait_ready(port, "/-/ready", &mut child, "prometheus");
    Server { port, child, dir }
}

/// Starts a Pushgateway on 127.0.0.1.
pub fn pushgateway() -> Server {
    let bin = require("/usr/bin/prometheus-pushgateway");
    let dir = temp_dir("pgw");
    let port = free_port();
    let mut child = Command::new(bin)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // No persistence: the Debian package's default file would carry groups into the next run.
        .arg("--persistence.file=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .expect("start pushgateway");
    wait_ready(port, "/-/ready", &mut child, "pushgateway");
    Server { port, child, dir }
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Runs a PromQL instant query and returns the raw JSON text of the response.
pub fn prom_query(port: u16, q: &str) -> String {
    let r = http("GET", port, &format!("/api/v1/query?query={}", urlencode(q)), &[], b"").expect("query");
    assert_eq!(r.status, 200, "query {q}: {}", r.text());
    r.text()
}
