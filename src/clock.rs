//! The service's "now". In production it is the system clock; tests move it forward to reach
//! times that depend on it (an appointment that has started, a follow-up window) without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// The system clock plus an offset that only tests change.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_microseconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::microseconds(self.offset_microseconds.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every copy of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_microseconds.fetch_add(micros, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_copy() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::hours(2));
        let after = copy.now();
        assert!(after - before >= Duration::hours(2), "a copy sees the advance");
        assert!(after - before < Duration::hours(2) + Duration::seconds(5));
    }
}
