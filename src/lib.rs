//! pat-service: the Paddington Alcohol Test pathway for Emergency Departments.
//!
//! Read `DOMAIN.md` and `DESIGN.md` (in `shared/`) for the rules this encodes.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod telemetry;
