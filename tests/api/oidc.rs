//! OpenID Connect sign-in (src/oidc, docs/design.md §13) against the test identity provider of
//! tests/api/oidc_idp.rs, and the `PAT_OIDC_*` settings.

use std::collections::HashMap;

use pat_service::auth::Role;
use pat_service::config::{ConfigError, Settings};
use pat_service::oidc::{OidcClient, OidcError, PendingSignIn, SignedIn, Url};
use serde_json::{json, Value};

use crate::oidc_idp::{IdpOptions, TestIdp, CLIENT_SECRET, REDIRECT_URL};

/// The browser's part: follows the authorization URL to the provider and reads the code and state
/// from the redirect back to the service.
async fn authorize(url: &Url) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap_or_default());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT_URL), "{location}");
    let back = Url::parse(&location).unwrap();
    let query: HashMap<String, String> = back.query_pairs().into_owned().collect();
    (query["code"].clone(), query["state"].clone())
}

/// A whole sign-in against a provider started with `options`.
async fn sign_in(options: IdpOptions) -> Result<SignedIn, OidcError> {
    let idp = TestIdp::start(options).await;
    let client = OidcClient::discover(&idp.settings()).await.unwrap();
    let (url, pending) = client.begin();
    let (code, state) = authorize(&url).await;
    client.complete(&code, &state, pending).await
}

#[tokio::test]
async fn a_sign_in_gives_the_subject_name_and_the_services_roles() {
    let signed_in = sign_in(IdpOptions::default()).await.unwrap();
    assert_eq!(
        signed_in,
        SignedIn {
            subject: "user-1".into(),
            name: Some("Test User".into()),
            roles: vec![Role::Clinician, Role::Ahw],
        }
    );
}

#[tokio::test]
async fn roles_as_a_space_separated_string_count_too() {
    let options = IdpOptions {
        roles: json!("Nurse.Manager auditor admin"),
        name: None,
        ..IdpOptions::default()
    };
    let signed_in = sign_in(options).await.unwrap();
    assert_eq!(signed_in.roles, vec![Role::Auditor, Role::Admin]);
    assert_eq!(signed_in.name, None);
}

#[tokio::test]
async fn the_authorization_url_asks_for_a_code_with_pkce_s256_state_and_nonce() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let client = OidcClient::discover(&idp.settings()).await.unwrap();
    let (url, _) = client.begin();
    let (other, _) = client.begin();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(url.as_str().starts_with(&format!("{}/authorize?", idp.issuer)), "{url}");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], REDIRECT_URL);
    let mut scopes: Vec<&str> = query["scope"].split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["openid", "profile"]);
    let others: HashMap<String, String> = other.query_pairs().into_owned().collect();
    for random in ["state", "nonce", "code_challenge"] {
        assert!(query[random].len() >= 16, "{random}");
        assert_ne!(query[random], others[random], "{random} is random");
    }
    assert!(!url.as_str().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn a_pending_sign_in_survives_a_round_trip_through_the_session() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let client = OidcClient::discover(&idp.settings()).await.unwrap();
    let (url, pending) = client.begin();
    let stored = serde_json::to_string(&pending).unwrap();
    let (code, state) = authorize(&url).await;
    let restored: PendingSignIn = serde_json::from_str(&stored).unwrap();
    assert!(client.complete(&code, &state, restored).await.is_ok());
}

