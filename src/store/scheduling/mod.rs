//! Scheduling, one store per aggregate: the AHW register (`health_workers`), their slots
//! (`slots`), referral decisions (`referrals`), bookings with the unmet booking attempts
//! (`bookings`) and follow-ups (`follow_ups`). The rules that must hold under concurrency are
//! database constraints (see the migration); `violates` tells which one a write broke.

pub mod bookings;
pub mod follow_ups;
pub mod health_workers;
pub mod referrals;
pub mod slots;

use diesel::result::Error as DieselError;

pub use bookings::{BookingListing, Bookings};
pub use follow_ups::FollowUps;
pub use health_workers::HealthWorkers;
pub use referrals::{Referral, Referrals};
pub use slots::Slots;

/// Whether `error` is the violation of `constraint` (PostgreSQL names it; SQLite names the
/// columns, `sqlite_hint`, or the trigger's message).
fn violates(error: &DieselError, constraint: &str, sqlite_hint: &str) -> bool {
    match error {
        DieselError::DatabaseError(_, info) => {
            info.constraint_name() == Some(constraint)
                || info.message().contains(constraint)
                || (!sqlite_hint.is_empty() && info.message().contains(sqlite_hint))
        }
        _ => false,
    }
}
