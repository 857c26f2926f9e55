//! Typed settings, read once from the environment and passed in (docs/style.md §4). Every variable
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

/// A database URL, which may carry a password (`postgres://user:password@host/db`, or a
/// `password=` query parameter). `expose` gives the URL to connect with; `Debug` and `Display`
/// show `redacted()`: the URL with any password replaced by `***`, so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL without its password (see `redact_url`).
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> DatabaseUrl {
        DatabaseUrl(url)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A database URL fit for a log line or an error message: everything that could be a password is
/// `***`, erring towards hiding too much when the URL is malformed.
///
/// - `sqlite://PATH` is shown as it is: a file path carries no credentials.
/// - A value with neither `@` nor `=` is shown as it is: libpq takes a password only from the
///   `user:password@` part of a URL or from a `password=` parameter.
/// - `scheme://…`: everything from the first `:` after `://` to the *last* `@` is hidden (a
///   password's own `@`, `:` or `/`, escaped or not, cannot move the end of what is hidden), and
///   so is everything after the `=` of a parameter whose name, percent-decoded, contains
///   `password` (`password`, `sslpassword`).
/// - Anything else (no `scheme://`) is `***` entirely.
pub fn redact_url(url: &str) -> String {
    if url.starts_with("sqlite://") || !url.contains(['@', '=']) {
        return url.to_owned();
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let plain_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !plain_scheme {
        return "***".to_owned();
    }
    // Byte ranges of `rest` to hide. Both start just after an ASCII character and end at one or
    // at the end, so they fall on character boundaries.
    let mut hidden: Vec<std::ops::Range<usize>> = vec![];
    if let (Some(colon), Some(at)) = (rest.find(':'), rest.rfind('@')) {
        if colon < at {
            hidden.push(colon + 1..at);
        }
    }
    let password_parameter = rest.match_indices('=').map(|(i, _)| i).find(|&equals| {
        let name_start = rest[..equals].rfind(['?', '&']).map_or(0, |i| i + 1);
        percent_decode_lossy(&rest[name_start..equals])
            .to_ascii_lowercase()
            .contains("password")
    });
    if let Some(equals) = password_parameter {
        hidden.push(equals + 1..rest.len());
    }
    let mut shown = format!("{scheme}://");
    let mut in_hidden = false;
    for (i, c) in rest.char_indices() {
        if hidden.iter().any(|range| range.contains(&i)) {
            if !in_hidden {
                shown.push_str("***");
            }
            in_hidden = true;
        } else {
            shown.push(c);
            in_hidden = false;
        }
    }
    shown
}

/// `%XX` escapes decoded (invalid ones kept as they are), for comparing parameter names.
fn percent_decode_lossy(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Refuses a PostgreSQL URL that libpq would misread or reject in an error message quoting part of
/// it: the message would reach the log (every failed connection is logged) with a piece of the
/// password in it. libpq quotes the whole URL for a malformed `[IPv6]` host, the token for a bad
/// percent-escape, and the host or port it read where an unescaped `@`, `/` or `?` in the password
/// made it read a piece of the password as one. The reasons never quote the URL.
///
/// One case is left: a password given as a query parameter (`?password=…`) with an unescaped `&`
/// in it. libpq reads what follows the `&` as another parameter and names it if it does not know
/// it; nothing here can tell that piece from a parameter libpq knows.
fn check_postgres_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    let refuse = |reason: &str| {
        Err(invalid(
            name,
            format!("{reason} (the value is not shown: it may hold a password)"),
        ))
    };
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let bytes = rest.as_bytes();
    for (i, _) in rest.match_indices('%') {
        let hex = bytes.get(i + 1..i + 3).unwrap_or(&[]);
        if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) || hex == b"00" {
            return refuse(
                "has a '%' that does not start a percent-escape of two hex digits, or escapes NUL \
                 (%00): write '%' itself as %25",
            );
        }
    }
    let netloc = match rest.match_indices('@').map(|(i, _)| i).collect::<Vec<_>>()[..] {
        [] => 0,
        [at] if !rest[..at].contains(['/', '?']) => at + 1,
        _ => {
            return refuse(
                "has more than one '@', or an '@' after a '/' or '?': in the user name and \
                 password (and anywhere else) write '@' as %40, '/' as %2F and '?' as %3F",
            )
        }
    };
    // The hosts, as libpq reads them: `host[:port]` or `[ipv6][:port]`, separated by commas.
    let mut p = netloc;
    loop {
        if bytes.get(p) == Some(&b'[') {
            match rest[p + 1..].find(']') {
                Some(length) if length > 0 => p += length + 2,
                _ => return refuse("has an IPv6 host in brackets that is not closed, or empty"),
            }
            if !matches!(bytes.get(p), None | Some(b':' | b'/' | b'?' | b',')) {
                return refuse("has an IPv6 host in brackets followed by something other than ':', '/', '?' or ','");
            }
        }
        while !matches!(bytes.get(p), None | Some(b',' | b'/' | b'?')) {
            p += 1;
        }
        if bytes.get(p) != Some(&b',') {
            return Ok(());
        }
        p += 1;
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
    /// `DATABASE_URL`; its `Debug` hides the password.
    pub database_url: DatabaseUrl,
    pub listen: String,
    pub jwt: JwtSettings,
    /// The PAT rule used when a screening names none (docs/domain.md §4).
    pub default_rule: PatRule,
    /// `PAT_ACCEPT_TEST_NHS_NUMBERS` (false): accept NHS numbers from the NHS test range (999 000
    /// 0000 – 999 999 9999) in requests. Off in production: the NHS never issues them, so one
    /// arriving there is a test record in the wrong system. Placeholders (ten equal digits) are
    /// refused either way (`NhsNumber::parse_for_patient`).
    pub accept_test_nhs_numbers: bool,
    pub booking_window_hours: i64,
    /// A patient with at least this many earlier attendances in the window is a repeat attender.
    pub repeat_attender_min_prior: u32,
    pub repeat_attender_window_days: i64,
    /// `PAT_MIN_AGE` (16): a patient younger than this on the day of arrival (known from the
    /// date of birth) is not PAT-indicated and is left out of `eligible`.
    pub min_age: u32,
    pub db_pool_size: u32,
    /// `PAT_WRITE_BATCH_SIZE` (32): on PostgreSQL, at most this many attendances (or screenings)
    /// that arrive together are written in one statement and one commit (`db::batch`). 0 writes
    /// each request on its own.
    pub write_batch_size: usize,
    /// `PAT_STATISTICS_DATABASE_URL`: a PostgreSQL streaming replica the statistics read from
    /// (docs/design.md §8). `None`: they read from `database_url` like everything else.
    pub statistics_database_url: Option<DatabaseUrl>,
    /// `PAT_STATISTICS_POOL_SIZE` (4): connections to the replica.
    pub statistics_pool_size: u32,
    /// How long a request waits for a database connection before answering 503.
    pub db_timeout: Duration,
    /// The service's "now" (the system clock; tests move it).
    pub clock: crate::clock::Clock,
    /// `PAT_CHIEF_COMPLAINT_MAP` (default: the table shipped in `data/`): the trust's table of
    /// ECDS chief complaints to PAT conditions (docs/domain.md §11), read once at start.
    pub chief_complaints: std::sync::Arc<crate::domain::chief_complaint::ChiefComplaintMap>,
    /// The HL7 v2 listener (`PAT_MLLP_*`, docs/design.md §10).
    pub mllp: MllpSettings,
    /// `PAT_OIDC_*`: OpenID Connect sign-in for the web pages (docs/design.md §13); `None` when
    /// `PAT_OIDC_ISSUER` is unset.
    pub oidc: Option<OidcSettings>,
    /// `serve --dev`: the development sign-in links of the web pages exist (docs/design.md §12),
    /// and the session cookie is not `Secure` when listening on loopback. False in production
    /// and in tests unless a test sets it.
    pub dev: bool,
    pub web: WebSettings,
}

/// The web pages' settings (docs/design.md §12).
#[derive(Clone, Debug)]
pub struct WebSettings {
    /// `PAT_SESSION_IDLE_MINUTES` (30): a session not used for longer is gone.
    pub session_idle_minutes: i64,
    /// The key the development sign-in links carry: random per process, so a link works only
    /// for the process that printed it.
    pub dev_sign_in_key: Secret,
}

impl Default for WebSettings {
    fn default() -> WebSettings {
        WebSettings {
            session_idle_minutes: DEFAULT_SESSION_IDLE_MINUTES,
            dev_sign_in_key: Secret::new(development_secret()),
        }
    }
}

impl WebSettings {
    pub fn session_idle(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.session_idle_minutes)
    }
}

/// `PAT_OIDC_*`: the identity provider the web pages sign people in with (src/oidc,
/// docs/design.md §13). Issuer, client id, client secret and redirect URL are set together.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// `PAT_OIDC_ISSUER`: the provider's issuer URL, exactly as its discovery document and ID
    /// tokens give it. `https`, or `http` on a loopback host (tests, development).
    pub issuer: String,
    /// `PAT_OIDC_CLIENT_ID`: this service's client id at the provider; the ID tokens' audience.
    pub client_id: String,
    /// `PAT_OIDC_CLIENT_SECRET`; its `Debug` is a placeholder.
    pub client_secret: Secret,
    /// `PAT_OIDC_REDIRECT_URL`: where the provider sends the browser back with the code, as
    /// registered there (e.g. `https://pat.trust.nhs.uk/web/oidc/callback`).
    pub redirect_url: String,
    /// `PAT_OIDC_ROLES_CLAIM` (`roles`): the ID token claim holding the user's roles, an array of
    /// strings or one space-separated string. Names other than the service's roles are ignored.
    pub roles_claim: String,
}

