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
//! Latencies are recorded only after the warm-up, for requests that start and finish inside the
//! measured window. Any transport failure or unexpected answer counts as an error (warm-up
//! included); the first error's body goes to stderr. At the end one line of JSON goes to stdout.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080 --token "$TOKEN" --clients 32
//! cargo run --release --example loadgen -- --mode bookings --url http://127.0.0.1:8080 --token "$TOKEN" \
//!     --ahw-token "$AHW_TOKEN" --slots-file slots.txt --hold 2 --clients 32
//! ```

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde_json::{json, Value};
use tokio::time::Instant;
use uuid::Uuid;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Attendance + screening pairs (the write path)
    Pairs,
    /// Clients racing to book a limited set of slots
    Bookings,
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
}

/// What one client measured inside the window, in microseconds.
#[derive(Default)]
struct ClientStats {
    pairs: Vec<u64>,
    posts: Vec<u64>,
    puts: Vec<u64>,
}

struct Shared {
    client: reqwest::Client,
    attendances_url: String,
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

fn attendance_body() -> Value {
    let patient = Uuid::new_v4().as_u128() % 10_000;
    json!({
        "source_system": "bench",
        "source_id": Uuid::new_v4().to_string(),
        "patient": { "local_id": format!("BENCH-{patient}"), "sex": "male" },
        "arrived_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "presenting_condition": "fall",
    })
}

fn screening_body() -> Value {
    json!({
        "status": "completed",
        "answers": {
            "drinks_alcohol": true,
            "max_units_in_a_day": 10,
            "drinking_frequency": "weekly",
            "days_per_week": 2,
            "attendance_related": false,
        },
    })
}

/// Sends one request; Ok(body) for a 2xx answer, Err(description) otherwise.
async fn send(request: reqwest::RequestBuilder) -> Result<String, String> {
    let response = request.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("reading body: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("HTTP {status}: {body}"))
    }
}

async fn run_client(shared: Arc<Shared>) -> ClientStats {
    let mut stats = ClientStats::default();
    while Instant::now() < shared.measure_until {
        let pair_start = Instant::now();
        let post = shared
            .client
            .post(&shared.attendances_url)
            .header(reqwest::header::AUTHORIZATION, &shared.auth)
            .json(&attendance_body());
        let id = match send(post).await {
            Ok(body) => match serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            {
                Some(id) => id,
                None => {
                    shared.error("POST attendance answered no id", &body);
                    continue;
                }
            },
            Err(e) => {
                shared.error("POST attendance", &e);
                // Do not spin when the service is down.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let post_end = Instant::now();

        let put = shared
            .client
            .put(format!("{}/{id}/screening", shared.attendances_url))
            .header(reqwest::header::AUTHORIZATION, &shared.auth)
            .json(&screening_body());
        let put_ok = match send(put).await {
            Ok(_) => true,
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

fn booking_screening_body() -> Value {
    json!({
        "status": "completed",
        "answers": {
            "drinks_alcohol": true,
            "max_units_in_a_day": 12,
            "drinking_frequency": "weekly",
            "days_per_week": 2,
            "attendance_related": true,
        },
    })
}

/// The `id` of a JSON object answer.
fn id_of(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
}

/// Records one attendance, its PAT-positive screening and an `accepted` referral decision through
/// the API; Ok(attendance id) when the referral can be booked.
async fn prepare_referral(client: &reqwest::Client, attendances_url: &str, auth: &str) -> Result<String, String> {
    let post = client
        .post(attendances_url)
        .header(reqwest::header::AUTHORIZATION, auth)
        .json(&attendance_body());
    let body = send(post).await.map_err(|e| format!("POST attendance: {e}"))?;
    let id = id_of(&body).ok_or_else(|| format!("POST attendance answered no id: {body}"))?;
    let put = client
        .put(format!("{attendances_url}/{id}/screening"))
        .header(reqwest::header::AUTHORIZATION, auth)
        .json(&booking_screening_body());
    let body = send(put).await.map_err(|e| format!("PUT screening: {e}"))?;
    let positive = serde_json::from_str::<Value>(&body)
        .ok()
        .is_some_and(|v| v.get("result").and_then(Value::as_str) == Some("positive"));
    if !positive {
        return Err(format!("PUT screening: the screening is not positive: {body}"));
    }
    let put = client
        .put(format!("{attendances_url}/{id}/referral"))
        .header(reqwest::header::AUTHORIZATION, auth)
        .json(&json!({ "decision": "accepted" }));
    send(put).await.map_err(|e| format!("PUT referral: {e}"))?;
    Ok(id)
}

struct BookingRun {
    shared: Shared,
    bookings_url: String,
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

async fn book(run: &BookingRun, attendance_id: &str, slot_id: &str) -> Result<Attempt, String> {
    let post = run
        .shared
        .client
        .post(&run.bookings_url)
        .header(reqwest::header::AUTHORIZATION, &run.shared.auth)
        .json(&json!({ "attendance_id": attendance_id, "slot_id": slot_id }));
    let response = post.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("reading body: {e}"))?;
    match status.as_u16() {
        201 => id_of(&body)
            .map(Attempt::Booked)
            .ok_or_else(|| format!("HTTP 201 without an id: {body}")),
        409 => {
            let problem = serde_json::from_str::<Value>(&body).ok();
            let kind = problem
                .as_ref()
                .and_then(|v| v.get("type").and_then(Value::as_str))
                .unwrap_or("");
            Ok(Attempt::Conflict {
                slot_taken: kind.ends_with(":slot-taken"),
            })
        }
        _ => Err(format!("HTTP {status}: {body}")),
    }
}

async fn cancel(run: &BookingRun, booking_id: &str) -> Result<(), String> {
    let post = run
        .shared
        .client
        .post(format!("{}/{booking_id}/outcome", run.bookings_url))
        .header(reqwest::header::AUTHORIZATION, &run.ahw_auth)
        .json(&json!({ "status": "cancelled", "reason": "bench: free the slot" }));
    send(post).await.map(|_| ())
}

/// One racing client. `free` are its referrals without an open booking; `held` its open bookings
/// (booking id, attendance id), oldest first.
async fn run_booking_client(run: Arc<BookingRun>, mut free: Vec<String>) -> BookingStats {
    let shared = &run.shared;
    let mut stats = BookingStats::default();
    let mut held: VecDeque<(String, String)> = VecDeque::new();
    while Instant::now() < shared.measure_until {
        let attendance_id = match free.pop() {
            Some(id) => id,
            // Only after an error lost a referral: make another one (outside the race's figures).
            None => match prepare_referral(&shared.client, &shared.attendances_url, &shared.auth).await {
                Ok(id) => id,
                Err(e) => {
                    shared.error("preparing a referral", &e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let slot = &run.slots[(Uuid::new_v4().as_u128() % run.slots.len() as u128) as usize];
        let start = Instant::now();
        let attempt = book(&run, &attendance_id, slot).await;
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
                let result = cancel(&run, &booking_id).await;
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
    client: &reqwest::Client,
    attendances_url: &str,
    auth: &str,
    count: usize,
    concurrency: usize,
) -> Result<Vec<String>, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency.clamp(1, count.max(1)))
        .map(|_| {
            let client = client.clone();
            let url = attendances_url.to_owned();
            let auth = auth.to_owned();
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    ids.push(prepare_referral(&client, &url, &auth).await?);
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

async fn run_bookings(args: &Args, client: reqwest::Client) {
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
    let base = args.url.trim_end_matches('/');
    let attendances_url = format!("{base}/api/v1/attendances");
    let auth = format!("Bearer {}", args.token);

    // Each client starts with hold + 1 referrals: it holds at most `hold` bookings between
    // attempts and always has one referral free to race with.
    let per_client = args.hold + 1;
    let prepare_start = Instant::now();
    let count = args.clients * per_client;
    let referrals = prepare_referrals(&client, &attendances_url, &auth, count, args.clients.max(8))
        .await
        .unwrap_or_else(|e| {
            eprintln!("loadgen: preparing referrals failed: {e}");
            std::process::exit(1);
        });
    let prepare_seconds = prepare_start.elapsed().as_secs_f64();

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let measure_until = measure_from + Duration::from_secs_f64(args.seconds);
    let run = Arc::new(BookingRun {
        shared: Shared {
            client,
            attendances_url,
            auth,
            measure_from,
            measure_until,
            errors: AtomicU64::new(0),
            first_error_printed: AtomicBool::new(false),
        },
        bookings_url: format!("{base}/api/v1/bookings"),
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

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bad_seconds = !args.seconds.is_finite() || args.seconds <= 0.0;
    let bad_warmup = !args.warmup.is_finite() || args.warmup < 0.0;
    if args.clients == 0 || bad_seconds || bad_warmup {
        eprintln!("loadgen: --clients must be at least 1, --seconds positive, --warmup not negative");
        std::process::exit(2);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("loadgen: cannot build the HTTP client: {e}");
            std::process::exit(2);
        });
    if args.mode == Mode::Bookings {
        run_bookings(&args, client).await;
        return;
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let measure_until = measure_from + Duration::from_secs_f64(args.seconds);
    let shared = Arc::new(Shared {
        client,
        attendances_url: format!("{}/api/v1/attendances", args.url.trim_end_matches('/')),
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
