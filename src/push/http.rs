//! The HTTP surface of the push plan: the [`Request`] the host sends, the [`Response`] (or
//! [`TransportError`]) it reports back, and the small parsers the decision needs (`Retry-After`
//! in both its forms, including a `no_std` IMF-fixdate parser).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::encode::Method;

/// One request header.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name as it should be sent.
    pub name: Cow<'static, str>,
    /// Header value (already validated: no CR, LF or NUL).
    pub value: String,
    /// `true` for credentials (authorization, API keys): the value never appears in `Debug`
    /// output, errors, reports or self-metrics.
    pub secret: bool,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        f.write_str(": ")?;
        if self.secret {
            f.write_str("<redacted>")
        } else {
            f.write_str(&self.value)
        }
    }
}

/// What the host must send: method, absolute URL, headers and body, plus how to send it.
///
/// The same `Request` (same bytes, same batch-id header) is handed out for every attempt of one
/// batch.
#[derive(Clone, PartialEq)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL (`endpoint` + the format's path).
    pub url: String,
    /// Headers, in the order to send them. Includes the batch id, the format's content headers,
    /// authorization and configured extra headers.
    pub headers: Vec<Header>,
    /// The body, uncompressed. When [`gzip`](Self::gzip) is set the host compresses it
    /// (`CompressionStream("gzip")` in JS) before sending; `Content-Encoding: gzip` is already in
    /// `headers`.
    pub body: Vec<u8>,
    /// The host must gzip the body before sending it.
    pub gzip: bool,
    /// How long the host may wait for this attempt's response, in milliseconds (the smaller of the
    /// per-attempt timeout and the time left before the deadline). Past it, abort the request and
    /// report [`TransportError::Timeout`].
    pub timeout_ms: u64,
}

impl Request {
    /// The value of header `name` (ASCII-case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &RedactedUrl(&self.url))
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("gzip", &self.gzip)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Debug view of a URL without its query string (which may carry an API key).
pub(crate) struct RedactedUrl<'a>(pub(crate) &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.find('?') {
            Some(i) => {
                f.write_str("\"")?;
                f.write_str(&self.0[..i])?;
                f.write_str("?<redacted>\"")
            }
            None => fmt::Debug::fmt(self.0, f),
        }
    }
}

/// A response as the host received it. Everything is borrowed: the host keeps ownership.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (any case). Only `Retry-After` and `Content-Type` are read.
    pub headers: &'a [(&'a str, &'a str)],
    /// Response body (read only for OTLP `partial_success`).
    pub body: &'a [u8],
}

impl<'a> Response<'a> {
    /// A response with a status only.
    pub fn status(status: u16) -> Self {
        Response { status, headers: &[], body: &[] }
    }
    /// The value of header `name` (ASCII-case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// Why the host got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// The connection was refused (nothing listening): the request certainly did not arrive.
    Refused,
    /// The connection was reset or closed before a complete response: the request may or may not
    /// have been processed (the batch id lets the receiver drop a duplicate).
    Reset,
    /// No response within [`Request::timeout_ms`]: as ambiguous as `Reset`.
    Timeout,
    /// DNS, TLS or any other failure the host cannot classify.
    Other,
}

impl TransportError {
    /// A lower-case name for reports and self-metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportError::Refused => "refused",
            TransportError::Reset => "reset",
            TransportError::Timeout => "timeout",
            TransportError::Other => "other",
        }
    }
    /// `true` when the request may have reached the receiver.
    pub fn ambiguous(self) -> bool {
        !matches!(self, TransportError::Refused)
    }
}

/// Parses a `Retry-After` value into a delay in milliseconds from `now_ms` (unix milliseconds).
///
/// Accepts `delay-seconds` (digits only) and the IMF-fixdate form of an HTTP-date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`); a date in the past means "now" (0). The obsolete RFC 850
/// and asctime date forms, and anything malformed, give `None`: the caller then falls back to
/// its own backoff.
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Saturate rather than overflow: an absurd value simply lands past any deadline.
        let mut secs: u64 = 0;
        for b in v.bytes() {
            secs = secs.saturating_mul(10).saturating_add((b - b'0') as u64);
        }
        return Some(secs.saturating_mul(1000));
    }
    let at_s = parse_imf_fixdate(v)?;
    Some(at_s.saturating_mul(1000).saturating_sub(now_ms))
}

