//! Typed settings, read once from the environment and passed in (STYLE.md §4). Every variable
//! is documented in README.md with its default.

use std::fmt;
use std::time::Duration;

use crate::domain::pat::PatRule;

/// A secret that never prints: `Debug` and `Display` show a placeholder.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How bearer tokens are verified. The algorithm is pinned by the key: a token signed any other
/// way (including `alg: none`, or HS256 keyed with an RSA public key) is refused.
#[derive(Clone, Debug)]
pub enum JwtKey {
    /// HS256 with a shared secret of at least 32 bytes.
    Hs256(Secret),
    /// RS256, verified with an RSA public key (PEM).
    Rs256 { public_key_pem: String },
    /// ES256, verified with a P-256 public key (PEM).
    Es256 { public_key_pem: String },
    /// RS256 or ES256 (`rs256`), verified with the keys of a JSON Web Key Set: the token's `kid`
    /// picks the key, so an identity provider can rotate keys. Keys of another type are ignored.
    Jwks { rs256: bool, jwks_json: String },
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    pub key: JwtKey,
    pub issuer: String,
    pub audience: String,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    pub jwt: JwtSettings,
    /// The PAT rule used when a screening names none (DOMAIN.md §4).
    pub default_rule: PatRule,
    pub booking_window_hours: i64,
    /// A patient with at least this many earlier attendances in the window is a repeat attender.
    pub repeat_attender_min_prior: u32,
    pub repeat_attender_window_days: i64,
    pub db_pool_size: u32,
    /// `PAT_WRITE_BATCH_SIZE` (32): on PostgreSQL, at most this many attendances (or screenings)
    /// that arrive together are written in one statement and one commit (`db::batch`). 0 writes
    /// each request on its own.
    pub write_batch_size: usize,
    /// `PAT_STATISTICS_DATABASE_URL`: a PostgreSQL streaming replica the statistics read from
    /// (DESIGN.md §8). `None`: they read from `database_url` like everything else.
    pub statistics_database_url: Option<String>,
    /// `PAT_STATISTICS_POOL_SIZE` (4): connections to the replica.
    pub statistics_pool_size: u32,
    /// How long a request waits for a database connection before answering 503.
    pub db_timeout: Duration,
    /// The service's "now" (the system clock; tests move it).
    pub clock: crate::clock::Clock,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error(
        "no token key configured: set PAT_JWT_SECRET (HS256, at least 32 bytes), or \
         PAT_JWT_PUBLIC_KEY_FILE or PAT_JWT_JWKS_FILE with PAT_JWT_ALGORITHM=RS256|ES256; \
         `serve --dev` uses a throwaway development secret"
    )]
    NoKey,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://pat-service.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const MIN_SECRET_BYTES: usize = 32;

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

