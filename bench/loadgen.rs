//! Load generator for pat-service.
//!
//! `--mode pairs` (the default), the write path: each client records an attendance
//! (`POST /api/v1/attendances`) and then its screening (`PUT /api/v1/attendances/{id}/screening`),
//! over and over, as an ED's integration engine would. A general HTTP load tool cannot do this
//! because the PUT needs the id the POST answered.
//!
//! `--mode bookings`, the booking race (bench/bookings.sh): first it prepares accepted referrals
//! through the API (attendance, PAT-positive screening, referral `accepted`), `--hold` + 1 per
//! client, then each client books a random slot of `--slots-file` with one of its referrals that
//! holds no open booking (`POST /api/v1/bookings`), over and over: 201 booked, 409 slot taken.
//! Once a client holds more than `--hold` open bookings it cancels its oldest
//! (`POST /api/v1/bookings/{id}/outcome`, with `--ahw-token`), which frees that slot and that
//! referral again, so the clients keep racing for a nearly full set of slots for the whole run.
//!
//! `--mode crash`, the crash-safety test (bench/crash.sh): pairs as above, but each request is
//! sent again (same body, same idempotency key: the attendance's `source_id`, the screening's
//! attendance id) until it is acknowledged (a 2xx answer); a refused connection, a reset, a
//! timeout (`--attempt-timeout`) or a 5xx answer is no acknowledgement. The load runs until
//! `--stop-file` exists; then no new pair starts and the request in flight keeps trying for up to
//! `--drain` seconds. Its attendances are spread over `--patients` (20 000) patients and arrive at
//! random times of the last `--history-days` (30), one in eight `planned`, so that they arrive out
//! of time order and the 7-day facts are a mix of true and false. `--ledger` gets one CSV line per request sent: what it was, its key, the
//! attendance id answered, how many times it was sent and the status that acknowledged it (0 when
//! none did), for the checker (bench/crash_check.py) to hold against the database.
//!
//! Latencies are recorded only after the warm-up, for requests that start and finish inside the
//! measured window. Any transport failure or unexpected answer counts as an error (warm-up
//! included); the first error's body goes to stderr. At the end one line of JSON goes to stdout.
//!
//! It shares the machine with the service and its database, so it is built to spend as little CPU
//! per request as it can: all clients are tasks on one thread (a `current_thread` runtime); each
//! client keeps one HTTP/1.1 keep-alive connection (`TCP_NODELAY`) of a minimal client of its own
//! (plain `http://` only), which writes each request in one write and reads the answer into a
//! reused buffer: the status line, the headers, then exactly `Content-Length` bytes of body (a
//! chunked or close-delimited body is read too). A connection the service closed before answering
//! is reopened and the request sent once more; each request must be answered within 30 s. Request
//! bodies are formatted into a reused buffer, random values come from a per-client generator
//! seeded by the OS, and the `id` of an answer is read without parsing it when the JSON starts with
//! it (as the service writes it), parsed otherwise.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080 --token "$TOKEN" --clients 32
//! cargo run --release --example loadgen -- --mode bookings --url http://127.0.0.1:8080 --token "$TOKEN" \
//!     --ahw-token "$AHW_TOKEN" --slots-file slots.txt --hold 2 --clients 32
//! ```

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, Timelike};
use clap::{Parser, ValueEnum};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use uuid::Uuid;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Attendance + screening pairs (the write path)
    Pairs,
    /// Clients racing to book a limited set of slots
    Bookings,
    /// Attendance + screening pairs, each request retried until acknowledged, with a ledger of
    /// every request (bench/crash.sh)
    Crash,
}

#[derive(Parser, Debug)]
#[command(about = "Drives pat-service with attendance + screening pairs, or a booking race, and reports throughput")]
struct Args {
    /// Base URL of the service, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// Bearer token with the integration or clinician role
    #[arg(long)]
    token: String,
    /// Concurrent clients, each with one pair in flight at a time
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Length of the measured window, in seconds
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up before the measured window, in seconds (not recorded)
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// What to drive: attendance + screening pairs, or the booking race
    #[arg(long, value_enum, default_value_t = Mode::Pairs)]
    mode: Mode,
    /// Bookings mode: file with the ids of the slots to race for, one per line
    #[arg(long)]
    slots_file: Option<PathBuf>,
    /// Bookings mode: bearer token with the ahw role, used to cancel bookings
    #[arg(long)]
    ahw_token: Option<String>,
    /// Bookings mode: open bookings each client keeps; after one more it cancels its oldest
    #[arg(long, default_value_t = 1)]
    hold: usize,
    /// Crash mode: the load stops once this file exists (instead of after --seconds)
    #[arg(long)]
    stop_file: Option<PathBuf>,
    /// Crash mode: where to write the ledger (CSV, one line per request sent)
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Crash mode: patients the attendances are spread over (fewer: more 7-day reattendances)
    #[arg(long, default_value_t = 20_000)]
    patients: u64,
    /// Crash mode: arrivals are spread at random over this many days before now (so the 7-day
    /// facts are a mix, and attendances arrive out of time order); one in eight is `planned`
    #[arg(long, default_value_t = 30.0)]
    history_days: f64,
    /// Crash mode: once stopped, how long a request in flight may still take to be acknowledged
    #[arg(long, default_value_t = 60.0)]
    drain: f64,
    /// Crash mode: each attempt must be answered within this many seconds, or it is sent again
    #[arg(long, default_value_t = 10.0)]
    attempt_timeout: f64,
}

// ---- A minimal HTTP/1.1 client ------------------------------------------------------------------

