//! OpenID Connect sign-in for the web pages (docs/design.md §13): the authorization code flow with
//! PKCE (S256), against the identity provider of `PAT_OIDC_*` (`config::OidcSettings`), with the
//! maintained `openidconnect` crate doing the protocol and the ID token checks. No routes here:
//! the web layer (`web::oidc`) calls `begin` when someone presses "Sign in", keeps the
//! `PendingSignIn` server-side (`store::oidc_sign_ins`), and calls `complete` from its callback
//! route. `Provider` holds the client, discovered on first use.
//!
//! ```text
//! discover ──► begin ──► (browser to the provider and back with code and state) ──► complete
//! ```
//!
//! The ID token is verified by `openidconnect`: RS256 signature with a key of the provider's
//! JWKS, issuer, audience (the client id), expiry and nonce. The roles come from the claim
//! `PAT_OIDC_ROLES_CLAIM` of that verified token; only the service's role names count
//! (`Role::from_code`), and someone with none of them is not signed in (`OidcError::NoRole`).

use std::fmt;
use std::sync::RwLock;
use std::time::Duration;

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, JsonWebKeySetUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::auth::Role;
use crate::config::OidcSettings;

mod provider;
pub use provider::Provider;

pub use openidconnect::url::Url;

/// How long one request to the identity provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The client of a discovered provider: authorization endpoint set, token endpoint maybe.
type DiscoveredClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Why a sign-in failed. The messages are fit to show the person signing in: they quote no token,
/// code, secret or claim value. The provider's own error descriptions are not included either
/// (they are the provider's words, not checked); log the variant.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// `PAT_OIDC_ISSUER` or `PAT_OIDC_REDIRECT_URL` is not a URL the client can use.
    #[error("the sign-in service is not configured correctly")]
    Configuration,
    /// The discovery document or the JWKS could not be fetched or read.
    #[error("the identity provider could not be reached or did not describe itself correctly")]
    Discovery,
    /// The `state` the browser came back with is not the one this sign-in sent.
    #[error("this sign-in does not match the one that was started: please sign in again")]
    StateMismatch,
    /// The token endpoint refused the code (expired, used, or the PKCE verifier did not match).
    #[error("the identity provider refused the sign-in: please sign in again")]
    CodeRefused,
    /// The token endpoint could not be reached, or answered something that is not a token
    /// response.
    #[error("the identity provider could not be reached to finish the sign-in")]
    TokenEndpoint,
    /// The token response has no ID token.
    #[error("the identity provider did not return an ID token")]
    MissingIdToken,
    /// The ID token's signature is not one of the provider's keys (or not RS256).
    #[error("the identity provider's answer could not be verified")]
    InvalidSignature,
    /// The ID token was issued by another issuer.
    #[error("the identity provider's answer is from another issuer")]
    WrongIssuer,
    /// The ID token was issued to another client.
    #[error("the identity provider's answer is for another service")]
    WrongAudience,
    /// The ID token has expired.
    #[error("the sign-in took too long: please sign in again")]
    Expired,
    /// The ID token's nonce is not this sign-in's.
    #[error("this sign-in does not match the one that was started: please sign in again")]
    NonceMismatch,
    /// The ID token failed another check (e.g. a malformed claim).
    #[error("the identity provider's answer could not be verified")]
    InvalidIdToken,
    /// The roles claim is there but is neither an array of strings nor a string.
    #[error("the identity provider's roles for this account could not be read")]
    InvalidRolesClaim,
    /// The person has none of the service's roles.
    #[error("this account has no role in this service: ask for access to be granted")]
    NoRole,
}

/// A sign-in between `begin` and `complete`: keep it server-side (it holds the PKCE verifier),
/// for one sign-in only. `Debug` hides its values.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    state: String,
    nonce: String,
    pkce_verifier: String,
}

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingSignIn(***)")
    }
}

/// A person signed in: the provider's subject, their name if it gave one, and their roles in this
/// service (at least one, each once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub subject: String,
    pub name: Option<String>,
    pub roles: Vec<Role>,
}

