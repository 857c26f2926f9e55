//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`s. `openapi/openapi.json`
//! is this document, committed; a test fails when they differ (STYLE.md §9).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pat-service",
        description = "Paddington Alcohol Test pathway for Emergency Departments: record attendances \
and PAT screenings, book Alcohol Health Worker appointments, and report referral and reattendance \
figures. Every `/api/v1` call needs `Authorization: Bearer <JWT>` with a `roles` claim \
(`clinician`, `integration`, `ahw`, `auditor`, `admin`). Errors are `application/problem+json` \
(RFC 9457). Sex for the PAT threshold: `male` uses the male threshold; `female`, `other` and \
`unknown` use the lower (female) threshold, the conservative choice."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "attendances", description = "ED attendances: is the PAT indicated?"),
        (name = "patients", description = "The patient registry: identifiers, PDS traces and EPR merges"),
        (name = "screening", description = "The PAT and its result"),
        (name = "audit", description = "Who read or changed whose records"),
        (name = "statistics", description = "Figures for audit teams (DOMAIN.md §7), no patient identifiers; \
`disclosure=nhs` applies NHS small-number suppression"),
        (name = "operations", description = "Health and metrics, no token"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document, from the same registration the server uses.
pub fn document() -> utoipa::openapi::OpenApi {
    let app = actix_web::App::new().into_utoipa_app().openapi(ApiDoc::openapi());
    let (_, document) = crate::api::routes(app).split_for_parts();
    document
}

/// The document as committed in `openapi/openapi.json` (pretty, with a final newline).
pub fn document_json() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&document()).map(|mut s| {
        s.push('\n');
        s
    })
}
