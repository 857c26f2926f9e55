//! Bearer tokens and roles (docs/design.md §5). Authentication is an extractor (docs/style.md §6): a
//! handler whose first argument is `Authorized<R>` answers 401 without a valid token and 403
//! without one of `R`'s roles, before anything else about the request is looked at.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpMessage, HttpRequest};
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use crate::config::{JwtKey, JwtSettings};
use crate::error::ApiError;
use crate::store::Actor;

/// What a person or system may do. Unknown role names in a token are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// ED nurses and doctors.
    Clinician,
    /// The EPR's integration engine.
    Integration,
    /// Alcohol health workers.
    Ahw,
    /// Audit teams: statistics only, never patient identifiers.
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Clinician,
        Role::Integration,
        Role::Ahw,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Integration => "integration",
            Role::Ahw => "ahw",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The claims this service reads and (for `pat-service token`) writes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// Verifies tokens: one pinned algorithm, issuer and audience checked, `exp` required.
pub struct Authenticator {
    keys: Keys,
    validation: Validation,
}

enum Keys {
    One(DecodingKey),
    /// A JSON Web Key Set's keys of the pinned algorithm's type, with their `kid`.
    Set(Vec<(Option<String>, DecodingKey)>),
}

#[derive(Debug, thiserror::Error)]
#[error("invalid token key: {0}")]
pub struct KeyError(String);

impl Authenticator {
    pub fn new(settings: &JwtSettings) -> Result<Authenticator, KeyError> {
        let (key, algorithm) = match &settings.key {
            JwtKey::Hs256(secret) => (DecodingKey::from_secret(secret.expose().as_bytes()), Algorithm::HS256),
            JwtKey::Rs256 { public_key_pem } => (
                DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).map_err(|e| KeyError(e.to_string()))?,
                Algorithm::RS256,
            ),
            JwtKey::Es256 { public_key_pem } => (
                DecodingKey::from_ec_pem(public_key_pem.as_bytes()).map_err(|e| KeyError(e.to_string()))?,
                Algorithm::ES256,
            ),
            JwtKey::Jwks { rs256, jwks_json } => {
                let algorithm = if *rs256 { Algorithm::RS256 } else { Algorithm::ES256 };
                let keys = Keys::Set(key_set(jwks_json, algorithm)?);
                return Ok(Authenticator::with(keys, algorithm, settings));
            }
        };
        Ok(Authenticator::with(Keys::One(key), algorithm, settings))
    }

    fn with(keys: Keys, algorithm: Algorithm, settings: &JwtSettings) -> Authenticator {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Authenticator { keys, validation }
    }

    /// The key a token is checked with: the only one, or the key set's key its `kid` names (a
    /// set of one key also takes tokens without `kid`).
    fn key_for(&self, token: &str) -> Result<&DecodingKey, ApiError> {
        match &self.keys {
            Keys::One(key) => Ok(key),
            Keys::Set(keys) => {
                let header = decode_header(token)
                    .map_err(|e| ApiError::Unauthorized(format!("the bearer token is not valid ({e})")))?;
                let found = match (&header.kid, keys.as_slice()) {
                    (Some(kid), _) => keys.iter().find(|(id, _)| id.as_ref() == Some(kid)),
                    (None, [only]) => Some(only),
                    (None, _) => None,
                };
                found
                    .map(|(_, key)| key)
                    .ok_or_else(|| ApiError::Unauthorized("the bearer token names no key of the key set (kid)".into()))
            }
        }
    }

    pub fn verify(&self, token: &str) -> Result<AuthUser, ApiError> {
        let data = decode::<Claims>(token, self.key_for(token)?, &self.validation)
            .map_err(|e| ApiError::Unauthorized(format!("the bearer token is not valid ({e})")))?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() {
            return Err(ApiError::Unauthorized("the token has no subject".into()));
        }
        let roles = claims.roles.iter().filter_map(|r| Role::from_code(r)).collect();
        Ok(AuthUser {
            subject: claims.sub,
            roles,
        })
    }
}

/// The keys of a JSON Web Key Set usable with `algorithm`: RSA keys for RS256, P-256 keys for
/// ES256, not marked for encryption nor for another algorithm. Any other key is left out (an
/// HMAC "oct" key above all: it would turn a public key set into a shared secret). No usable
/// key, or a malformed set, refuses to start.
fn key_set(jwks_json: &str, algorithm: Algorithm) -> Result<Vec<(Option<String>, DecodingKey)>, KeyError> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
    let set: JwkSet = serde_json::from_str(jwks_json).map_err(|e| KeyError(format!("not a JSON Web Key Set: {e}")))?;
    let wanted = if algorithm == Algorithm::RS256 {
        KeyAlgorithm::RS256
    } else {
        KeyAlgorithm::ES256
    };
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let right_type = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => algorithm == Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) => algorithm == Algorithm::ES256 && ec.curve == EllipticCurve::P256,
            _ => false,
        };
        let for_signing = !matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature);
        let same_algorithm = jwk.common.key_algorithm.is_none_or(|a| a == wanted);
        if right_type && for_signing && same_algorithm {
            let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyError(format!("key {:?}: {e}", jwk.common.key_id)))?;
            keys.push((jwk.common.key_id.clone(), key));
        }
    }
    if keys.is_empty() {
        return Err(KeyError(format!("the key set holds no {algorithm:?} signing key")));
    }
    Ok(keys)
}