/// `PAT_OIDC_ROLES_CLAIM` when unset: the claim Microsoft Entra ID puts app roles in.
pub const DEFAULT_OIDC_ROLES_CLAIM: &str = "roles";

/// `PAT_MLLP_*`: the HL7 v2 ADT listener over MLLP (docs/design.md §10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MllpSettings {
    /// `PAT_MLLP_LISTEN`: `host:port` to accept MLLP connections on; `None` (unset): no listener.
    pub listen: Option<String>,
    /// `PAT_MLLP_CHIEF_COMPLAINT_FIELD` (`PV2-3`): where the chief complaint is, because trusts
    /// differ.
    pub chief_complaint_field: FieldLocation,
    /// `PAT_MLLP_MAX_MESSAGE_BYTES` (1 MiB): a larger message is answered AR and discarded
    /// without being kept in memory.
    pub max_message_bytes: usize,
    /// `PAT_MLLP_MAX_CONNECTIONS` (64): connections served at once; more wait, unanswered, in the
    /// kernel's queue until one closes. Bounds the memory the listener can be made to hold
    /// (this × `max_message_bytes`).
    pub max_connections: usize,
}

impl Default for MllpSettings {
    /// Off, `PV2-3`, 1 MiB: the documented defaults.
    fn default() -> MllpSettings {
        MllpSettings {
            listen: None,
            chief_complaint_field: FieldLocation {
                segment: "PV2".into(),
                field: 3,
                component: 1,
            },
            max_message_bytes: DEFAULT_MLLP_MAX_MESSAGE_BYTES,
            max_connections: DEFAULT_MLLP_MAX_CONNECTIONS,
        }
    }
}

