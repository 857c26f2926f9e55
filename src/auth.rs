//! Bearer tokens and roles (DESIGN.md §5). Authentication is an extractor (STYLE.md §6): a
//! handler whose first argument is `Authorized<R>` answers 401 without a valid token and 403
//! without one of `R`'s roles, before anything else about the request is looked at.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{JwtKey, JwtSettings};
use crate::error::ApiError;

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
    key: DecodingKey,
    validation: Validation,
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
        };
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(Authenticator { key, validation })
    }

    pub fn verify(&self, token: &str) -> Result<AuthUser, ApiError> {
        let data = decode::<Claims>(token, &self.key, &self.validation)
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
    _roles: PhantomData<R>,
}

impl<R: RoleSet> FromRequest for Authorized<R> {
    type Error = ApiError;
    type Future = Ready<Result<Authorized<R>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|user| {
            if user.has_any(R::ALLOWED) {
                Ok(Authorized {
                    user,
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