#[tokio::test]
async fn a_wrong_state_is_refused_before_the_code_is_used() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let client = OidcClient::discover(&idp.settings()).await.unwrap();
    let (url, pending) = client.begin();
    let (code, state) = authorize(&url).await;
    let result = client.complete(&code, &format!("{state}x"), pending.clone()).await;
    assert!(matches!(result, Err(OidcError::StateMismatch)), "{result:?}");
    let result = client.complete(&code, "", pending.clone()).await;
    assert!(matches!(result, Err(OidcError::StateMismatch)), "{result:?}");
    // The code was not spent: the right state still signs in.
    assert!(client.complete(&code, &state, pending).await.is_ok());
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let options = IdpOptions {
        nonce: Some("someone-elses-nonce".into()),
        ..IdpOptions::default()
    };
    let result = sign_in(options).await;
    assert!(matches!(result, Err(OidcError::NonceMismatch)), "{result:?}");
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let options = IdpOptions {
        expires_in: -3600,
        ..IdpOptions::default()
    };
    let result = sign_in(options).await;
    assert!(matches!(result, Err(OidcError::Expired)), "{result:?}");
}

#[tokio::test]
async fn an_id_token_for_another_client_is_refused() {
    let options = IdpOptions {
        audience: Some("another-service".into()),
        ..IdpOptions::default()
    };
    let result = sign_in(options).await;
    assert!(matches!(result, Err(OidcError::WrongAudience)), "{result:?}");
}

#[tokio::test]
async fn an_id_token_signed_with_a_key_not_in_the_jwks_is_refused() {
    let options = IdpOptions {
        wrong_key: true,
        ..IdpOptions::default()
    };
    let result = sign_in(options).await;
    assert!(matches!(result, Err(OidcError::InvalidSignature)), "{result:?}");
}

#[tokio::test]
async fn a_key_rotated_after_discovery_is_fetched_and_used() {
    let options = IdpOptions {
        rotated_key: true,
        ..IdpOptions::default()
    };
    let signed_in = sign_in(options).await.unwrap();
    assert_eq!(signed_in.subject, "user-1");
}

#[tokio::test]
async fn someone_with_none_of_the_services_roles_is_not_signed_in() {
    for roles in [json!(["Nurse.Manager", "Clinician"]), json!([]), Value::Null] {
        let options = IdpOptions {
            roles: roles.clone(),
            ..IdpOptions::default()
        };
        let result = sign_in(options).await;
        assert!(matches!(result, Err(OidcError::NoRole)), "{roles}: {result:?}");
    }
}

#[tokio::test]
async fn a_pkce_verifier_that_does_not_match_is_refused_by_the_token_endpoint() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let client = OidcClient::discover(&idp.settings()).await.unwrap();
    let (url, pending) = client.begin();
    let (code, state) = authorize(&url).await;
    // The verifier of another sign-in, with this one's state and nonce.
    let (_, other) = client.begin();
    let mut tampered = serde_json::to_value(&pending).unwrap();
    tampered["pkce_verifier"] = serde_json::to_value(&other).unwrap()["pkce_verifier"].clone();
    let tampered: PendingSignIn = serde_json::from_value(tampered).unwrap();
    let result = client.complete(&code, &state, tampered).await;
    assert!(matches!(result, Err(OidcError::CodeRefused)), "{result:?}");
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_fails_discovery() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let idp = TestIdp::start(IdpOptions::default()).await;
    let mut settings = idp.settings();
    settings.issuer = format!("http://127.0.0.1:{port}");
    let result = OidcClient::discover(&settings).await;
    assert!(matches!(result, Err(OidcError::Discovery)));
    // A provider whose discovery document names another issuer is refused too.
    settings.issuer = format!("{}/", idp.issuer.replace("127.0.0.1", "localhost"));
    let result = OidcClient::discover(&settings).await;
    assert!(matches!(result, Err(OidcError::Discovery)));
}

#[test]
fn error_messages_quote_nothing_from_the_exchange() {
    for error in [
        OidcError::StateMismatch,
        OidcError::CodeRefused,
        OidcError::InvalidSignature,
        OidcError::NoRole,
    ] {
        let message = error.to_string();
        assert!(!message.contains(CLIENT_SECRET) && !message.contains('{'), "{message}");
    }
}

fn oidc_settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    map.insert("PAT_JWT_SECRET".into(), "x".repeat(32));
    Settings::from_lookup(|k| map.get(k).cloned(), false)
}

