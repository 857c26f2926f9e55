//! The identity provider as the running service holds it (docs/design.md §13): configured or not,
//! and its client discovered on first use rather than at start, so that the service starts and
//! serves the API while the provider cannot be reached. A failed discovery is not kept: the next
//! sign-in tries again. A discovered client is kept for the life of the process (its keys are
//! fetched again when an ID token names a new one).

use std::sync::Arc;

use tokio::sync::Mutex;

use super::{OidcClient, OidcError};
use crate::config::OidcSettings;

/// `PAT_OIDC_*` and, once discovered, the client.
pub struct Provider {
    settings: Option<OidcSettings>,
    /// One discovery at a time: sign-ins arriving during it wait for its result.
    client: Mutex<Option<Arc<OidcClient>>>,
}

impl Provider {
    /// `None`: OpenID Connect is not configured (`PAT_OIDC_ISSUER` unset).
    pub fn new(settings: Option<OidcSettings>) -> Provider {
        Provider {
            settings,
            client: Mutex::new(None),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.settings.is_some()
    }

    /// The client: the one discovered before, or one discovered now. `Err(Discovery)` when the
    /// provider cannot be reached (tried again on the next call); `Err(Configuration)` when
    /// OpenID Connect is not configured.
    pub async fn client(&self) -> Result<Arc<OidcClient>, OidcError> {
        let settings = self.settings.as_ref().ok_or(OidcError::Configuration)?;
        let mut cached = self.client.lock().await;
        if let Some(client) = cached.as_ref() {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(OidcClient::discover(settings).await?);
        *cached = Some(Arc::clone(&client));
        Ok(client)
    }
}