/// Each request must be answered within this (connecting and any second attempt included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Longest answer body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Where the service listens, from `--url`.
struct Target {
    /// Its addresses, resolved once at start.
    addrs: Vec<SocketAddr>,
    /// The `Host` header.
    host: String,
    /// The URL's path, without a trailing slash (usually empty).
    base: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .map(|_| &url[7..])
            .ok_or_else(|| format!("--url {url:?}: only plain http:// URLs are supported"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains(['@', '?', '#']) || path.contains(['?', '#']) {
            return Err(format!("--url {url:?}: expected http://host[:port][/path]"));
        }
        let has_port = match authority.rfind(']') {
            Some(i) => authority[i + 1..].starts_with(':'),
            None => authority.contains(':'),
        };
        let host_port = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addrs: Vec<SocketAddr> = host_port
            .to_socket_addrs()
            .map_err(|e| format!("--url {url:?}: cannot resolve {host_port}: {e}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("--url {url:?}: {host_port} resolves to no address"));
        }
        Ok(Target {
            addrs,
            host: authority.to_owned(),
            base: path.trim_end_matches('/').to_owned(),
        })
    }
}

/// Why an exchange failed; `stale` when a kept-alive connection was found closed before any byte
/// of the answer arrived, so the request can be sent once more on a new connection.
struct Failure {
    message: String,
    stale: bool,
}

impl Failure {
    fn fatal(message: String) -> Failure {
        Failure { message, stale: false }
    }

    fn io(what: &str, e: &io::Error, nothing_received: bool) -> Failure {
        let closed = matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof
        );
        Failure {
            message: format!("transport: {what}: {e}"),
            stale: closed && nothing_received,
        }
    }
}

/// How the body of an answer is delimited.
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

/// What the head of an answer says.
struct Head {
    status: u16,
    /// The reason phrase's range in the answer buffer.
    reason: (usize, usize),
    framing: Framing,
    close: bool,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads more of the answer onto the end of `buf`; 0 at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 2048 {
        buf.reserve(8192);
    }
    stream.read_buf(buf).await
}

/// Reads more of an answer that must go on.
async fn more(stream: &mut TcpStream, buf: &mut Vec<u8>, limit: usize) -> Result<(), Failure> {
    if buf.len() > limit {
        return Err(Failure::fatal("transport: the answer is too long".to_owned()));
    }
    match fill(stream, buf).await {
        Ok(0) => Err(Failure::fatal(
            "transport: the connection closed in the middle of the answer".to_owned(),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::io("reading the answer", &e, false)),
    }
}

fn parse_head(head: &[u8]) -> Result<Head, Failure> {
    let bad = |what: &str| {
        Failure::fatal(format!(
            "transport: {what} in the answer's head: {}",
            String::from_utf8_lossy(head).trim_end()
        ))
    };
    let text = std::str::from_utf8(head).map_err(|_| bad("bytes that are not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let (version, rest) = status_line.split_once(' ').ok_or_else(|| bad("no status line"))?;
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not HTTP/1.x"));
    }
    let status = rest
        .get(..3)
        .filter(|_| rest.len() == 3 || rest.as_bytes()[3] == b' ')
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..=999).contains(code))
        .ok_or_else(|| bad("no status code"))?;
    let reason_start = (version.len() + 5).min(status_line.len());
    let mut close = version == "HTTP/1.0";
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| bad("a malformed header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value.parse::<usize>().map_err(|_| bad("a bad Content-Length"))?;
            if length.is_some_and(|m| m != n) {
                return Err(bad("two different Content-Lengths"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(bad("an unsupported Transfer-Encoding"));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == "HTTP/1.0" {
                    close = false;
                }
            }
        }
    }
    let framing = if status < 200 || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(bad("a body too long"));
        }
        Framing::Length(n)
    } else {
        close = true;
        Framing::UntilClose
    };
    Ok(Head {
        status,
        reason: (reason_start, status_line.len()),
        framing,
        close,
    })
}

/// Reads a chunked body that starts at `start` of `buf`, de-chunking it in place; the end of the
/// body, and whether bytes beyond the answer came too.
async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>, start: usize) -> Result<(usize, bool), Failure> {
    let mut read = start;
    let mut write = start;
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf[read..], b"\r\n") {
                break read + i;
            }
            more(stream, buf, start + MAX_BODY).await?;
        };
        let size_text = std::str::from_utf8(&buf[read..line_end]).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .ok()
            .filter(|&n| n <= MAX_BODY - (write - start))
            .ok_or_else(|| Failure::fatal(format!("transport: a bad chunk size {size_text:?}")))?;
        read = line_end + 2;
        if size == 0 {
            // Trailers, up to an empty line.
            loop {
                let line_end = loop {
                    if let Some(i) = find(&buf[read..], b"\r\n") {
                        break read + i;
                    }
                    more(stream, buf, start + MAX_BODY).await?;
                };
                let empty = line_end == read;
                read = line_end + 2;
                if empty {
                    return Ok((write, buf.len() > read));
                }
            }
        }
        while buf.len() < read + size + 2 {
            more(stream, buf, start + 2 * MAX_BODY).await?;
        }
        if &buf[read + size..read + size + 2] != b"\r\n" {
            return Err(Failure::fatal("transport: a chunk does not end with CRLF".to_owned()));
        }
        buf.copy_within(read..read + size, write);
        write += size;
        read += size + 2;
    }
}

/// One client's connection to the service, with its buffers.
struct Http {
    target: Arc<Target>,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    /// The last answer: its head, then its body (de-chunked in place).
    answer: Vec<u8>,
    status: u16,
    reason: (usize, usize),
    body: (usize, usize),
    /// Each request must be answered within this.
    timeout: Duration,
}

impl Http {
    fn new(target: Arc<Target>) -> Http {
        Http {
            target,
            timeout: REQUEST_TIMEOUT,
            stream: None,
            request: Vec::with_capacity(4096),
            answer: Vec::with_capacity(16 * 1024),
            status: 0,
            reason: (0, 0),
            body: (0, 0),
        }
    }