fn parse_number<T: std::str::FromStr>(
    name: &'static str,
    value: Option<String>,
    default: T,
    accept: impl Fn(&T) -> bool,
    expect: &str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<T>() {
            Ok(v) if accept(&v) => Ok(v),
            _ => Err(invalid(name, format!("{raw:?} is not {expect}"))),
        },
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env(dev: bool) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()), dev)
    }

    /// Reads settings through `get`, so tests can pass their own variables. With `dev` and no
    /// key configured, a random development secret is made: it never works beyond this process.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, dev: bool) -> Result<Settings, ConfigError> {
        let secret = get("PAT_JWT_SECRET");
        let public_key_file = get("PAT_JWT_PUBLIC_KEY_FILE");
        let jwks_file = get("PAT_JWT_JWKS_FILE");
        if [secret.is_some(), public_key_file.is_some(), jwks_file.is_some()]
            .iter()
            .filter(|set| **set)
            .count()
            > 1
        {
            return Err(invalid(
                "PAT_JWT_SECRET",
                "set one of PAT_JWT_SECRET, PAT_JWT_PUBLIC_KEY_FILE and PAT_JWT_JWKS_FILE, not several",
            ));
        }
        let read = |name: &'static str, path: &str| {
            std::fs::read_to_string(path).map_err(|e| invalid(name, format!("cannot read {path}: {e}")))
        };
        let public_algorithm = || match get("PAT_JWT_ALGORITHM").as_deref() {
            Some("RS256") => Ok(true),
            Some("ES256") => Ok(false),
            other => Err(invalid(
                "PAT_JWT_ALGORITHM",
                format!("must be RS256 or ES256 with a public key or key set file (got {other:?})"),
            )),
        };
        let jwt_key = match (secret, public_key_file, jwks_file) {
            (Some(secret), _, _) => {
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(invalid(
                        "PAT_JWT_SECRET",
                        format!("must be at least {MIN_SECRET_BYTES} bytes"),
                    ));
                }
                JwtKey::Hs256(Secret::new(secret))
            }
            (None, Some(path), _) => {
                let public_key_pem = read("PAT_JWT_PUBLIC_KEY_FILE", &path)?;
                if public_algorithm()? {
                    JwtKey::Rs256 { public_key_pem }
                } else {
                    JwtKey::Es256 { public_key_pem }
                }
            }
            (None, None, Some(path)) => {
                let jwks_json = read("PAT_JWT_JWKS_FILE", &path)?;
                JwtKey::Jwks {
                    rs256: public_algorithm()?,
                    jwks_json,
                }
            }
            (None, None, None) if dev => JwtKey::Hs256(Secret::new(development_secret())),
            (None, None, None) => return Err(ConfigError::NoKey),
        };
        let default_rule = match get("PAT_DEFAULT_RULE") {
            None => PatRule::Pat2009,
            Some(code) => PatRule::from_code(&code).ok_or_else(|| {
                invalid(
                    "PAT_DEFAULT_RULE",
                    format!("{code:?} is not one of pat-2009, pat-2004, sips-pat"),
                )
            })?,
        };
        Ok(Settings {
            database_url: get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            listen: get("PAT_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            jwt: JwtSettings {
                key: jwt_key,
                issuer: get("PAT_JWT_ISSUER").unwrap_or_else(|| "pat-service".to_owned()),
                audience: get("PAT_JWT_AUDIENCE").unwrap_or_else(|| "pat-service".to_owned()),
            },
            default_rule,
            booking_window_hours: parse_number(
                "PAT_BOOKING_WINDOW_HOURS",
                get("PAT_BOOKING_WINDOW_HOURS"),
                24,
                |h| (1..=168).contains(h),
                "a whole number of hours from 1 to 168",
            )?,
            repeat_attender_min_prior: parse_number(
                "PAT_REPEAT_ATTENDER_MIN_PRIOR",
                get("PAT_REPEAT_ATTENDER_MIN_PRIOR"),
                1,
                |n| *n >= 1,
                "a whole number of at least 1",
            )?,
            repeat_attender_window_days: parse_number(
                "PAT_REPEAT_ATTENDER_WINDOW_DAYS",
                get("PAT_REPEAT_ATTENDER_WINDOW_DAYS"),
                365,
                |d| (1..=3650).contains(d),
                "a whole number of days from 1 to 3650",
            )?,
            db_pool_size: parse_number(
                "PAT_DB_POOL_SIZE",
                get("PAT_DB_POOL_SIZE"),
                16,
                |n| (1..=1000).contains(n),
                "a whole number from 1 to 1000",
            )?,
            write_batch_size: parse_number(
                "PAT_WRITE_BATCH_SIZE",
                get("PAT_WRITE_BATCH_SIZE"),
                32,
                |n| (0..=1000).contains(n),
                "a whole number from 0 (no batching) to 1000",
            )?,
            statistics_database_url: statistics_database_url(&get)?,
            statistics_pool_size: parse_number(
                "PAT_STATISTICS_POOL_SIZE",
                get("PAT_STATISTICS_POOL_SIZE"),
                4,
                |n| (1..=100).contains(n),
                "a whole number from 1 to 100",
            )?,
            db_timeout: Duration::from_secs(parse_number(
                "PAT_DB_TIMEOUT_SECONDS",
                get("PAT_DB_TIMEOUT_SECONDS"),
                5,
                |s| (1..=300).contains(s),
                "a whole number of seconds from 1 to 300",
            )?),
            clock: crate::clock::Clock::system(),
        })
    }
}

/// `PAT_STATISTICS_DATABASE_URL`, which only makes sense as a PostgreSQL replica of a PostgreSQL
/// `DATABASE_URL`: the triggers that keep the statistics' summaries run on the primary and reach
/// the replica with everything else.
fn statistics_database_url(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(url) = get("PAT_STATISTICS_DATABASE_URL") else {
        return Ok(None);
    };
    let is_postgres = |u: &str| u.starts_with("postgres://") || u.starts_with("postgresql://");
    if !is_postgres(&url) {
        return Err(invalid(
            "PAT_STATISTICS_DATABASE_URL",
            "must be a postgres:// URL (a streaming replica of DATABASE_URL)",
        ));
    }
    if !get("DATABASE_URL").is_some_and(|primary| is_postgres(&primary)) {
        return Err(invalid(
            "PAT_STATISTICS_DATABASE_URL",
            "needs DATABASE_URL to be PostgreSQL too: SQLite has no replica",
        ));
    }
    Ok(Some(url))
}