/// The client of one identity provider, made by `discover` (on first use, by `Provider`).
pub struct OidcClient {
    client: DiscoveredClient,
    http: openidconnect::reqwest::Client,
    roles_claim: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    jwks_uri: JsonWebKeySetUrl,
    /// The provider's signing keys: fetched by `discover`, fetched again when an ID token names a
    /// key that is not among them (the provider rotated its keys).
    jwks: RwLock<CoreJsonWebKeySet>,
}

impl OidcClient {
    /// Fetches the provider's discovery document (`<issuer>/.well-known/openid-configuration`) and
    /// its JWKS. The document must name the issuer exactly as configured, and a token endpoint.
    pub async fn discover(settings: &OidcSettings) -> Result<OidcClient, OidcError> {
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|_| OidcError::Configuration)?;
        let redirect = RedirectUrl::new(settings.redirect_url.clone()).map_err(|_| OidcError::Configuration)?;
        // No redirects: a provider's answer that redirects is an error, not a request elsewhere.
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|_| OidcError::Configuration)?;
        let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http)
            .await
            .map_err(|error| {
                tracing::warn!(error.cause = %error, "oidc: discovery failed");
                OidcError::Discovery
            })?;
        if metadata.token_endpoint().is_none() {
            tracing::warn!("oidc: the discovery document names no token endpoint");
            return Err(OidcError::Discovery);
        }
        let jwks_uri = metadata.jwks_uri().clone();
        let jwks = RwLock::new(metadata.jwks().clone());
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.clone()),
            Some(ClientSecret::new(settings.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(redirect);
        Ok(OidcClient {
            client,
            http,
            roles_claim: settings.roles_claim.clone(),
            issuer,
            client_id: ClientId::new(settings.client_id.clone()),
            jwks_uri,
            jwks,
        })
    }

    /// The origin (`https://host[:port]`) of the provider's authorization endpoint: the sign-in
    /// page's `form-action` must allow it, because browsers apply `form-action` to the redirect
    /// that follows the "Sign in" form too.
    pub fn authorization_origin(&self) -> String {
        self.client.auth_uri().url().origin().ascii_serialization()
    }

    /// Starts a sign-in: the URL to send the browser to (scope `openid profile`, PKCE S256, a
    /// random `state` and `nonce`) and what `complete` needs to finish it.
    pub fn begin(&self) -> (Url, PendingSignIn) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        };
        (url, pending)
    }

    /// Finishes a sign-in from the provider's redirect (`code`, `state`): checks the state,
    /// exchanges the code with the PKCE verifier, verifies the ID token and reads the roles.
    pub async fn complete(
        &self,
        code: &str,
        returned_state: &str,
        pending: PendingSignIn,
    ) -> Result<SignedIn, OidcError> {
        if !bool::from(returned_state.as_bytes().ct_eq(pending.state.as_bytes())) {
            return Err(OidcError::StateMismatch);
        }
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| OidcError::Discovery)?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(response) => {
                    tracing::info!(error = %response.error(), "oidc: the token endpoint refused the code");
                    OidcError::CodeRefused
                }
                other => {
                    tracing::warn!(error.cause = %other, "oidc: token request failed");
                    OidcError::TokenEndpoint
                }
            })?;
        let id_token = response.id_token().ok_or(OidcError::MissingIdToken)?;
        let nonce = Nonce::new(pending.nonce);
        let claims = match id_token.claims(&self.verifier(), &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                self.refresh_keys().await?;
                id_token.claims(&self.verifier(), &nonce)
            }
            verified => verified,
        }
        .map_err(claims_error)?;
        let subject = claims.subject().as_str().to_owned();
        let name = claims
            .name()
            .and_then(|names| names.get(None))
            .map(|name| name.as_str().to_owned());
        // The signature and claims are verified above; the roles claim is read from the same
        // token's payload because its name is configured.
        let roles = roles_of(&id_token.to_string(), &self.roles_claim)?;
        if roles.is_empty() {
            return Err(OidcError::NoRole);
        }
        Ok(SignedIn { subject, name, roles })
    }
}