    /// Sends one request with a JSON body; Ok(status) once the whole answer is read, whatever its
    /// status, Err(description) for a transport failure.
    async fn send(&mut self, method: &str, path: &str, auth: &str, body: &str) -> Result<u16, String> {
        let request = &mut self.request;
        request.clear();
        for part in [
            method,
            " ",
            path,
            " HTTP/1.1\r\nhost: ",
            &self.target.host,
            "\r\nauthorization: ",
            auth,
            "\r\ncontent-type: application/json\r\ncontent-length: ",
        ] {
            request.extend_from_slice(part.as_bytes());
        }
        let mut digits = [0u8; 20];
        request.extend_from_slice(itoa(body.len(), &mut digits));
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(body.as_bytes());

        let result = match tokio::time::timeout(self.timeout, self.exchange_with_retry()).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "transport: no complete answer within {} s",
                self.timeout.as_secs_f64()
            )),
        };
        if result.is_err() {
            self.stream = None;
        }
        result.map(|()| self.status)
    }

    async fn exchange_with_retry(&mut self) -> Result<(), String> {
        let reused = self.stream.is_some();
        match self.exchange().await {
            Err(failure) if reused && failure.stale => {
                self.stream = None;
                self.exchange().await.map_err(|f| f.message)
            }
            result => result.map_err(|f| f.message),
        }
    }

    async fn exchange(&mut self) -> Result<(), Failure> {
        let stream = match self.stream.take() {
            Some(stream) => stream,
            None => connect(&self.target).await.map_err(Failure::fatal)?,
        };
        let stream = self.stream.insert(stream);
        stream
            .write_all(&self.request)
            .await
            .map_err(|e| Failure::io("sending the request", &e, true))?;
        let buf = &mut self.answer;
        buf.clear();
        let (head, head_end) = loop {
            let mut scanned = 0;
            let head_end = loop {
                if let Some(i) = find(&buf[scanned..], b"\r\n\r\n") {
                    break scanned + i + 4;
                }
                if buf.len() > MAX_HEAD {
                    return Err(Failure::fatal("transport: the answer's head is too long".to_owned()));
                }
                scanned = buf.len().saturating_sub(3);
                match fill(stream, buf).await {
                    Ok(0) if buf.is_empty() => {
                        return Err(Failure {
                            message: "transport: the connection closed before an answer".to_owned(),
                            stale: true,
                        })
                    }
                    Ok(0) => {
                        return Err(Failure::fatal(
                            "transport: the connection closed in the middle of the answer's head".to_owned(),
                        ))
                    }
                    Ok(_) => {}
                    Err(e) => return Err(Failure::io("reading the answer", &e, buf.is_empty())),
                }
            };
            let head = parse_head(&buf[..head_end])?;
            if head.status >= 200 {
                break (head, head_end);
            }
            // An interim answer (1xx): the real one follows.
            buf.drain(..head_end);
        };
        let (end, extra) = match head.framing {
            Framing::Empty => (head_end, buf.len() > head_end),
            Framing::Length(n) => {
                let end = head_end + n;
                while buf.len() < end {
                    more(stream, buf, end).await?;
                }
                (end, buf.len() > end)
            }
            Framing::Chunked => read_chunked(stream, buf, head_end).await?,
            Framing::UntilClose => {
                loop {
                    if buf.len() > head_end + MAX_BODY {
                        return Err(Failure::fatal("transport: the answer is too long".to_owned()));
                    }
                    match fill(stream, buf).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => return Err(Failure::io("reading the answer", &e, false)),
                    }
                }
                (buf.len(), false)
            }
        };
        self.status = head.status;
        self.reason = head.reason;
        self.body = (head_end, end);
        // Bytes beyond the answer cannot belong to any request: do not use the connection again.
        if head.close || extra {
            self.stream = None;
        }
        Ok(())
    }

    /// The body of the last answer.
    fn body(&self) -> &[u8] {
        &self.answer[self.body.0..self.body.1]
    }

    fn body_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.body())
    }

    /// "201 Created": the status line of the last answer without its version.
    fn status_text(&self) -> String {
        let reason = String::from_utf8_lossy(&self.answer[self.reason.0..self.reason.1]);
        if reason.is_empty() {
            self.status.to_string()
        } else {
            format!("{} {reason}", self.status)
        }
    }

    /// Sends one request; Ok(()) for a 2xx answer (its body in `body()`), Err(description)
    /// otherwise.
    async fn send_ok(&mut self, method: &str, path: &str, auth: &str, body: &str) -> Result<(), String> {
        let status = self.send(method, path, auth, body).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("HTTP {}: {}", self.status_text(), self.body_text()))
        }
    }
}

async fn connect(target: &Target) -> Result<TcpStream, String> {
    let mut last_error = None;
    for addr in &target.addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|e| format!("transport: setting TCP_NODELAY: {e}"))?;
                return Ok(stream);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e) => format!("transport: connecting to {}: {e}", target.host),
        None => format!("transport: {} has no address", target.host),
    })
}