/// Parses an IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, into unix
/// seconds. The day name must be one of the seven (its agreement with the date is not checked,
/// as recipients are told to be lenient there); every numeric field is range-checked, including
/// the day against the month length in that year. Dates before 1970 give `None`.
pub fn parse_imf_fixdate(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' {
        return None;
    }
    if b[19] != b':' || b[22] != b':' || &b[25..29] != b" GMT" {
        return None;
    }
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    if !DAYS.contains(&&b[0..3]) {
        return None;
    }
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let month = MONTHS.iter().position(|m| *m == &b[8..11])? as u32 + 1;
    let num = |r: core::ops::Range<usize>| -> Option<u32> {
        let mut n = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + (c - b'0') as u32;
        }
        Some(n)
    };
    let day = num(5..7)?;
    let year = num(12..16)?;
    let (hh, mm, ss) = (num(17..19)?, num(20..22)?, num(23..25)?);
    // 60 allows a leap second (it then reads as the next minute's first second).
    if hh > 23 || mm > 59 || ss > 60 || year < 1970 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > month_len {
        return None;
    }
    let days = days_from_civil(year as i64, month as i64, day as i64);
    Some(days as u64 * 86_400 + hh as u64 * 3600 + mm as u64 * 60 + ss as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`:
/// count in 400-year eras starting in March so the leap day is the last day of the year).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Standard base64 with padding (for `Authorization: Basic`).
pub(crate) fn base64(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    crate::codec::text::push_base64(&mut out, input, crate::codec::text::BASE64_STD);
    out
}

/// Lower-case hex of a 128-bit id (32 characters).
pub(crate) fn hex128(v: u128) -> String {
    let mut s = String::with_capacity(32);
    crate::codec::text::push_hex(&mut s, v, 32);
    s
}

/// `true` for an RFC 9110 token (header names).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `true` when `s` is safe as a header value: visible ASCII, space or tab, nothing else (CR/LF
/// would let a value inject headers).
pub(crate) fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Checks an endpoint: `http://` or `https://`, a non-empty host, printable ASCII, no userinfo
/// (credentials in the URL would leak into logs: use [`Auth::Basic`](super::Auth::Basic)), no
/// fragment.
pub(crate) fn check_endpoint(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("endpoint must start with http:// or https://")?;
    if !url.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err("endpoint must be printable ASCII without spaces");
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() {
        return Err("endpoint has no host");
    }
    if authority.contains('@') {
        return Err("endpoint must not carry credentials: use Auth::Basic");
    }
    if url.contains('#') {
        return Err("endpoint must not have a fragment");
    }
    Ok(())
}

/// Joins the endpoint and a format path (`/v1/metrics`) on the endpoint's path part, avoiding a
/// doubled `/`: a query stays after the joined path (`http://h/base?x=1` gives
/// `http://h/base/v1/metrics?x=1`). An endpoint whose path already ends in the format path (a full
/// URL such as `https://otlp.example/v1/metrics?tenant=a`) is used as is.
///
/// The path part ends at the first `?` or `#`, and everything from there is kept unchanged after
/// the joined path. A fragment never gets here in practice ([`check_endpoint`] refuses an endpoint
/// with one, in both hosts); if one did, it would stay last, after the query, where URL syntax puts
/// it (and `fetch` does not send it).
pub(crate) fn join_url(endpoint: &str, path: &str) -> String {
    // `split_at_checked`: `?` and `#` are ASCII, so this never fails, and no str slicing panic
    // (with the formatting it links) reaches the wasm module.
    let cut = endpoint.bytes().position(|b| b == b'?' || b == b'#').unwrap_or(endpoint.len());
    let (base, tail) = endpoint.split_at_checked(cut).unwrap_or((endpoint, ""));
    let trimmed = base.trim_end_matches('/');
    let full = path.len() > 1 && trimmed.ends_with(path.trim_end_matches('/'));
    let mut url = String::from(if full || path.starts_with('/') { trimmed } else { base });
    if !full {
        url.push_str(path);
    }
    url.push_str(tail);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        assert_eq!(retry_after_ms("0", 5), Some(0));
        assert_eq!(retry_after_ms("120", 5), Some(120_000));
        assert_eq!(retry_after_ms(" 3 ", 5), Some(3_000));
        assert_eq!(retry_after_ms("99999999999999999999999", 0), Some(u64::MAX));
        assert_eq!(retry_after_ms("-1", 0), None);
        assert_eq!(retry_after_ms("1.5", 0), None);
        assert_eq!(retry_after_ms("", 0), None);
        assert_eq!(retry_after_ms("soon", 0), None);
    }

    #[test]
    fn retry_after_dates() {
        // 1994-11-06T08:49:37Z = 784111777 (RFC 9110's example).
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        // Leap days: 2000 is a leap year, 1900/2100 are not.
        assert_eq!(parse_imf_fixdate("Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
        assert_eq!(parse_imf_fixdate("Mon, 29 Feb 2100 00:00:00 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sat, 31 Dec 2039 23:59:59 GMT"), Some(2_208_988_799));
        assert_eq!(parse_imf_fixdate("Sun, 31 Apr 2024 00:00:00 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 24:00:00 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_imf_fixdate("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sun Nov  6 08:49:37 1994"), None);
        assert_eq!(parse_imf_fixdate("Xyz, 06 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1969 08:49:37 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sun, 0a Nov 1994 08:49:37 GMT"), None);
        let now = 784_111_777_000 - 2_500;
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(2_500));
        // In the past: retry now.
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now + 10_000), Some(0));
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 22), 20_779);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn base64_and_hex() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(hex128(0xff), "000000000000000000000000000000ff");
        assert_eq!(hex128(u128::MAX).len(), 32);
    }

    #[test]
    fn endpoints() {
        assert!(check_endpoint("http://127.0.0.1:9090/api/v1/write").is_ok());
        assert!(check_endpoint("https://otlp.example.com").is_ok());
        assert!(check_endpoint("ftp://x").is_err());
        assert!(check_endpoint("http://").is_err());
        assert!(check_endpoint("http://user:pw@host/").is_err());
        assert!(check_endpoint("http://host/a b").is_err());
        assert!(check_endpoint("http://host/#x").is_err());
        assert_eq!(join_url("http://h/", "/v1/metrics"), "http://h/v1/metrics");
        assert_eq!(join_url("http://h/api/v1/write", ""), "http://h/api/v1/write");
        // A full URL already ending in the format's path is used as is (no doubled path).
        assert_eq!(join_url("https://h/otlp/v1/metrics", "/v1/metrics"), "https://h/otlp/v1/metrics");
        assert_eq!(join_url("https://h/otlp/v1/metrics/", "/v1/metrics"), "https://h/otlp/v1/metrics");
        assert_eq!(join_url("http://h/api/v1/write", "/api/v1/write"), "http://h/api/v1/write");
        assert_eq!(join_url("http://h/otlp", "/v1/metrics"), "http://h/otlp/v1/metrics");
    }

    /// The path is joined on the endpoint's path part: a query stays after it, and the check for
    /// a full URL looks at the path part only.
    #[test]
    fn join_url_keeps_the_query_after_the_path() {
        let otlp = "/v1/metrics";
        assert_eq!(join_url("http://h/v1/metrics?tenant=a", otlp), "http://h/v1/metrics?tenant=a");
        assert_eq!(join_url("http://h/v1/metrics/?tenant=a", otlp), "http://h/v1/metrics?tenant=a");
        assert_eq!(join_url("http://h/base?x=1", otlp), "http://h/base/v1/metrics?x=1");
        assert_eq!(join_url("http://h/base/?x=1&y=/v1/metrics", otlp), "http://h/base/v1/metrics?x=1&y=/v1/metrics");
        assert_eq!(join_url("http://h?x=1", otlp), "http://h/v1/metrics?x=1");
        assert_eq!(join_url("http://h:4318/?", otlp), "http://h:4318/v1/metrics?");
        // A query that merely ends like the path is not the path.
        assert_eq!(join_url("http://h/?next=/v1/metrics", otlp), "http://h/v1/metrics?next=/v1/metrics");
        assert_eq!(join_url("http://h/api/v1/write?db=x", "/api/v1/write"), "http://h/api/v1/write?db=x");
        assert_eq!(join_url("http://h/base?x=1", ""), "http://h/base?x=1");
        // A fragment (refused by `check_endpoint`) would stay last, after the query.
        assert_eq!(join_url("http://h/base?x=1#f", otlp), "http://h/base/v1/metrics?x=1#f");
        assert_eq!(join_url("http://h/base#f", otlp), "http://h/base/v1/metrics#f");
        // Through the push plan, as both hosts send it.
        assert!(check_endpoint("http://h/v1/metrics?tenant=a").is_ok());
    }

    #[test]
    fn header_checks() {
        assert!(is_token("X-Api-Key"));
        assert!(!is_token("Bad Name"));
        assert!(!is_token(""));
        assert!(is_header_value("Bearer abc"));
        assert!(!is_header_value("a\r\nX-Evil: 1"));
    }
}
