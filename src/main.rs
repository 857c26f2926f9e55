//! The `pat-service` command: serve, migrate, print the OpenAPI document, mint a token, load demo
//! data, purge what is past its retention period.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pat_service::app::Application;
use pat_service::auth::{mint_hs256, Role};
use pat_service::config::{JwtKey, Settings};
use pat_service::domain::{calendar, retention};
use pat_service::{db, demo, openapi, store, telemetry};

#[derive(Parser)]
#[command(name = "pat-service", version, about = "Paddington Alcohol Test pathway service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrations run first).
    Serve {
        /// Development mode: with no key configured, use a throwaway secret and print a ready
        /// token for each role. Never for production.
        #[arg(long)]
        dev: bool,
    },
    /// Run pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Print a bearer token signed with PAT_JWT_SECRET.
    Token {
        /// clinician, integration, ahw, auditor or admin (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Who the token is for (the `sub` claim).
        #[arg(long)]
        sub: String,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        hours: u64,
    },
    /// Fill the database with realistic synthetic data (migrations run first). The same seed and
    /// --until give the same data; a seed already loaded is refused.
    DemoData {
        /// How many ED attendances (1 to 20,000,000).
        #[arg(long, default_value_t = 100_000)]
        attendances: u64,
        /// Spread over this many years up to --until (1 to 20).
        #[arg(long, default_value_t = 5)]
        years: u32,
        /// Seed of the generator; also part of every source id.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The instant the data ends at (RFC 3339, not in the future); default now.
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Retention: remove the attendances that arrived before DATE, with everything that hangs off
    /// them (screenings, referrals, bookings and outcomes, attempts, follow-ups) and the patients
    /// left with no attendance, in batches; record one audit event with the counts. Audit events,
    /// health workers and slots are kept. The trust sets the retention period under the NHS Records
    /// Management Code of Practice: the service has no default.
    Purge {
        /// A Europe/London calendar date (YYYY-MM-DD): attendances arriving before midnight at its
        /// start (London time) go. Not after today.
        #[arg(long, value_name = "DATE")]
        before: chrono::NaiveDate,
        /// Count what would be removed; remove nothing and record no audit event.
        #[arg(long)]
        dry_run: bool,
        /// Attendances removed per transaction (1 to 10,000).
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        /// Who is running the purge, for the audit event (a name or staff id, not a patient's).
        #[arg(long)]
        actor: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pat-service: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { dev } => serve(dev),
        Command::Migrate => {
            telemetry::init();
            let settings = Settings::from_env(true).map_err(|e| e.to_string())?;
            let manager = db::Manager::new(settings.database_url.expose()).map_err(|e| e.to_string())?;
            let mut conn = manager
                .establish()
                .map_err(|e| format!("cannot connect to the database: {e}"))?;
            db::migrate(&mut conn).map_err(|e| e.to_string())?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::Openapi => {
            print!("{}", openapi::document_json().map_err(|e| e.to_string())?);
            Ok(())
        }
        Command::DemoData {
            attendances,
            years,
            seed,
            until,
        } => {
            let config = demo::DemoConfig::new(attendances, years, seed).map_err(|e| e.to_string())?;
            let settings = Settings::from_env(true).map_err(|e| e.to_string())?;
            let rules = demo::PathwayRules::from(&settings);
            let summary = demo::run(settings.database_url.expose(), rules, &config, until, |line| {
                println!("{line}")
            })
            .map_err(|e| e.to_string())?;
            println!("{summary}");
            Ok(())
        }
        Command::Purge {
            before,
            dry_run,
            batch_size,
            actor,
        } => purge(before, dry_run, batch_size, actor),
        Command::Token { roles, sub, hours } => {
            let settings = Settings::from_env(false).map_err(|e| e.to_string())?;
            let roles = parse_roles(&roles)?;
            println!("{}", token(&settings, &sub, &roles, hours * 3600)?);
            Ok(())
        }
    }
}

fn purge(before: chrono::NaiveDate, dry_run: bool, batch_size: usize, actor: String) -> Result<(), String> {
    let now = chrono::Utc::now();
    let cutoff = retention::cutoff(before, calendar::london_date(now)).map_err(|e| e.to_string())?;
    let batch_size = retention::batch_size(batch_size).map_err(|e| e.to_string())?;
    let actor = actor.trim().to_owned();
    if actor.is_empty() {
        return Err("--actor must name who is running the purge".into());
    }
    let settings = Settings::from_env(true).map_err(|e| e.to_string())?;
    let manager = db::Manager::new(settings.database_url.expose()).map_err(|e| e.to_string())?;
    let mut conn = manager
        .establish()
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let request = store::retention::PurgeRequest {
        before,
        cutoff,
        batch_size,
        dry_run,
        actor,
    };
    let report = store::retention::purge(&mut conn, &request, now).map_err(|e| {
        format!("the purge stopped: {e} (every batch committed before stays removed; running it again is safe)")
    })?;
    let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if dry_run {
        println!("dry run: attendances arriving before {before} (Europe/London; {cutoff}) — nothing removed");
    } else {
        println!("purged attendances arriving before {before} (Europe/London; {cutoff})");
    }
    let heading = if dry_run { "would remove" } else { "removed" };
    println!("{:<26}{heading:>13}", "table");
    for (table, rows) in report.counts.rows() {
        println!("{table:<26}{rows:>13}");
    }
    println!("{} batch(es) of up to {batch_size} attendances", report.batches);
    if let Some(event) = report.audit_event {
        println!("audit event {}", event.id.0);
    }
    Ok(())
}

fn parse_roles(codes: &[String]) -> Result<Vec<Role>, String> {
    codes
        .iter()
        .map(|code| Role::from_code(code).ok_or_else(|| format!("unknown role {code:?}")))
        .collect()
}

fn token(settings: &Settings, subject: &str, roles: &[Role], seconds: u64) -> Result<String, String> {
    match &settings.jwt.key {
        JwtKey::Hs256(secret) => {
            mint_hs256(secret.expose(), &settings.jwt, subject, roles, seconds).map_err(|e| e.to_string())
        }
        _ => Err("tokens for RS256/ES256 keys are issued by your identity provider, not this command".into()),
    }
}

fn serve(dev: bool) -> Result<(), String> {
    telemetry::init();
    let key_configured = ["PAT_JWT_SECRET", "PAT_JWT_PUBLIC_KEY_FILE", "PAT_JWT_JWKS_FILE"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    let settings = Settings::from_env(dev).map_err(|e| e.to_string())?;
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async move {
        let application = Application::build(settings.clone()).await.map_err(|e| e.to_string())?;
        let port = application.port();
        let host = settings.listen.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
        let base = format!("http://{host}:{port}");
        if dev {
            println!("\n==> pat-service in DEVELOPMENT mode on {base}");
            if !key_configured {
                println!("==> WARNING: using a throwaway development token secret. Never use --dev in production.");
            }
            println!("==> Swagger UI: {base}/docs/");
            for role in Role::ALL {
                if let Ok(token) = token(&settings, &format!("dev-{}", role.code()), &[role], 12 * 3600) {
                    println!("==> {:<11} token: {token}", role.code());
                }
            }
            println!("==> Web pages: {base}/web/ — sign in with a link:");
            for role in Role::ALL {
                println!(
                    "==> {:<11} sign-in: {base}/web/dev/sign-in?role={}&key={}",
                    role.code(),
                    role.code(),
                    settings.web.dev_sign_in_key.expose()
                );
            }
            println!();
        }
        tracing::info!(address = %base, "listening");
        if let Some(address) = application.mllp_addr() {
            tracing::info!(address = %address, "listening for HL7 v2 over MLLP");
        }
        application.run_until_stopped().await.map_err(|e| e.to_string())
    })
}