/// 256 random bits from the operating system (via UUID v4), hex: a development secret that
/// exists only in this process.
fn development_secret() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)], dev: bool) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|k| map.get(k).cloned(), dev)
    }

    #[test]
    fn refuses_to_start_without_a_key_unless_dev() {
        assert!(matches!(settings(&[], false), Err(ConfigError::NoKey)));
        assert!(settings(&[], true).is_ok(), "--dev makes a throwaway secret");
    }

    #[test]
    fn refuses_a_short_secret() {
        assert!(settings(&[("PAT_JWT_SECRET", "too-short")], false).is_err());
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = settings(&[("PAT_JWT_SECRET", &"x".repeat(32))], false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.database_url, "sqlite://pat-service.db");
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.default_rule, PatRule::Pat2009);
        assert_eq!(s.write_batch_size, 32);
        assert_eq!(s.booking_window_hours, 24);
        assert_eq!(s.repeat_attender_min_prior, 1);
        assert_eq!(s.repeat_attender_window_days, 365);
        assert_eq!(s.jwt.issuer, "pat-service");
        assert_eq!(s.jwt.audience, "pat-service");
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2-hunter2-hunter2-hunter2-x".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn rejects_bad_numbers_and_rules() {
        let secret = "x".repeat(32);
        for (name, value) in [
            ("PAT_REPEAT_ATTENDER_MIN_PRIOR", "0"),
            ("PAT_BOOKING_WINDOW_HOURS", "-1"),
            ("PAT_DB_POOL_SIZE", "lots"),
            ("PAT_WRITE_BATCH_SIZE", "1001"),
            ("PAT_WRITE_BATCH_SIZE", "-1"),
            ("PAT_DEFAULT_RULE", "audit-c"),
        ] {
            assert!(
                settings(&[("PAT_JWT_SECRET", &secret), (name, value)], false).is_err(),
                "{name}={value} must be refused"
            );
        }
    }

    #[test]
    fn the_statistics_replica_must_be_postgresql_beside_a_postgresql_primary() {
        let secret = ("PAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let primary = ("DATABASE_URL", "postgres://pat@primary/pat");
        let replica = ("PAT_STATISTICS_DATABASE_URL", "postgres://pat@replica/pat");
        let read = settings(&[secret, primary, replica], false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read.statistics_database_url.as_deref(),
            Some("postgres://pat@replica/pat")
        );
        assert_eq!(read.statistics_pool_size, 4);
        assert_eq!(
            settings(&[secret, primary], false)
                .unwrap_or_else(|e| panic!("{e}"))
                .statistics_database_url,
            None
        );

        let names_it = |result: Result<Settings, ConfigError>| {
            matches!(
                result,
                Err(ConfigError::Invalid {
                    name: "PAT_STATISTICS_DATABASE_URL",
                    ..
                })
            )
        };
        assert!(
            names_it(settings(&[secret, replica], false)),
            "the default primary is SQLite"
        );
        assert!(names_it(settings(
            &[secret, ("DATABASE_URL", "sqlite://pat.db"), replica],
            false
        )));
        assert!(names_it(settings(
            &[secret, primary, ("PAT_STATISTICS_DATABASE_URL", "sqlite://copy.db")],
            false
        )));
        let pool = ("PAT_STATISTICS_POOL_SIZE", "0");
        assert!(matches!(
            settings(&[secret, primary, replica, pool], false),
            Err(ConfigError::Invalid {
                name: "PAT_STATISTICS_POOL_SIZE",
                ..
            })
        ));
    }

    #[test]
    fn a_key_set_file_needs_its_algorithm_and_no_other_key() {
        let path = std::env::temp_dir().join(format!("pat-jwks-{}.json", uuid::Uuid::new_v4().simple()));
        let set = r#"{"keys": []}"#;
        std::fs::write(&path, set).unwrap_or_else(|e| panic!("{e}"));
        let file = path.to_string_lossy().into_owned();
        let jwks = ("PAT_JWT_JWKS_FILE", file.as_str());
        let read = settings(&[jwks, ("PAT_JWT_ALGORITHM", "ES256")], false).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(read.jwt.key, JwtKey::Jwks { rs256: false, ref jwks_json } if jwks_json == set));
        let names = |result: Result<Settings, ConfigError>, expected: &str| matches!(result, Err(ConfigError::Invalid { name, .. }) if name == expected);
        assert!(names(settings(&[jwks], false), "PAT_JWT_ALGORITHM"));
        assert!(names(
            settings(&[jwks, ("PAT_JWT_ALGORITHM", "HS256")], false),
            "PAT_JWT_ALGORITHM"
        ));
        let secret = ("PAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        assert!(names(
            settings(&[jwks, secret, ("PAT_JWT_ALGORITHM", "RS256")], false),
            "PAT_JWT_SECRET"
        ));
        let _ = std::fs::remove_file(&path);
        let missing = ("PAT_JWT_JWKS_FILE", "/nonexistent/pat-jwks.json");
        assert!(names(
            settings(&[missing, ("PAT_JWT_ALGORITHM", "RS256")], false),
            "PAT_JWT_JWKS_FILE"
        ));
    }
}