/// The decimal digits of `n`, written at the end of `buf`.
fn itoa(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

// ---- Request bodies and answers -----------------------------------------------------------------

/// A small fast generator (wyrand) seeded by the OS, one per client: a system call for every
/// random value would cost more than the rest of a request.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(Uuid::new_v4().as_u64_pair().0)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) ^ t) as u64
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn uuid_v4(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// Who the attendances are and when they arrived.
#[derive(Clone, Copy)]
struct Population {
    /// Patients the attendances are spread over, at random.
    patients: u64,
    /// Arrivals are spread at random over this long before now (zero: arrived now).
    history: Duration,
    /// One attendance in this many is `planned` (a booked return, which is no 7-day
    /// reattendance); 0: none.
    planned_one_in: u64,
}

/// The attendances of the pairs and bookings modes: 10 000 patients, arriving now, unplanned.
const BENCH_POPULATION: Population = Population {
    patients: 10_000,
    history: Duration::ZERO,
    planned_one_in: 0,
};

/// Writes the body of a new attendance into `out`: a random patient of the population, a fresh
/// source id (returned), arrived now or at a random time of the population's history.
fn attendance_body(rng: &mut Rng, out: &mut String, population: Population) -> Uuid {
    let patient = rng.below(population.patients.max(1));
    let source_uuid = rng.uuid_v4();
    let mut source_id = Uuid::encode_buffer();
    let source_id = source_uuid.hyphenated().encode_lower(&mut source_id);
    let history_us = u64::try_from(population.history.as_micros()).unwrap_or(u64::MAX);
    let before = i64::try_from(rng.below(history_us)).unwrap_or(0);
    let arrived = chrono::Utc::now() - chrono::Duration::microseconds(before);
    let planned = population.planned_one_in > 0 && rng.below(population.planned_one_in) == 0;
    out.clear();
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{{\"source_system\":\"bench\",\"source_id\":\"{source_id}\",\
         \"patient\":{{\"local_id\":\"BENCH-{patient}\",\"sex\":\"male\"}},\
         \"arrived_at\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z\",\
         \"presenting_condition\":\"fall\"{}}}",
        arrived.year(),
        arrived.month(),
        arrived.day(),
        arrived.hour(),
        arrived.minute(),
        arrived.second(),
        (arrived.nanosecond() / 1000).min(999_999),
        if planned {
            ",\"attendance_category\":\"planned\""
        } else {
            ""
        },
    );
    source_uuid
}

const SCREENING_BODY: &str = concat!(
    r#"{"status":"completed","answers":{"drinks_alcohol":true,"max_units_in_a_day":10,"#,
    r#""drinking_frequency":"weekly","days_per_week":2,"attendance_related":false}}"#
);

/// Characters an id may hold to go into a path as it is.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

#[derive(Deserialize)]
struct WithId {
    id: Option<String>,
}

/// The top-level `id` of a JSON object answer. The service writes it first, so most answers need
/// no parsing; anything else is parsed.
fn id_of(body: &[u8]) -> Option<Cow<'_, str>> {
    if let Some(rest) = body.strip_prefix(b"{\"id\":\"") {
        if let Some(end) = rest.iter().position(|&b| b == b'"') {
            if let Ok(id) = std::str::from_utf8(&rest[..end]) {
                if is_plain_id(id) {
                    return Some(Cow::Borrowed(id));
                }
            }
        }
    }
    serde_json::from_slice::<WithId>(body)
        .ok()
        .and_then(|v| v.id)
        .filter(|id| is_plain_id(id))
        .map(Cow::Owned)
}

// ---- Pairs mode ---------------------------------------------------------------------------------

/// What one client measured inside the window, in microseconds.
#[derive(Default)]
struct ClientStats {
    pairs: Vec<u64>,
    posts: Vec<u64>,
    puts: Vec<u64>,
}

struct Shared {
    target: Arc<Target>,
    /// The path of the attendances collection.
    attendances_path: String,
    auth: String,
    measure_from: Instant,
    measure_until: Instant,
    errors: AtomicU64,
    first_error_printed: AtomicBool,
}

impl Shared {
    fn in_window(&self, start: Instant, end: Instant) -> bool {
        start >= self.measure_from && end <= self.measure_until
    }

    fn error(&self, what: &str, detail: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if !self.first_error_printed.swap(true, Ordering::Relaxed) {
            eprintln!("loadgen: first error: {what}: {detail}");
        }
    }
}

fn micros(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.duration_since(from).as_micros()).unwrap_or(u64::MAX)
}

async fn run_client(shared: Arc<Shared>) -> ClientStats {
    let mut stats = ClientStats::default();
    let mut http = Http::new(Arc::clone(&shared.target));
    let mut rng = Rng::new();
    let mut body = String::with_capacity(512);
    let mut put_path = String::with_capacity(128);
    while Instant::now() < shared.measure_until {
        let pair_start = Instant::now();
        attendance_body(&mut rng, &mut body, BENCH_POPULATION);
        match http
            .send_ok("POST", &shared.attendances_path, &shared.auth, &body)
            .await
        {
            Ok(()) => match id_of(http.body()) {
                Some(id) => {
                    put_path.clear();
                    put_path.push_str(&shared.attendances_path);
                    put_path.push('/');
                    put_path.push_str(&id);
                    put_path.push_str("/screening");
                }
                None => {
                    shared.error("POST attendance answered no id", &http.body_text());
                    continue;
                }
            },
            Err(e) => {
                shared.error("POST attendance", &e);
                // Do not spin when the service is down.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        let post_end = Instant::now();

        let put_ok = match http.send_ok("PUT", &put_path, &shared.auth, SCREENING_BODY).await {
            Ok(()) => true,
            Err(e) => {
                shared.error("PUT screening", &e);
                tokio::time::sleep(Duration::from_millis(10)).await;
                false
            }
        };
        let put_end = Instant::now();

        if shared.in_window(pair_start, post_end) {
            stats.posts.push(micros(pair_start, post_end));
        }
        if put_ok {
            if shared.in_window(post_end, put_end) {
                stats.puts.push(micros(post_end, put_end));
            }
            if shared.in_window(pair_start, put_end) {
                stats.pairs.push(micros(pair_start, put_end));
            }
        }
    }
    stats
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds (0 when empty).
fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    round3(sorted[index] as f64 / 1000.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---- Bookings mode ----------------------------------------------------------------------------

const BOOKING_SCREENING_BODY: &str = concat!(
    r#"{"status":"completed","answers":{"drinks_alcohol":true,"max_units_in_a_day":12,"#,
    r#""drinking_frequency":"weekly","days_per_week":2,"attendance_related":true}}"#
);

const REFERRAL_BODY: &str = r#"{"decision":"accepted"}"#;

const CANCEL_BODY: &str = r#"{"status":"cancelled","reason":"bench: free the slot"}"#;

#[derive(Deserialize)]
struct ScreeningAnswer {
    result: Option<String>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Records one attendance, its PAT-positive screening and an `accepted` referral decision through
/// the API; Ok(attendance id) when the referral can be booked.
async fn prepare_referral(
    http: &mut Http,
    rng: &mut Rng,
    attendances_path: &str,
    auth: &str,
) -> Result<String, String> {
    let mut body = String::with_capacity(512);
    attendance_body(rng, &mut body, BENCH_POPULATION);
    http.send_ok("POST", attendances_path, auth, &body)
        .await
        .map_err(|e| format!("POST attendance: {e}"))?;
    let id = id_of(http.body())
        .map(Cow::into_owned)
        .ok_or_else(|| format!("POST attendance answered no id: {}", http.body_text()))?;
    http.send_ok(
        "PUT",
        &format!("{attendances_path}/{id}/screening"),
        auth,
        BOOKING_SCREENING_BODY,
    )
    .await
    .map_err(|e| format!("PUT screening: {e}"))?;
    let positive = serde_json::from_slice::<ScreeningAnswer>(http.body())
        .ok()
        .is_some_and(|v| v.result.as_deref() == Some("positive"));
    if !positive {
        return Err(format!(
            "PUT screening: the screening is not positive: {}",
            http.body_text()
        ));
    }
    http.send_ok("PUT", &format!("{attendances_path}/{id}/referral"), auth, REFERRAL_BODY)
        .await
        .map_err(|e| format!("PUT referral: {e}"))?;
    Ok(id)
}

struct BookingRun {
    shared: Shared,
    bookings_path: String,
    ahw_auth: String,
    slots: Vec<String>,
    hold: usize,
}

/// What one client measured inside the window (latencies in microseconds).
#[derive(Default)]
struct BookingStats {
    /// 201 answers.
    booked: Vec<u64>,
    /// 409 answers.
    conflicts: Vec<u64>,
    /// 409 answers whose problem type is not `slot-taken` (e.g. `already-booked`), warm-up included.
    conflicts_not_slot_taken: u64,
    cancels: Vec<u64>,
}

enum Attempt {
    Booked(String),
    Conflict { slot_taken: bool },
}

async fn book(
    run: &BookingRun,
    http: &mut Http,
    body: &mut String,
    attendance_id: &str,
    slot_id: &str,
) -> Result<Attempt, String> {
    body.clear();
    // Both are plain ids (the service's answer, a parsed slot id): nothing to escape.
    let _ = write!(
        body,
        "{{\"attendance_id\":\"{attendance_id}\",\"slot_id\":\"{slot_id}\"}}"
    );
    let status = http.send("POST", &run.bookings_path, &run.shared.auth, body).await?;
    match status {
        201 => id_of(http.body())
            .map(|id| Attempt::Booked(id.into_owned()))
            .ok_or_else(|| format!("HTTP 201 without an id: {}", http.body_text())),
        409 => {
            let kind = serde_json::from_slice::<Problem>(http.body())
                .ok()
                .and_then(|p| p.kind)
                .unwrap_or_default();
            Ok(Attempt::Conflict {
                slot_taken: kind.ends_with(":slot-taken"),
            })
        }
        _ => Err(format!("HTTP {}: {}", http.status_text(), http.body_text())),
    }
}

async fn cancel(run: &BookingRun, http: &mut Http, path: &mut String, booking_id: &str) -> Result<(), String> {
    path.clear();
    path.push_str(&run.bookings_path);
    path.push('/');
    path.push_str(booking_id);
    path.push_str("/outcome");
    http.send_ok("POST", path, &run.ahw_auth, CANCEL_BODY).await
}

/// One racing client. `free` are its referrals without an open booking; `held` its open bookings
/// (booking id, attendance id), oldest first.
async fn run_booking_client(run: Arc<BookingRun>, mut free: Vec<String>) -> BookingStats {
    let shared = &run.shared;
    let mut stats = BookingStats::default();
    let mut held: VecDeque<(String, String)> = VecDeque::new();
    let mut http = Http::new(Arc::clone(&shared.target));
    let mut rng = Rng::new();
    let mut body = String::with_capacity(256);
    let mut path = String::with_capacity(128);
    while Instant::now() < shared.measure_until {
        let attendance_id = match free.pop() {
            Some(id) => id,
            // Only after an error lost a referral: make another one (outside the race's figures).
            None => match prepare_referral(&mut http, &mut rng, &shared.attendances_path, &shared.auth).await {
                Ok(id) => id,
                Err(e) => {
                    shared.error("preparing a referral", &e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let slot = &run.slots[rng.below(run.slots.len() as u64) as usize];
        let start = Instant::now();
        let attempt = book(&run, &mut http, &mut body, &attendance_id, slot).await;
        let end = Instant::now();
        let measured = shared.in_window(start, end);
        match attempt {
            Ok(Attempt::Booked(booking_id)) => {
                if measured {
                    stats.booked.push(micros(start, end));
                }
                held.push_back((booking_id, attendance_id));
            }
            Ok(Attempt::Conflict { slot_taken }) => {
                if measured {
                    stats.conflicts.push(micros(start, end));
                }
                if !slot_taken {
                    stats.conflicts_not_slot_taken += 1;
                }
                // A referral that lost the race holds no booking and races again; after any other
                // conflict its state is unknown, so it is not used again.
                if slot_taken {
                    free.push(attendance_id);
                }
            }
            Err(e) => {
                // The referral may or may not hold a booking now: it is not used again.
                shared.error("POST booking", &e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if held.len() > run.hold {
            if let Some((booking_id, attendance_id)) = held.pop_front() {
                let start = Instant::now();
                let result = cancel(&run, &mut http, &mut path, &booking_id).await;
                let end = Instant::now();
                match result {
                    Ok(()) => {
                        if shared.in_window(start, end) {
                            stats.cancels.push(micros(start, end));
                        }
                        free.push(attendance_id);
                    }
                    Err(e) => {
                        shared.error("POST booking outcome (cancelled)", &e);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }
    }
    stats
}

fn read_slots(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut slots = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let id = Uuid::parse_str(line).map_err(|e| format!("{}: {line:?} is not a slot id: {e}", path.display()))?;
        slots.push(id.to_string());
    }
    if slots.is_empty() {
        return Err(format!("{} holds no slot id", path.display()));
    }
    Ok(slots)
}

/// Prepares `count` referrals through the API, a few at a time.
async fn prepare_referrals(
    target: &Arc<Target>,
    attendances_path: &str,
    auth: &str,
    count: usize,
    concurrency: usize,
) -> Result<Vec<String>, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency.clamp(1, count.max(1)))
        .map(|_| {
            let mut http = Http::new(Arc::clone(target));
            let path = attendances_path.to_owned();
            let auth = auth.to_owned();
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut rng = Rng::new();
                let mut ids = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    ids.push(prepare_referral(&mut http, &mut rng, &path, &auth).await?);
                }
                Ok::<_, String>(ids)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for worker in workers {
        all.extend(worker.await.map_err(|e| format!("a preparing task failed: {e}"))??);
    }
    Ok(all)
}

fn usage_error(message: &str) -> ! {
    eprintln!("loadgen: {message}");
    std::process::exit(2);
}

async fn run_bookings(args: &Args, target: Arc<Target>) {
    let Some(slots_file) = &args.slots_file else {
        usage_error("--mode bookings needs --slots-file")
    };
    let Some(ahw_token) = &args.ahw_token else {
        usage_error("--mode bookings needs --ahw-token (a token with the ahw role, to cancel)")
    };
    if args.hold == 0 {
        usage_error("--hold must be at least 1");
    }
    let slots = read_slots(slots_file).unwrap_or_else(|e| usage_error(&e));
    let attendances_path = format!("{}/api/v1/attendances", target.base);
    let auth = format!("Bearer {}", args.token);

    // Each client starts with hold + 1 referrals: it holds at most `hold` bookings between
    // attempts and always has one referral free to race with.
    let per_client = args.hold + 1;
    let prepare_start = Instant::now();
    let count = args.clients * per_client;
    let referrals = prepare_referrals(&target, &attendances_path, &auth, count, args.clients.max(8))
        .await
        .unwrap_or_else(|e| {
            eprintln!("loadgen: preparing referrals failed: {e}");
            std::process::exit(1);
        });
    let prepare_seconds = prepare_start.elapsed().as_secs_f64();

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let measure_until = measure_from + Duration::from_secs_f64(args.seconds);
    let bookings_path = format!("{}/api/v1/bookings", target.base);
    let run = Arc::new(BookingRun {
        shared: Shared {
            target,
            attendances_path,
            auth,
            measure_from,
            measure_until,
            errors: AtomicU64::new(0),
            first_error_printed: AtomicBool::new(false),
        },
        bookings_path,
        ahw_auth: format!("Bearer {ahw_token}"),
        slots,
        hold: args.hold,
    });
    let tasks: Vec<_> = referrals
        .chunks(per_client)
        .map(|own| tokio::spawn(run_booking_client(Arc::clone(&run), own.to_vec())))
        .collect();
    let mut all = BookingStats::default();
    for task in tasks {
        match task.await {
            Ok(stats) => {
                all.booked.extend(stats.booked);
                all.conflicts.extend(stats.conflicts);
                all.conflicts_not_slot_taken += stats.conflicts_not_slot_taken;
                all.cancels.extend(stats.cancels);
            }
            Err(e) => {
                eprintln!("loadgen: a client task failed: {e}");
                std::process::exit(2);
            }
        }
    }
    let mut attempts: Vec<u64> = all.booked.iter().chain(&all.conflicts).copied().collect();
    attempts.sort_unstable();
    all.booked.sort_unstable();
    all.conflicts.sort_unstable();
    all.cancels.sort_unstable();

    let per_sec = |n: usize| json!(round3(n as f64 / args.seconds));
    let errors = run.shared.errors.load(Ordering::Relaxed);
    let fields: [(&str, Value); 25] = [
        ("mode", json!("bookings")),
        ("clients", json!(args.clients)),
        ("seconds", json!(args.seconds)),
        ("slots", json!(run.slots.len())),
        ("hold", json!(args.hold)),
        ("referrals", json!(referrals.len())),
        ("prepare_seconds", json!(round3(prepare_seconds))),
        ("attempts", json!(attempts.len())),
        ("booked", json!(all.booked.len())),
        ("conflicts", json!(all.conflicts.len())),
        ("conflicts_not_slot_taken", json!(all.conflicts_not_slot_taken)),
        ("cancels", json!(all.cancels.len())),
        ("attempts_per_sec", per_sec(attempts.len())),
        ("bookings_per_sec", per_sec(all.booked.len())),
        ("conflicts_per_sec", per_sec(all.conflicts.len())),
        ("cancels_per_sec", per_sec(all.cancels.len())),
        ("errors", json!(errors)),
        ("attempt_p50_ms", json!(percentile_ms(&attempts, 50.0))),
        ("attempt_p99_ms", json!(percentile_ms(&attempts, 99.0))),
        ("booked_p50_ms", json!(percentile_ms(&all.booked, 50.0))),
        ("booked_p99_ms", json!(percentile_ms(&all.booked, 99.0))),
        ("conflict_p50_ms", json!(percentile_ms(&all.conflicts, 50.0))),
        ("conflict_p99_ms", json!(percentile_ms(&all.conflicts, 99.0))),
        ("cancel_p50_ms", json!(percentile_ms(&all.cancels, 50.0))),
        ("cancel_p99_ms", json!(percentile_ms(&all.cancels, 99.0))),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\":{value}"))
        .collect();
    println!("{{{}}}", body.join(","));
    if attempts.is_empty() {
        eprintln!("loadgen: no booking attempt completed inside the measured window");
        std::process::exit(1);
    }
}

// ---- Crash mode ---------------------------------------------------------------------------------

/// One request of crash mode, as the ledger records it.
struct Sent {
    /// `attendance` (the POST) or `screening` (the PUT).
    kind: &'static str,
    /// The attendance's `source_id`.
    source_id: Uuid,
    /// The attendance id answered (empty when the POST was never acknowledged).
    attendance_id: String,
    /// Times sent.
    attempts: u32,
    /// The 2xx status that acknowledged it; 0 when none did; a 4xx refusal ends it too.
    status: u16,
}

/// What crash mode's clients saw, besides the ledger.
#[derive(Default)]
struct CrashCounts {
    transport_failures: AtomicU64,
    answers_5xx: AtomicU64,
}

struct CrashRun {
    target: Arc<Target>,
    attendances_path: String,
    auth: String,
    population: Population,
    attempt_timeout: Duration,
    drain: Duration,
    /// Set once the stop file exists.
    stopped: AtomicBool,
    /// When the stop was seen: the drain runs from here.
    stopped_at: std::sync::Mutex<Option<Instant>>,
    counts: CrashCounts,
    first_failure_printed: AtomicBool,
}

impl CrashRun {
    /// Past the drain: a request still unacknowledged is given up.
    fn past_drain(&self) -> bool {
        if !self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        let since = self.stopped_at.lock().ok().and_then(|at| *at);
        since.is_some_and(|at| at.elapsed() >= self.drain)
    }

    fn failure(&self, what: &str, detail: &str) {
        if !self.first_failure_printed.swap(true, Ordering::Relaxed) {
            eprintln!("loadgen: first unacknowledged attempt: {what}: {detail}");
        }
    }
}

/// Sends one request until a 2xx answer acknowledges it (or a 4xx refuses it, or the drain ends):
/// (times sent, the final status or 0).
async fn send_until_acknowledged(run: &CrashRun, http: &mut Http, method: &str, path: &str, body: &str) -> (u32, u16) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match http.send(method, path, &run.auth, body).await {
            Ok(status) if (200..300).contains(&status) => return (attempts, status),
            Ok(status) if status >= 500 || status == 408 || status == 429 => {
                run.counts.answers_5xx.fetch_add(1, Ordering::Relaxed);
                run.failure(method, &format!("HTTP {}: {}", http.status_text(), http.body_text()));
            }
            Ok(status) => {
                // A refusal is an answer: sending it again would be refused again.
                eprintln!(
                    "loadgen: {method} {path} refused: HTTP {}: {}",
                    http.status_text(),
                    http.body_text()
                );
                return (attempts, status);
            }
            Err(e) => {
                run.counts.transport_failures.fetch_add(1, Ordering::Relaxed);
                run.failure(method, &e);
            }
        }
        if run.past_drain() {
            return (attempts, 0);
        }
        // The service or its database is down: do not spin.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run_crash_client(run: Arc<CrashRun>) -> Vec<Sent> {
    let mut ledger = Vec::new();
    let mut http = Http::new(Arc::clone(&run.target));
    http.timeout = run.attempt_timeout;
    let mut rng = Rng::new();
    let mut body = String::with_capacity(512);
    let mut put_path = String::with_capacity(128);
    while !run.stopped.load(Ordering::Relaxed) {
        let source_id = attendance_body(&mut rng, &mut body, run.population);
        let (attempts, status) = send_until_acknowledged(&run, &mut http, "POST", &run.attendances_path, &body).await;
        let id = if (200..300).contains(&status) {
            id_of(http.body()).map(Cow::into_owned)
        } else {
            None
        };
        if status != 0 && id.is_none() {
            eprintln!(
                "loadgen: POST attendance answered {status} without an id: {}",
                http.body_text()
            );
        }
        ledger.push(Sent {
            kind: "attendance",
            source_id,
            attendance_id: id.clone().unwrap_or_default(),
            attempts,
            status,
        });
        let Some(id) = id else { continue };
        if run.stopped.load(Ordering::Relaxed) {
            break;
        }
        put_path.clear();
        put_path.push_str(&run.attendances_path);
        put_path.push('/');
        put_path.push_str(&id);
        put_path.push_str("/screening");
        let (attempts, status) = send_until_acknowledged(&run, &mut http, "PUT", &put_path, SCREENING_BODY).await;
        ledger.push(Sent {
            kind: "screening",
            source_id,
            attendance_id: id,
            attempts,
            status,
        });
    }
    ledger
}

async fn run_crash(args: &Args, target: Arc<Target>) {
    let Some(stop_file) = args.stop_file.clone() else {
        usage_error("--mode crash needs --stop-file")
    };
    let Some(ledger_path) = &args.ledger else {
        usage_error("--mode crash needs --ledger")
    };
    let bad = |x: f64| !x.is_finite() || x <= 0.0;
    let bad_history = !args.history_days.is_finite() || !(0.0..=3650.0).contains(&args.history_days);
    if args.patients == 0 || bad(args.drain) || bad(args.attempt_timeout) || bad_history {
        usage_error("--patients must be at least 1, --drain and --attempt-timeout positive, --history-days 0 to 3650");
    }
    let mut ledger_file = std::fs::File::create(ledger_path)
        .unwrap_or_else(|e| usage_error(&format!("cannot create {}: {e}", ledger_path.display())));
    let run = Arc::new(CrashRun {
        attendances_path: format!("{}/api/v1/attendances", target.base),
        target,
        auth: format!("Bearer {}", args.token),
        population: Population {
            patients: args.patients,
            history: Duration::from_secs_f64(args.history_days * 86_400.0),
            // A booked return now and then: the 7-day fact counts unplanned returns only.
            planned_one_in: 8,
        },
        attempt_timeout: Duration::from_secs_f64(args.attempt_timeout),
        drain: Duration::from_secs_f64(args.drain),
        stopped: AtomicBool::new(false),
        stopped_at: std::sync::Mutex::new(None),
        counts: CrashCounts::default(),
        first_failure_printed: AtomicBool::new(false),
    });
    let start = Instant::now();
    let watcher = {
        let run = Arc::clone(&run);
        tokio::spawn(async move {
            while !stop_file.exists() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if let Ok(mut at) = run.stopped_at.lock() {
                *at = Some(Instant::now());
            }
            run.stopped.store(true, Ordering::Relaxed);
        })
    };
    let tasks: Vec<_> = (0..args.clients)
        .map(|_| tokio::spawn(run_crash_client(Arc::clone(&run))))
        .collect();
    let mut ledger = Vec::new();
    for task in tasks {
        match task.await {
            Ok(sent) => ledger.extend(sent),
            Err(e) => {
                eprintln!("loadgen: a client task failed: {e}");
                std::process::exit(2);
            }
        }
    }
    watcher.abort();
    let seconds = start.elapsed().as_secs_f64();

    let mut out = String::from("kind,source_id,attendance_id,attempts,status\n");
    for sent in &ledger {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            sent.kind, sent.source_id, sent.attendance_id, sent.attempts, sent.status
        );
    }
    if let Err(e) = std::io::Write::write_all(&mut ledger_file, out.as_bytes()) {
        eprintln!("loadgen: cannot write {}: {e}", ledger_path.display());
        std::process::exit(1);
    }

    let acknowledged = |s: &&Sent| (200..300).contains(&s.status);
    let count = |f: &dyn Fn(&&Sent) -> bool| ledger.iter().filter(|s| f(s)).count();
    let fields: [(&str, Value); 13] = [
        ("mode", json!("crash")),
        ("clients", json!(args.clients)),
        ("seconds", json!(round3(seconds))),
        ("requests", json!(ledger.len())),
        ("acknowledged", json!(count(&acknowledged))),
        ("unacknowledged", json!(count(&|s| s.status == 0))),
        ("refused", json!(count(&|s| s.status >= 300))),
        ("retried_requests", json!(count(&|s| s.attempts > 1))),
        (
            "resends",
            json!(ledger.iter().map(|s| u64::from(s.attempts - 1)).sum::<u64>()),
        ),
        // Sent again and answered as a replay: the first attempt had been written, its answer lost.
        (
            "replayed_after_retry",
            json!(count(&|s| s.attempts > 1 && s.status == 200)),
        ),
        (
            "transport_failures",
            json!(run.counts.transport_failures.load(Ordering::Relaxed)),
        ),
        ("answers_5xx", json!(run.counts.answers_5xx.load(Ordering::Relaxed))),
        ("pairs", json!(count(&|s| s.kind == "screening" && acknowledged(s)))),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\":{value}"))
        .collect();
    println!("{{{}}}", body.join(","));
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let bad_seconds = !args.seconds.is_finite() || args.seconds <= 0.0;
    let bad_warmup = !args.warmup.is_finite() || args.warmup < 0.0;
    if args.clients == 0 || bad_seconds || bad_warmup {
        eprintln!("loadgen: --clients must be at least 1, --seconds positive, --warmup not negative");
        std::process::exit(2);
    }
    let target = Arc::new(Target::parse(&args.url).unwrap_or_else(|e| usage_error(&e)));
    match args.mode {
        Mode::Bookings => return run_bookings(&args, target).await,
        Mode::Crash => return run_crash(&args, target).await,
        Mode::Pairs => {}
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let measure_until = measure_from + Duration::from_secs_f64(args.seconds);
    let shared = Arc::new(Shared {
        attendances_path: format!("{}/api/v1/attendances", target.base),
        target,
        auth: format!("Bearer {}", args.token),
        measure_from,
        measure_until,
        errors: AtomicU64::new(0),
        first_error_printed: AtomicBool::new(false),
    });

    let tasks: Vec<_> = (0..args.clients)
        .map(|_| tokio::spawn(run_client(Arc::clone(&shared))))
        .collect();
    let mut all = ClientStats::default();
    for task in tasks {
        match task.await {
            Ok(stats) => {
                all.pairs.extend(stats.pairs);
                all.posts.extend(stats.posts);
                all.puts.extend(stats.puts);
            }
            Err(e) => {
                eprintln!("loadgen: a client task failed: {e}");
                std::process::exit(2);
            }
        }
    }
    all.pairs.sort_unstable();
    all.posts.sort_unstable();
    all.puts.sort_unstable();

    let pairs = all.pairs.len();
    let requests = all.posts.len() + all.puts.len();
    let errors = shared.errors.load(Ordering::Relaxed);
    // Written field by field to keep this order (serde_json's maps sort their keys).
    let fields: [(&str, Value); 12] = [
        ("clients", json!(args.clients)),
        ("seconds", json!(args.seconds)),
        ("pairs", json!(pairs)),
        ("pairs_per_sec", json!(round3(pairs as f64 / args.seconds))),
        ("requests_per_sec", json!(round3(requests as f64 / args.seconds))),
        ("errors", json!(errors)),
        ("pair_p50_ms", json!(percentile_ms(&all.pairs, 50.0))),
        ("pair_p99_ms", json!(percentile_ms(&all.pairs, 99.0))),
        ("post_p50_ms", json!(percentile_ms(&all.posts, 50.0))),
        ("post_p99_ms", json!(percentile_ms(&all.posts, 99.0))),
        ("put_p50_ms", json!(percentile_ms(&all.puts, 50.0))),
        ("put_p99_ms", json!(percentile_ms(&all.puts, 99.0))),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\":{value}"))
        .collect();
    println!("{{{}}}", body.join(","));
    if pairs == 0 {
        eprintln!("loadgen: no pair completed inside the measured window");
        std::process::exit(1);
    }
}