/// Mints a token signed with an HS256 secret (the `token` command and tests).
pub fn mint_hs256(
    secret: &str,
    settings: &JwtSettings,
    subject: &str,
    roles: &[Role],
    lifetime_seconds: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: subject.to_owned(),
        roles: roles.iter().map(|r| r.code().to_owned()).collect(),
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        exp: now + lifetime_seconds,
        iat: Some(now),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// The caller, from a verified token.
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// The token's `sub`: the person or system acting.
    pub subject: String,
    pub roles: Vec<Role>,
}

impl AuthUser {
    pub fn has_any(&self, allowed: &[Role]) -> bool {
        self.roles.iter().any(|r| allowed.contains(r))
    }

    pub fn roles_text(&self) -> String {
        self.roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(",")
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let auth = req
        .app_data::<web::Data<Authenticator>>()
        .ok_or_else(|| ApiError::internal("authenticator not configured"))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("an Authorization: Bearer token is required".into()))?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not readable".into()))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()))?;
    auth.verify(token.trim())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthUser, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// A set of roles allowed to call an endpoint.
pub trait RoleSet {
    const ALLOWED: &'static [Role];
}

/// Declares a `RoleSet` marker type.
#[macro_export]
macro_rules! role_set {
    ($(#[$meta:meta])* $name:ident: $($role:ident),+) => {
        $(#[$meta])*
        pub struct $name;
        impl $crate::auth::RoleSet for $name {
            const ALLOWED: &'static [$crate::auth::Role] = &[$($crate::auth::Role::$role),+];
        }
    };
}

/// An authenticated caller holding one of `R`'s roles. Put it first among a handler's
/// arguments: extractors run in order, so 401 and 403 answer before body errors.
pub struct Authorized<R: RoleSet> {
    pub user: AuthUser,
    /// The request's id (`x-request-id`), for the audit trail.
    request_id: Option<String>,
    _roles: PhantomData<R>,
}

impl<R: RoleSet> Authorized<R> {
    /// Who is acting, as the stores write it into the audit trail.
    pub fn actor(&self) -> Actor {
        Actor {
            subject: self.user.subject.clone(),
            roles: self.user.roles_text(),
            request_id: self.request_id.clone(),
        }
    }
}

impl<R: RoleSet> FromRequest for Authorized<R> {
    type Error = ApiError;
    type Future = Ready<Result<Authorized<R>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|user| {
            if user.has_any(R::ALLOWED) {
                // Set by the tracing middleware on every request that reaches a handler.
                let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
                Ok(Authorized {
                    user,
                    request_id,
                    _roles: PhantomData,
                })
            } else {
                let allowed: Vec<&str> = R::ALLOWED.iter().map(|r| r.code()).collect();
                Err(ApiError::Forbidden(format!(
                    "this needs one of the roles: {}",
                    allowed.join(", ")
                )))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_without_a_usable_signing_key_is_refused() {
        let refused = |json: &str, algorithm: Algorithm| key_set(json, algorithm).is_err();
        assert!(refused("not json", Algorithm::RS256));
        assert!(refused(r#"{"keys": []}"#, Algorithm::RS256));
        // A shared secret in a public key set is never a verification key.
        assert!(refused(
            r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#,
            Algorithm::RS256
        ));
        // An RSA key (n = 3233 = 61 × 53, e = 17: the textbook key) for ES256, or for
        // encryption, or for another algorithm, is not usable either.
        let rsa = |extra: &str| format!(r#"{{"keys": [{{"kty": "RSA", "n": "DKE", "e": "EQ"{extra}}}]}}"#);
        assert!(refused(&rsa(""), Algorithm::ES256));
        assert!(refused(&rsa(r#", "use": "enc""#), Algorithm::RS256));
        assert!(refused(&rsa(r#", "alg": "RS512""#), Algorithm::RS256));
        assert_eq!(
            key_set(&rsa(r#", "kid": "k1""#), Algorithm::RS256)
                .map(|keys| keys.len())
                .ok(),
            Some(1)
        );
    }
}