/// A field of an HL7 v2 segment, written `SEG-N` or `SEG-N.C` (`PV2-3`, `PV1-10.1`): the
/// segment's three-character name, the field's number and the component (default 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldLocation {
    pub segment: String,
    pub field: usize,
    pub component: usize,
}

impl FieldLocation {
    /// Parses `SEG-N` or `SEG-N.C`. MSH is refused: its field numbers are shifted by the field
    /// separator and nothing clinical is in it.
    pub fn parse(text: &str) -> Option<FieldLocation> {
        let (segment, rest) = text.trim().split_once('-')?;
        let (field, component) = match rest.split_once('.') {
            Some((field, component)) => (field, Some(component)),
            None => (rest, None),
        };
        let number = |digits: &str, max: usize| {
            (!digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<usize>().ok())
                .flatten()
                .filter(|n| (1..=max).contains(n))
        };
        let valid_segment = segment.len() == 3
            && segment.starts_with(|c: char| c.is_ascii_uppercase())
            && segment.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && segment != "MSH";
        if !valid_segment {
            return None;
        }
        Some(FieldLocation {
            segment: segment.to_owned(),
            field: number(field, 999)?,
            component: match component {
                Some(c) => number(c, 99)?,
                None => 1,
            },
        })
    }
}

