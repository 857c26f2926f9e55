//! pat-service: the Paddington Alcohol Test pathway for Emergency Departments.
//!
//! Read `docs/domain.md` and `docs/design.md` for the rules this encodes.

/// Declares the column tuple of a row struct, as a type and a constant, from one list
/// (`as_select()` does not compile through the MultiConnection, docs/design.md §9).
macro_rules! columns {
    ($vis:vis $name:ident: $ty:ident = $table:ident { $($col:ident),+ $(,)? }) => {
        $vis type $ty = ($($table::$col,)+);
        $vis const $name: $ty = ($($table::$col,)+);
    };
}

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod fhir;
pub mod hl7;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod store;
pub mod telemetry;
pub mod web;