const ALL_FOUR: [(&str, &str); 4] = [
    ("PAT_OIDC_ISSUER", "https://login.microsoftonline.com/tenant-id/v2.0"),
    ("PAT_OIDC_CLIENT_ID", "pat-service-web"),
    ("PAT_OIDC_CLIENT_SECRET", CLIENT_SECRET),
    ("PAT_OIDC_REDIRECT_URL", REDIRECT_URL),
];

#[test]
fn oidc_is_off_without_an_issuer_and_on_with_all_four() {
    assert!(oidc_settings(&[]).unwrap().oidc.is_none());
    let oidc = oidc_settings(&ALL_FOUR).unwrap().oidc.unwrap();
    assert_eq!(oidc.issuer, "https://login.microsoftonline.com/tenant-id/v2.0");
    assert_eq!(oidc.client_id, "pat-service-web");
    assert_eq!(oidc.client_secret.expose(), CLIENT_SECRET);
    assert_eq!(oidc.redirect_url, REDIRECT_URL);
    assert_eq!(oidc.roles_claim, "roles");
    let mut vars = ALL_FOUR.to_vec();
    vars.push(("PAT_OIDC_ROLES_CLAIM", "groups"));
    assert_eq!(oidc_settings(&vars).unwrap().oidc.unwrap().roles_claim, "groups");
}

#[test]
fn a_missing_oidc_setting_is_refused_by_name() {
    for (missing, _) in ALL_FOUR {
        let vars: Vec<(&str, &str)> = ALL_FOUR.into_iter().filter(|(name, _)| *name != missing).collect();
        match oidc_settings(&vars) {
            Err(ConfigError::Invalid { name, reason }) => {
                assert_eq!(name, missing);
                assert!(!reason.contains(CLIENT_SECRET), "{reason}");
            }
            other => panic!("{missing}: {other:?}"),
        }
    }
    let error = oidc_settings(&[("PAT_OIDC_ROLES_CLAIM", "roles")]).unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Invalid {
                name: "PAT_OIDC_ROLES_CLAIM",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn oidc_urls_are_https_or_loopback_http() {
    for (name, value, ok) in [
        ("PAT_OIDC_ISSUER", "http://login.example.com/tenant/v2.0", false),
        ("PAT_OIDC_ISSUER", "http://127.0.0.1:8081", true),
        ("PAT_OIDC_ISSUER", "http://localhost:8081/realms/nhs", true),
        ("PAT_OIDC_ISSUER", "http://[::1]:8081", true),
        ("PAT_OIDC_ISSUER", "http://127.0.0.1.example.com", false),
        ("PAT_OIDC_ISSUER", "login.example.com", false),
        ("PAT_OIDC_ISSUER", "ftp://login.example.com", false),
        (
            "PAT_OIDC_REDIRECT_URL",
            "http://pat.trust.nhs.uk/web/oidc/callback",
            false,
        ),
        ("PAT_OIDC_REDIRECT_URL", "http://localhost:8080/web/oidc/callback", true),
    ] {
        let mut vars = ALL_FOUR.to_vec();
        vars.retain(|(n, _)| *n != name);
        vars.push((name, value));
        match oidc_settings(&vars) {
            Ok(_) => assert!(ok, "{name}={value} accepted"),
            Err(ConfigError::Invalid { name: refused, .. }) => {
                assert!(!ok, "{name}={value} refused");
                assert_eq!(refused, name);
            }
            Err(other) => panic!("{other}"),
        }
    }
}

#[test]
fn the_client_secret_never_appears_in_debug_output() {
    let settings = oidc_settings(&ALL_FOUR).unwrap();
    for shown in [
        format!("{settings:?}"),
        format!("{:?}", settings.oidc),
        format!("{settings:#?}"),
    ] {
        assert!(!shown.contains(CLIENT_SECRET), "{shown}");
        assert!(shown.contains("pat-service-web"), "the rest is shown");
    }
}