impl fmt::Display for FieldLocation {
    /// As an HL7 error location (ERR-2): `PV2^1^3`, with `^1^C` when the component is not the
    /// first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}^1^{}", self.segment, self.field)?;
        if self.component != 1 {
            write!(f, "^1^{}", self.component)?;
        }
        Ok(())
    }
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
/// `PAT_SESSION_IDLE_MINUTES` when unset.
pub const DEFAULT_SESSION_IDLE_MINUTES: i64 = 30;
pub const DEFAULT_MLLP_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// `PAT_MLLP_MAX_CONNECTIONS` when unset: an integration engine holds a handful of connections.
pub const DEFAULT_MLLP_MAX_CONNECTIONS: usize = 64;

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

/// A `true`/`false` setting. Anything else (`1`, `yes`, `TRUE`) is refused rather than guessed at:
/// a misspelt switch should stop the service, not silently leave it at its default.
fn parse_bool(name: &'static str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value {
        None => Ok(default),
        Some(raw) => match raw.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(invalid(name, format!("{raw:?} is not true or false"))),
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
            database_url: database_url(&get)?,
            listen: get("PAT_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            jwt: JwtSettings {
                key: jwt_key,
                issuer: get("PAT_JWT_ISSUER").unwrap_or_else(|| "pat-service".to_owned()),
                audience: get("PAT_JWT_AUDIENCE").unwrap_or_else(|| "pat-service".to_owned()),
            },
            default_rule,
            accept_test_nhs_numbers: parse_bool(
                "PAT_ACCEPT_TEST_NHS_NUMBERS",
                get("PAT_ACCEPT_TEST_NHS_NUMBERS"),
                false,
            )?,
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
            min_age: parse_number(
                "PAT_MIN_AGE",
                get("PAT_MIN_AGE"),
                crate::domain::eligibility::DEFAULT_MIN_AGE,
                |a| *a <= 25,
                "a whole number of years from 0 (no age limit) to 25",
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
            chief_complaints: std::sync::Arc::new(chief_complaint_map(&get)?),
            mllp: mllp_settings(&get)?,
            oidc: oidc_settings(&get)?,
            dev,
            web: WebSettings {
                session_idle_minutes: parse_number(
                    "PAT_SESSION_IDLE_MINUTES",
                    get("PAT_SESSION_IDLE_MINUTES"),
                    DEFAULT_SESSION_IDLE_MINUTES,
                    |m| (1..=720).contains(m),
                    "a whole number of minutes from 1 to 720",
                )?,
                ..WebSettings::default()
            },
        })
    }
}

/// `PAT_OIDC_ISSUER`, `PAT_OIDC_CLIENT_ID`, `PAT_OIDC_CLIENT_SECRET`, `PAT_OIDC_REDIRECT_URL`
/// (all four, or none) and `PAT_OIDC_ROLES_CLAIM`. The secret is never quoted in an error.
fn oidc_settings(get: &impl Fn(&str) -> Option<String>) -> Result<Option<OidcSettings>, ConfigError> {
    const REQUIRED: [&str; 4] = [
        "PAT_OIDC_ISSUER",
        "PAT_OIDC_CLIENT_ID",
        "PAT_OIDC_CLIENT_SECRET",
        "PAT_OIDC_REDIRECT_URL",
    ];
    let values = REQUIRED.map(|name| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()));
    if values.iter().all(Option::is_none) {
        if get("PAT_OIDC_ROLES_CLAIM").is_some() {
            return Err(invalid(
                "PAT_OIDC_ROLES_CLAIM",
                "is set but PAT_OIDC_ISSUER is not: set PAT_OIDC_ISSUER, PAT_OIDC_CLIENT_ID, \
                 PAT_OIDC_CLIENT_SECRET and PAT_OIDC_REDIRECT_URL, or none of them",
            ));
        }
        return Ok(None);
    }
    if let Some(missing) = REQUIRED.iter().zip(&values).find(|(_, v)| v.is_none()).map(|(n, _)| *n) {
        let set: Vec<&str> = REQUIRED
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_some())
            .map(|(n, _)| *n)
            .collect();
        return Err(invalid(
            missing,
            format!(
                "is not set but {} is: set PAT_OIDC_ISSUER, PAT_OIDC_CLIENT_ID, PAT_OIDC_CLIENT_SECRET \
                 and PAT_OIDC_REDIRECT_URL together, or none of them",
                set.join(", ")
            ),
        ));
    }
    let [Some(issuer), Some(client_id), Some(client_secret), Some(redirect_url)] = values else {
        return Ok(None);
    };
    check_oidc_url("PAT_OIDC_ISSUER", &issuer)?;
    check_oidc_url("PAT_OIDC_REDIRECT_URL", &redirect_url)?;
    let roles_claim = get("PAT_OIDC_ROLES_CLAIM")
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_OIDC_ROLES_CLAIM.to_owned());
    if roles_claim.is_empty() || roles_claim.contains(char::is_whitespace) {
        return Err(invalid(
            "PAT_OIDC_ROLES_CLAIM",
            format!("{roles_claim:?} is not a claim name (one word, e.g. roles)"),
        ));
    }
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret: Secret::new(client_secret),
        redirect_url,
        roles_claim,
    }))
}