impl OidcClient {
    /// Checks ID tokens with the keys as they are now: RS256 only, issuer, audience (the client
    /// id), expiry, and (in `claims`) the nonce.
    fn verifier(&self) -> CoreIdTokenVerifier<'static> {
        let keys = match self.jwks.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        CoreIdTokenVerifier::new_public_client(self.client_id.clone(), self.issuer.clone(), keys)
            .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
    }

    /// Fetches the provider's JWKS again.
    async fn refresh_keys(&self) -> Result<(), OidcError> {
        let keys = CoreJsonWebKeySet::fetch_async(&self.jwks_uri, &self.http)
            .await
            .map_err(|error| {
                tracing::warn!(error.cause = %error, "oidc: cannot fetch the provider's keys again");
                OidcError::InvalidSignature
            })?;
        match self.jwks.write() {
            Ok(mut current) => *current = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        Ok(())
    }
}

fn claims_error(error: ClaimsVerificationError) -> OidcError {
    tracing::info!(error.cause = %error, "oidc: ID token refused");
    match error {
        ClaimsVerificationError::Expired(_) => OidcError::Expired,
        ClaimsVerificationError::InvalidAudience(_) => OidcError::WrongAudience,
        ClaimsVerificationError::InvalidIssuer(_) => OidcError::WrongIssuer,
        ClaimsVerificationError::InvalidNonce(_) => OidcError::NonceMismatch,
        ClaimsVerificationError::SignatureVerification(_) => OidcError::InvalidSignature,
        _ => OidcError::InvalidIdToken,
    }
}

/// The service's roles named by `claim` in a JWT's payload: an array of strings or one
/// space-separated string; other names are ignored, each role counted once. A missing claim is no
/// roles.
fn roles_of(jwt: &str, claim: &str) -> Result<Vec<Role>, OidcError> {
    let payload = jwt.split('.').nth(1).ok_or(OidcError::InvalidIdToken)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| OidcError::InvalidIdToken)?;
    let payload: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| OidcError::InvalidIdToken)?;
    let names: Vec<&str> = match payload.get(claim) {
        None | Some(serde_json::Value::Null) => vec![],
        Some(serde_json::Value::String(names)) => names.split_whitespace().collect(),
        Some(serde_json::Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().ok_or(OidcError::InvalidRolesClaim))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(OidcError::InvalidRolesClaim),
    };
    let mut roles = vec![];
    for role in names.into_iter().filter_map(Role::from_code) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: serde_json::Value) -> String {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
        format!("e30.{body}.sig")
    }

    #[test]
    fn roles_are_read_from_an_array_or_a_space_separated_string() {
        let array = jwt(serde_json::json!({"roles": ["ahw", "nurse", "clinician", "ahw"]}));
        assert_eq!(roles_of(&array, "roles").ok(), Some(vec![Role::Ahw, Role::Clinician]));
        let string = jwt(serde_json::json!({"groups": "admin  other auditor"}));
        assert_eq!(roles_of(&string, "groups").ok(), Some(vec![Role::Admin, Role::Auditor]));
        assert_eq!(roles_of(&string, "roles").ok(), Some(vec![]));
        let number = jwt(serde_json::json!({"roles": 3}));
        assert!(matches!(roles_of(&number, "roles"), Err(OidcError::InvalidRolesClaim)));
        let mixed = jwt(serde_json::json!({"roles": ["admin", 3]}));
        assert!(matches!(roles_of(&mixed, "roles"), Err(OidcError::InvalidRolesClaim)));
    }

    #[test]
    fn a_pending_sign_in_never_prints_its_values() {
        let pending = PendingSignIn {
            state: "the-state".into(),
            nonce: "the-nonce".into(),
            pkce_verifier: "the-verifier".into(),
        };
        assert_eq!(format!("{pending:?}"), "PendingSignIn(***)");
    }
}
