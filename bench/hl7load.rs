//! Load generator for the HL7 v2 listener (bench/hl7.sh): each client holds one MLLP connection
//! and sends ADT^A04 registrations, each a new attendance, waiting for each acknowledgement
//! (which the service sends only after the commit) before the next, as an integration engine in
//! original acknowledgement mode does.
//!
//! Any answer other than `MSA|AA` is an error (the first one's MSA goes to stderr). Latencies are
//! recorded after the warm-up for messages that start and finish inside the measured window. One
//! line of JSON goes to stdout. All clients are tasks on one thread: the generator shares the
//! machine with the service and the database.
//!
//! ```text
//! cargo run --release --example hl7load -- --address 127.0.0.1:2575 --clients 32 --seconds 15
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Sends HL7 v2 ADT^A04 messages over MLLP, waiting for each acknowledgement")]
struct Args {
    /// The listener's host:port (PAT_MLLP_LISTEN).
    #[arg(long)]
    address: SocketAddr,
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Seconds before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

/// Patients repeat (0..9999), as in the HTTP load generator and the pgbench script.
fn message(run: &str, client: usize, n: u64, patient: u64) -> String {
    // Hand-built with the standard's field positions: PID-3 (the local number, type MR), PID-8,
    // PV1-2 (E), PV1-19 (visit number, the idempotency key), PV1-44 (arrival), PV2-3.
    format!(
        "\x0bMSH|^~\\&|BENCH|BENCH|PAT|ED|20250301120000||ADT^A04^ADT_A01|{run}-{client}-{n}|P|2.4\r\
         PID|1||BENCH-{patient}^^^BENCH^MR|||||M\r\
         PV1|1|E|||||||||||||||||{run}-{client}-{n}|||||||||||||||||||||||||20250301120000\r\
         PV2|||fall\x1c\r"
    )
}

struct Shared {
    stop: AtomicBool,
    measuring: AtomicBool,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

async fn client(args: Arc<Args>, shared: Arc<Shared>, run: Arc<String>, id: usize) -> Vec<f64> {
    let mut latencies = Vec::new();
    let Ok(mut stream) = TcpStream::connect(args.address).await else {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        return latencies;
    };
    let _ = stream.set_nodelay(true);
    let mut buffer = vec![0u8; 4096];
    let mut n: u64 = 0;
    let mut seed = (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(std::process::id());
    while !shared.stop.load(Ordering::Relaxed) {
        n += 1;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let measured = shared.measuring.load(Ordering::Relaxed);
        let started = Instant::now();
        if stream
            .write_all(message(&run, id, n, seed % 10_000).as_bytes())
            .await
            .is_err()
        {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            return latencies;
        }
        let mut len = 0;
        let answer = loop {
            if len == buffer.len() {
                buffer.resize(len * 2, 0);
            }
            match stream.read(&mut buffer[len..]).await {
                Ok(0) | Err(_) => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    return latencies;
                }
                Ok(read) => len += read,
            }
            if let Some(end) = buffer[..len].windows(2).position(|w| w == [0x1C, 0x0D]) {
                break String::from_utf8_lossy(&buffer[..end]).into_owned();
            }
        };
        if !answer.contains("\rMSA|AA|") {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            let msa = answer
                .split('\r')
                .filter(|s| !s.starts_with("MSH"))
                .collect::<Vec<_>>()
                .join(" / ");
            if let Ok(mut first) = shared.first_error.lock() {
                first.get_or_insert(msa);
            }
        }
        if measured && !shared.stop.load(Ordering::Relaxed) {
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    latencies
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> std::io::Result<()> {
    let args = Arc::new(Args::parse());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            measuring: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            first_error: std::sync::Mutex::new(None),
        });
        let run = Arc::new(format!("{:08x}", uuid::Uuid::new_v4().as_u128() as u32));
        let tasks: Vec<_> = (0..args.clients)
            .map(|id| tokio::spawn(client(args.clone(), shared.clone(), run.clone(), id)))
            .collect();
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;
        shared.measuring.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        shared.stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap_or_default());
        }
        latencies.sort_by(f64::total_cmp);
        let errors = shared.errors.load(Ordering::Relaxed);
        if let Ok(first) = shared.first_error.lock() {
            if let Some(first) = first.as_ref() {
                eprintln!("first error: {first}");
            }
        }
        println!(
            "{{\"messages\":{},\"messages_per_sec\":{:.1},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"errors\":{}}}",
            latencies.len(),
            latencies.len() as f64 / args.seconds as f64,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            errors
        );
    });
    Ok(())
}