/// An `https://host…` URL, or `http://` to a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`)
/// for tests and development: anything else would send codes and tokens in the clear.
fn check_oidc_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    let refuse = || {
        Err(invalid(
            name,
            format!("{url:?} is not an https:// URL (http:// only to localhost, 127.0.0.1 or [::1])"),
        ))
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.contains(char::is_whitespace) {
        return refuse();
    }
    let host = if authority.starts_with('[') {
        authority.split_once(']').map_or("", |(h, _)| h).trim_start_matches('[')
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match scheme.to_ascii_lowercase().as_str() {
        "https" if !host.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        _ => refuse(),
    }
}

/// `PAT_CHIEF_COMPLAINT_MAP`: the trust's table, or the shipped one. A table that cannot be read
/// exactly stops the service with the line at fault.
fn chief_complaint_map(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<crate::domain::chief_complaint::ChiefComplaintMap, ConfigError> {
    use crate::domain::chief_complaint::ChiefComplaintMap;
    const NAME: &str = "PAT_CHIEF_COMPLAINT_MAP";
    match get(NAME) {
        None => ChiefComplaintMap::shipped().map_err(|e| invalid(NAME, format!("the shipped table: {e}"))),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| invalid(NAME, format!("cannot read {path}: {e}")))?;
            ChiefComplaintMap::parse(&text).map_err(|e| invalid(NAME, format!("{path}: {e}")))
        }
    }
}

/// `PAT_MLLP_LISTEN`, `PAT_MLLP_CHIEF_COMPLAINT_FIELD`, `PAT_MLLP_MAX_MESSAGE_BYTES`,
/// `PAT_MLLP_MAX_CONNECTIONS`.
fn mllp_settings(get: &impl Fn(&str) -> Option<String>) -> Result<MllpSettings, ConfigError> {
    let defaults = MllpSettings::default();
    let listen = match get("PAT_MLLP_LISTEN") {
        None => None,
        Some(raw) => {
            let address = raw.trim();
            let valid = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(invalid(
                    "PAT_MLLP_LISTEN",
                    format!("{raw:?} is not host:port (e.g. 0.0.0.0:2575)"),
                ));
            }
            Some(address.to_owned())
        }
    };
    let chief_complaint_field = match get("PAT_MLLP_CHIEF_COMPLAINT_FIELD") {
        None => defaults.chief_complaint_field,
        Some(raw) => FieldLocation::parse(&raw).ok_or_else(|| {
            invalid(
                "PAT_MLLP_CHIEF_COMPLAINT_FIELD",
                format!("{raw:?} is not SEG-N or SEG-N.C (e.g. PV2-3), with a segment other than MSH"),
            )
        })?,
    };
    Ok(MllpSettings {
        listen,
        chief_complaint_field,
        max_message_bytes: parse_number(
            "PAT_MLLP_MAX_MESSAGE_BYTES",
            get("PAT_MLLP_MAX_MESSAGE_BYTES"),
            DEFAULT_MLLP_MAX_MESSAGE_BYTES,
            |n| (1024..=64 * 1024 * 1024).contains(n),
            "a whole number of bytes from 1024 to 67108864",
        )?,
        max_connections: parse_number(
            "PAT_MLLP_MAX_CONNECTIONS",
            get("PAT_MLLP_MAX_CONNECTIONS"),
            DEFAULT_MLLP_MAX_CONNECTIONS,
            |n| (1..=4096).contains(n),
            "a whole number of connections from 1 to 4096",
        )?,
    })
}

