//! One integration-test binary (docs/style.md §2): the real server on port 0, a fresh database per
//! test. SQLite by default; PostgreSQL when `TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attendances;
mod audit;
mod auth;
mod bookings;
mod browser;
mod chief_complaint;
mod concurrency;
mod corrections;
mod entered_in_error;
mod errors;
mod fhir;
mod follow_up_worklist;
mod helpers;
mod hl7;
mod instances;
mod migrations;
mod oidc;
mod oidc_idp;
mod openapi;
mod operations;
mod outcomes;
mod patients;
mod referrals;
mod resilience;
mod retention;
mod scheduling_helpers;
mod screening;
mod slots;
mod statistics;
mod web;
mod web_ahw;
mod web_audit;
mod web_oidc;
