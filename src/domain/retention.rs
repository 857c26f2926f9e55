//! Retention: which attendances a purge removes. The trust sets the retention period under the NHS
//! Records Management Code of Practice; the service has no default period and removes nothing by
//! itself. An operator runs `pat-service purge --before DATE` (README, "Retention").
//!
//! DATE is a Europe/London calendar date: the purge removes the attendances that arrived before
//! midnight at its start (`docs/domain.md §6`: days are London days), with everything that hangs
//! off them.

use chrono::{DateTime, NaiveDate, Utc};

use super::calendar::london_midnight;

/// The most attendances one purge transaction removes.
pub const MAX_BATCH_SIZE: usize = 10_000;

/// Why a purge was refused before it touched anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetentionRefusal {
    /// The date is after today (London): it would remove records that are still arriving.
    DateInTheFuture { before: NaiveDate, today: NaiveDate },
    /// The batch size is 0 or above `MAX_BATCH_SIZE`.
    BatchSize(usize),
}

impl std::fmt::Display for RetentionRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetentionRefusal::DateInTheFuture { before, today } => write!(
                f,
                "--before {before} is after today ({today}, Europe/London): a purge removes only attendances that \
                 arrived before a date that has come"
            ),
            RetentionRefusal::BatchSize(n) => {
                write!(f, "--batch-size {n} must be between 1 and {MAX_BATCH_SIZE}")
            }
        }
    }
}

impl std::error::Error for RetentionRefusal {}

/// The instant a purge removes attendances before: midnight Europe/London at the start of
/// `before`. Refused when `before` is after `today` (the London date now). Today itself is
/// allowed: it removes nothing that arrived today.
pub fn cutoff(before: NaiveDate, today: NaiveDate) -> Result<DateTime<Utc>, RetentionRefusal> {
    if before > today {
        return Err(RetentionRefusal::DateInTheFuture { before, today });
    }
    Ok(london_midnight(before))
}

/// A batch size within `1..=MAX_BATCH_SIZE`.
pub fn batch_size(n: usize) -> Result<usize, RetentionRefusal> {
    if n == 0 || n > MAX_BATCH_SIZE {
        return Err(RetentionRefusal::BatchSize(n));
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::calendar::test_support::{date, utc};
    use super::*;

    #[test]
    fn the_cutoff_is_london_midnight_at_the_start_of_the_date() {
        // Winter: GMT, midnight is 00:00 UTC. Summer: BST, midnight is 23:00 UTC the day before.
        assert_eq!(
            cutoff(date("2025-01-15"), date("2026-12-06")),
            Ok(utc("2025-01-15T00:00:00Z"))
        );
        assert_eq!(
            cutoff(date("2025-07-01"), date("2026-12-06")),
            Ok(utc("2025-06-30T23:00:00Z"))
        );
    }

    #[test]
    fn today_is_allowed_and_tomorrow_is_refused() {
        assert_eq!(
            cutoff(date("2026-12-06"), date("2026-12-06")),
            Ok(utc("2026-12-06T00:00:00Z"))
        );
        assert_eq!(
            cutoff(date("2026-12-07"), date("2026-12-06")),
            Err(RetentionRefusal::DateInTheFuture {
                before: date("2026-12-07"),
                today: date("2026-12-06")
            })
        );
    }

    #[test]
    fn a_batch_is_one_to_ten_thousand_attendances() {
        assert_eq!(batch_size(0), Err(RetentionRefusal::BatchSize(0)));
        assert_eq!(batch_size(1), Ok(1));
        assert_eq!(batch_size(10_000), Ok(10_000));
        assert_eq!(batch_size(10_001), Err(RetentionRefusal::BatchSize(10_001)));
    }
}
