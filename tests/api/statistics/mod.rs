//! `GET /api/v1/statistics/funnel`, `/reattendance` and `/referrals` (docs/domain.md §7–§8,
//! docs/design.md §4): small datasets built by hand through the API, and every figure checked against
//! values worked out by hand — the working is in the comments next to each expected value. The
//! datasets and their tables are in `datasets.rs`.
//!
//! Nothing expected here was copied from the service's output.
//!
//! One file per report or concern; what several share is in one place:
//!
//! - `fixtures.rs`: patients, attendances, screenings, decisions and bookings made through the
//!   API, and asking for statistics;
//! - `datasets.rs`: the datasets the tests share, each described by a table;
//! - `hand_working.rs`: the figures of the pathway and disclosure datasets, worked out by hand;
//! - `checks.rs`: checkers that compare an answer with hand-worked figures, apply the NHS
//!   disclosure rules independently of the service, and read CSV.

mod checks;
mod datasets;
pub(crate) mod fixtures;
mod hand_working;

mod access;
mod age;
mod calendar;
mod csv;
mod disclosure;
mod entered_in_error;
mod funnel;
mod identity;
mod outcomes;
mod reattendance;
mod referrals;
mod replica;
mod summaries;
