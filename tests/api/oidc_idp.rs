//! A test OpenID Connect identity provider on loopback port 0, one per test (tests/api/oidc.rs):
//! the discovery document, a JWKS of one RSA key, an authorization endpoint that answers with a
//! redirect carrying a code, and a token endpoint that checks the client secret and the PKCE
//! verifier (S256) and returns an RS256-signed ID token. `IdpOptions` makes it misbehave in the
//! ways the client must catch.
//!
//! The RSA keys are made when the test binary first needs them (`keys`): test keys that sign
//! nothing outside these tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use actix_web::{http::header, web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pat_service::config::{OidcSettings, Secret};
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "pat-service-web";
pub const CLIENT_SECRET: &str = "test-client-secret-not-used-anywhere-else";
pub const REDIRECT_URL: &str = "https://pat.example.nhs.uk/web/oidc/callback";
const KID: &str = "test-key-1";
const ROTATED_KID: &str = "test-key-2";

/// How the provider answers. `Default`: correctly, for subject `user-1` named "Test User" with
/// roles `clinician`, `ahw` and one the service does not know.
#[derive(Clone)]
pub struct IdpOptions {
    pub subject: String,
    pub name: Option<String>,
    /// The value of the `roles` claim (`Value::Null`: no claim).
    pub roles: Value,
    /// Put this nonce in the ID token instead of the one the client sent.
    pub nonce: Option<String>,
    /// `exp` relative to now, in seconds (negative: already expired).
    pub expires_in: i64,
    /// `aud` instead of the client id.
    pub audience: Option<String>,
    /// Sign with a key that is not in the JWKS (same `kid`).
    pub wrong_key: bool,
    /// Sign with a new key (`kid` `test-key-2`) that the JWKS publishes only from its second
    /// fetch on: a key rotated after the client discovered the provider.
    pub rotated_key: bool,
}

impl Default for IdpOptions {
    fn default() -> IdpOptions {
        IdpOptions {
            subject: "user-1".into(),
            name: Some("Test User".into()),
            roles: json!(["clinician", "ahw", "Nurse.Manager"]),
            nonce: None,
            expires_in: 300,
            audience: None,
            wrong_key: false,
            rotated_key: false,
        }
    }
}

struct TestKey {
    pem: String,
    n: String,
    e: String,
}

/// The JWKS key and a second key (not in the JWKS, except as `rotated_key`), made once per test
/// binary run.
fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let make = || {
            let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate a test RSA key");
            TestKey {
                pem: key.to_pkcs1_pem(LineEnding::LF).expect("PEM").to_string(),
                n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            }
        };
        (make(), make())
    })
}

/// What the authorization endpoint remembered about a code.
struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Idp {
    issuer: String,
    options: IdpOptions,
    grants: Mutex<HashMap<String, Grant>>,
    jwks_fetches: AtomicUsize,
}

pub struct TestIdp {
    pub issuer: String,
}

impl TestIdp {
    pub async fn start(options: IdpOptions) -> TestIdp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the test identity provider");
        TestIdp::start_on(listener, options).await
    }

    /// As `start`, on a listener the test bound (e.g. at a port a service was told about while
    /// nothing listened there).
    pub async fn start_on(listener: std::net::TcpListener, options: IdpOptions) -> TestIdp {
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().expect("address").port());
        let idp = web::Data::new(Idp {
            issuer: issuer.clone(),
            options,
            grants: Mutex::new(HashMap::new()),
            jwks_fetches: AtomicUsize::new(0),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(idp.clone())
                .route("/.well-known/openid-configuration", web::get().to(discovery))
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        TestIdp { issuer }
    }

    /// `PAT_OIDC_*` for this provider.
    pub fn settings(&self) -> OidcSettings {
        OidcSettings {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new(CLIENT_SECRET.into()),
            redirect_url: REDIRECT_URL.into(),
            roles_claim: "roles".into(),
        }
    }
}

async fn discovery(idp: web::Data<Idp>) -> HttpResponse {
    let issuer = &idp.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(idp: web::Data<Idp>) -> HttpResponse {
    let (key, new) = keys();
    let jwk = |kid: &str, key: &TestKey| json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": key.n, "e": key.e});
    let mut published = vec![jwk(KID, key)];
    if idp.options.rotated_key && idp.jwks_fetches.fetch_add(1, Ordering::SeqCst) > 0 {
        published.push(jwk(ROTATED_KID, new));
    }
    HttpResponse::Ok().json(json!({ "keys": published }))
}

async fn authorize(idp: web::Data<Idp>, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    let scopes: Vec<String> = get("scope").split(' ').map(str::to_owned).collect();
    let valid = get("response_type") == "code"
        && get("client_id") == CLIENT_ID
        && get("redirect_uri") == REDIRECT_URL
        && get("code_challenge_method") == "S256"
        && !get("code_challenge").is_empty()
        && !get("state").is_empty()
        && !get("nonce").is_empty()
        && scopes.iter().any(|s| s == "openid")
        && scopes.iter().any(|s| s == "profile");
    if !valid {
        return HttpResponse::BadRequest().body("invalid authorization request");
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    idp.grants.lock().expect("grants").insert(
        code.clone(),
        Grant {
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            redirect_uri: get("redirect_uri"),
        },
    );
    let location = url_with_query(REDIRECT_URL, &[("code", &code), ("state", &get("state"))]);
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn url_with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('%', "%25").replace('&', "%26").replace('+', "%2B")))
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn refuse(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": error}))
}

async fn token(idp: web::Data<Idp>, request: HttpRequest, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let expected = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if authorization != Some(expected.as_str()) {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let get = |name: &str| form.get(name).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return refuse("unsupported_grant_type");
    }
    let Some(grant) = idp.grants.lock().expect("grants").remove(&get("code")) else {
        return refuse("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if challenge != grant.challenge || get("redirect_uri") != grant.redirect_uri {
        return refuse("invalid_grant");
    }
    let options = &idp.options;
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": idp.issuer,
        "sub": options.subject,
        "aud": options.audience.clone().unwrap_or_else(|| CLIENT_ID.into()),
        "iat": now.min(now + options.expires_in - 60),
        "exp": now + options.expires_in,
        "nonce": options.nonce.clone().unwrap_or(grant.nonce),
    });
    if let Some(name) = &options.name {
        claims["name"] = json!(name);
    }
    if !options.roles.is_null() {
        claims["roles"] = options.roles.clone();
    }
    let (good, wrong) = keys();
    let key = if options.wrong_key || options.rotated_key {
        wrong
    } else {
        good
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(if options.rotated_key { ROTATED_KID } else { KID }.into());
    let id_token = encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(key.pem.as_bytes()).expect("test key"),
    )
    .expect("sign the ID token");
    HttpResponse::Ok().json(json!({
        "access_token": uuid::Uuid::new_v4().simple().to_string(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}