/// `DATABASE_URL`, checked when it names PostgreSQL (`check_postgres_url`).
fn database_url(get: &impl Fn(&str) -> Option<String>) -> Result<DatabaseUrl, ConfigError> {
    let url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    if is_postgres(&url) {
        check_postgres_url("DATABASE_URL", &url)?;
    }
    Ok(DatabaseUrl::new(url))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `PAT_STATISTICS_DATABASE_URL`, which only makes sense as a PostgreSQL replica of a PostgreSQL
/// `DATABASE_URL`: the triggers that keep the statistics' summaries run on the primary and reach
/// the replica with everything else.
fn statistics_database_url(get: &impl Fn(&str) -> Option<String>) -> Result<Option<DatabaseUrl>, ConfigError> {
    let Some(url) = get("PAT_STATISTICS_DATABASE_URL") else {
        return Ok(None);
    };
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
    check_postgres_url("PAT_STATISTICS_DATABASE_URL", &url)?;
    Ok(Some(DatabaseUrl::new(url)))
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
    fn session_idle_minutes_default_to_30_and_a_bad_value_stops_the_service() {
        let key = ("PAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        assert_eq!(
            settings(&[key], false).map(|s| s.web.session_idle_minutes).ok(),
            Some(30)
        );
        assert_eq!(
            settings(&[key, ("PAT_SESSION_IDLE_MINUTES", "15")], false)
                .map(|s| s.web.session_idle_minutes)
                .ok(),
            Some(15)
        );
        for bad in ["0", "-5", "ten", "721"] {
            let error = settings(&[key, ("PAT_SESSION_IDLE_MINUTES", bad)], false)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.starts_with("PAT_SESSION_IDLE_MINUTES:"), "{bad}: {error}");
        }
    }

    #[test]
    fn refuses_a_short_secret() {
        assert!(settings(&[("PAT_JWT_SECRET", "too-short")], false).is_err());
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = settings(&[("PAT_JWT_SECRET", &"x".repeat(32))], false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.database_url.expose(), "sqlite://pat-service.db");
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.default_rule, PatRule::Pat2009);
        assert!(!s.accept_test_nhs_numbers);
        assert_eq!(s.write_batch_size, 32);
        assert_eq!(s.booking_window_hours, 24);
        assert_eq!(s.repeat_attender_min_prior, 1);
        assert_eq!(s.repeat_attender_window_days, 365);
        assert_eq!(s.min_age, 16);
        assert_eq!(s.jwt.issuer, "pat-service");
        assert_eq!(s.jwt.audience, "pat-service");
    }

    #[test]
    fn the_mllp_listener_is_off_by_default_and_its_settings_are_checked() {
        let secret = ("PAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let s = settings(&[secret], false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.mllp.listen, None);
        assert_eq!(s.mllp.chief_complaint_field.to_string(), "PV2^1^3");
        assert_eq!(s.mllp.max_message_bytes, 1_048_576);
        assert_eq!(s.mllp.max_connections, 64);

        let set = [
            secret,
            ("PAT_MLLP_LISTEN", "0.0.0.0:2575"),
            ("PAT_MLLP_CHIEF_COMPLAINT_FIELD", "ZED-12.2"),
            ("PAT_MLLP_MAX_MESSAGE_BYTES", "2048"),
            ("PAT_MLLP_MAX_CONNECTIONS", "8"),
        ];
        let s = settings(&set, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.mllp.listen.as_deref(), Some("0.0.0.0:2575"));
        assert_eq!(
            s.mllp.chief_complaint_field,
            FieldLocation {
                segment: "ZED".into(),
                field: 12,
                component: 2
            }
        );
        assert_eq!(s.mllp.max_message_bytes, 2048);
        assert_eq!(s.mllp.max_connections, 8);

        for (name, value) in [
            ("PAT_MLLP_LISTEN", "2575"),
            ("PAT_MLLP_LISTEN", ":2575"),
            ("PAT_MLLP_LISTEN", "localhost:65536"),
            ("PAT_MLLP_CHIEF_COMPLAINT_FIELD", "PV2"),
            ("PAT_MLLP_CHIEF_COMPLAINT_FIELD", "PV2-0"),
            ("PAT_MLLP_CHIEF_COMPLAINT_FIELD", "pv2-3"),
            ("PAT_MLLP_CHIEF_COMPLAINT_FIELD", "MSH-9"),
            ("PAT_MLLP_CHIEF_COMPLAINT_FIELD", "PV2-3.x"),
            ("PAT_MLLP_MAX_MESSAGE_BYTES", "1023"),
            ("PAT_MLLP_MAX_MESSAGE_BYTES", "1MiB"),
            ("PAT_MLLP_MAX_CONNECTIONS", "0"),
            ("PAT_MLLP_MAX_CONNECTIONS", "4097"),
        ] {
            assert!(
                matches!(
                    settings(&[secret, (name, value)], false),
                    Err(ConfigError::Invalid { name: refused, .. }) if refused == name
                ),
                "{name}={value} must be refused, naming the variable"
            );
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2-hunter2-hunter2-hunter2-x".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    /// Each password is made of distinctive three-character pieces: none of them may show, alone
    /// or together, escaped or decoded.
    fn assert_hidden(shown: &str, pieces: &[&str], what: &str) {
        for piece in pieces {
            assert!(
                !shown.contains(piece),
                "{piece:?} of the password of {what} shows: {shown}"
            );
        }
    }

    #[test]
    fn settings_never_print_a_database_password() {
        let secret = ("PAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        // (URL, the pieces of its password, what Debug shows), all accepted by `from_lookup`.
        let accepted = [
            (
                "postgres://pat:Qx7Zr9Kp2@db.example:5432/pat?sslmode=require",
                &["Qx7", "Zr9", "Kp2"][..],
                "postgres://pat:***@db.example:5432/pat?sslmode=require",
            ),
            // '@', ':', '/', '?' and '%' in the password, percent-escaped as they must be.
            (
                "postgresql://pat:Qx7%40Zr9%3AKp2%2FWm5%3FYt8%25Jh4@db/pat",
                &["Qx7", "Zr9", "Kp2", "Wm5", "Yt8", "Jh4", "@Zr9", "%40"][..],
                "postgresql://pat:***@db/pat",
            ),
            // An unescaped ':' is harmless to libpq (the password runs to the '@').
            (
                "postgres://pat:Qx7:Zr9@db/pat",
                &["Qx7", "Zr9"][..],
                "postgres://pat:***@db/pat",
            ),
            // A password given as a parameter, even under an escaped name.
            (
                "postgres://pat@db/pat?password=Qx7%26Zr9&sslmode=require",
                &["Qx7", "Zr9"][..],
                "postgres://pat@db/pat?password=***",
            ),
            (
                "postgres://pat@db/pat?sslmode=verify-full&sslpassword=Qx7Zr9",
                &["Qx7", "Zr9"][..],
                "postgres://pat@db/pat?sslmode=verify-full&sslpassword=***",
            ),
            (
                "postgres://db/pat?user=pat&pass%77ord=Qx7Zr9",
                &["Qx7", "Zr9"][..],
                "postgres://db/pat?user=pat&pass%77ord=***",
            ),
            (
                "postgres://pat:Qx7Zr9@[::1]:5432,db2/pat",
                &["Qx7", "Zr9"][..],
                "postgres://pat:***@[::1]:5432,db2/pat",
            ),
        ];
        for (url, pieces, expected) in accepted {
            let read = settings(
                &[secret, ("DATABASE_URL", url), ("PAT_STATISTICS_DATABASE_URL", url)],
                false,
            )
            .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(read.database_url.expose(), url, "connects with the real URL");
            assert_eq!(format!("{:?}", read.database_url), format!("DatabaseUrl({expected:?})"));
            assert_eq!(read.database_url.to_string(), expected);
            let debug = format!("{read:?}");
            assert!(debug.contains(expected), "{debug}");
            assert_hidden(&debug, pieces, url);
            assert_hidden(&format!("{read:#?}"), pieces, url);
        }

        // Malformed URLs (refused by `from_lookup`, but `Settings` can be built by hand): what
        // shows may be mangled, never the password.
        for (url, pieces) in [
            (
                "postgres://pat:Qx7@Zr9:Kp2/Wm5@db/pat",
                &["Qx7", "Zr9", "Kp2", "Wm5"][..],
            ),
            ("postgres://pat:Qx7/Zr9@db/pat", &["Qx7", "Zr9"][..]),
            ("postgres://pat:Qx7?Zr9@db/pat", &["Qx7", "Zr9"][..]),
            (
                "postgres://db/pat?password=Qx7@Zr9&application_name=a@b",
                &["Qx7", "Zr9"][..],
            ),
            (
                "postgres://pat:Qx7Zr9@db/pat?password=Kp2@Wm5",
                &["Qx7", "Zr9", "Kp2", "Wm5"][..],
            ),
            ("postgres://pat:Qx7?password=Zr9@db/pat", &["Qx7", "Zr9"][..]),
            ("postgres://pat:Qx7%zzZr9@db/pat", &["Qx7", "Zr9"][..]),
            ("postgres:/pat:Qx7Zr9@db/pat", &["Qx7", "Zr9"][..]),
            ("pat:Qx7Zr9@db/pat", &["Qx7", "Zr9"][..]),
            ("host=db user=pat password=Qx7Zr9", &["Qx7", "Zr9"][..]),
            ("mysql://pat:Qx7Zr9@db/pat", &["Qx7", "Zr9"][..]),
        ] {
            assert_hidden(&format!("{:?}", DatabaseUrl::new(url)), pieces, url);
            assert_hidden(&DatabaseUrl::new(url).to_string(), pieces, url);
            assert_hidden(&redact_url(url), pieces, url);
        }

        // Without credentials there is nothing to hide.
        for url in ["sqlite:///var/lib/pat@2025/pat.db", "postgres://db:5432/pat", "pat.db"] {
            assert_eq!(redact_url(url), url);
        }
        assert_eq!(redact_url("mysql://pat:Qx7@db/pat"), "mysql://pat:***@db/pat");
    }

    #[test]
    fn refuses_a_postgresql_url_that_libpq_would_misread_without_quoting_it() {
        let secret = ("PAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        for url in [
            "postgres://pat:Qx7@Zr9@db/pat",
            "postgres://pat:Qx7/Zr9@db/pat",
            "postgres://pat:Qx7?Zr9@db/pat",
            "postgres://db/pat?password=Qx7@Zr9",
            "postgres://pat:Qx7%zzZr9@db/pat",
            "postgres://pat:Qx7%00Zr9@db/pat",
            "postgres://pat:Qx7Zr9%4@db/pat",
            "postgres://pat:Qx7Zr9@[::1/pat",
            "postgres://pat:Qx7Zr9@[]/pat",
            "postgres://pat:Qx7Zr9@[::1]x/pat",
            "postgres://pat:Qx7Zr9@db,[::1/pat",
        ] {
            for name in ["DATABASE_URL", "PAT_STATISTICS_DATABASE_URL"] {
                let primary = if name == "DATABASE_URL" {
                    url
                } else {
                    "postgres://pat@db/pat"
                };
                let vars = [secret, ("DATABASE_URL", primary), (name, url)];
                match settings(&vars, false) {
                    Err(error @ ConfigError::Invalid { name: refused, .. }) if refused == name => {
                        assert_hidden(&error.to_string(), &["Qx7", "Zr9"], url)
                    }
                    other => panic!("{name}={url}: {other:?}"),
                }
            }
        }
        // SQLite paths are not URLs libpq reads: anything goes.
        let sqlite = ("DATABASE_URL", "sqlite:///tmp/pat@2025%/a?b.db");
        assert!(settings(&[secret, sqlite], false).is_ok());
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
    fn accepting_test_nhs_numbers_is_true_or_false_only() {
        let secret = ("PAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let name = "PAT_ACCEPT_TEST_NHS_NUMBERS";
        for (value, expected) in [("true", true), ("false", false), (" true ", true)] {
            let read = settings(&[secret, (name, value)], false).unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert_eq!(read.accept_test_nhs_numbers, expected, "{value:?}");
        }
        for value in ["1", "0", "yes", "no", "TRUE", "False", "on", "ture"] {
            assert!(
                matches!(
                    settings(&[secret, (name, value)], false),
                    Err(ConfigError::Invalid { name: refused, .. }) if refused == name
                ),
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
            read.statistics_database_url.as_ref().map(DatabaseUrl::expose),
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
