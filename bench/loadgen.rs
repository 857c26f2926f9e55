//! Load generator for pat-service's write path: each client records an attendance
//! (`POST /api/v1/attendances`) and then its screening (`PUT /api/v1/attendances/{id}/screening`),
//! over and over, as an ED's integration engine would. A general HTTP load tool cannot do this
//! because the PUT needs the id the POST answered.
//!
//! Latencies are recorded only after the warm-up, for requests that start and finish inside the
//! measured window. Any transport failure or non-2xx answer counts as an error (warm-up included);
//! the first error's body goes to stderr. At the end one line of JSON goes to stdout.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080 --token "$TOKEN" --clients 32
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde_json::{json, Value};
use tokio::time::Instant;
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(about = "Drives pat-service with attendance + screening pairs and reports throughput")]
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
