//! When patients arrive: a Poisson process of each patient's rate, thinned by hour of day, day
//! of week and month (Europe/London), and planned reviews in clinic hours.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Europe::London;

use super::patients::{Drinker, Patient};
use super::Generator;

/// ED arrivals by hour of day (Europe/London), peak = 1.
pub(super) const HOURS: [f64; 24] = [
    0.42, 0.34, 0.28, 0.24, 0.22, 0.22, 0.28, 0.45, 0.70, 0.88, 0.96, 1.00, 0.98, 0.94, 0.90, 0.88, 0.88, 0.90, 0.93,
    0.92, 0.85, 0.75, 0.62, 0.50,
];
/// Heavy drinkers: evenings and nights.
pub(super) const HOURS_DRINKING: [f64; 24] = [
    0.95, 0.90, 0.78, 0.60, 0.42, 0.30, 0.25, 0.25, 0.30, 0.35, 0.40, 0.45, 0.48, 0.50, 0.52, 0.55, 0.58, 0.62, 0.70,
    0.78, 0.86, 0.93, 1.00, 1.00,
];
/// Monday first; EDs are busiest on Mondays.
pub(super) const WEEKDAYS: [f64; 7] = [1.00, 0.93, 0.90, 0.90, 0.92, 0.93, 0.96];
/// Heavy drinkers: Friday and Saturday nights.
pub(super) const WEEKDAYS_DRINKING: [f64; 7] = [0.72, 0.66, 0.66, 0.72, 0.88, 1.00, 0.92];
/// January first; winter is busier.
pub(super) const MONTHS: [f64; 12] = [1.00, 0.96, 0.92, 0.88, 0.88, 0.86, 0.87, 0.86, 0.88, 0.91, 0.94, 0.99];

pub(super) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

pub(super) const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

impl Generator {
    /// Arrival weight in (0, 1] at `t`: hour of day, day of week and month in London.
    fn weight(&self, t: DateTime<Utc>, drinking: bool) -> f64 {
        let local = t.with_timezone(&London);
        let hour = local.hour() as usize;
        let day = local.weekday().num_days_from_monday() as usize;
        let month = local.month0() as usize;
        if drinking {
            HOURS_DRINKING[hour] * WEEKDAYS_DRINKING[day] * MONTHS[month]
        } else {
            HOURS[hour] * WEEKDAYS[day] * MONTHS[month]
        }
    }

    /// The next spontaneous (unplanned) arrival after `from`, by thinning a Poisson process of
    /// the patient's rate; `None` past `end`.
    pub(super) fn next_arrival(
        &mut self,
        p: &Patient,
        from: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let drinking = matches!(p.drinker, Drinker::Hazardous | Drinker::Harmful);
        let mean_weight = if drinking {
            self.mean_drinking
        } else {
            self.mean_general
        };
        let mean_gap = SECONDS_PER_YEAR * mean_weight / p.rate.max(1e-6);
        let mut t = from;
        loop {
            t += Duration::seconds(self.rng.exponential(mean_gap).min(1e10) as i64 + 1);
            if t > end {
                return None;
            }
            if self.rng.unit() < self.weight(t, drinking) {
                return Some(t);
            }
        }
    }

    /// A planned review 2–14 days later, in clinic hours.
    pub(super) fn planned_review(&mut self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let day = after.with_timezone(&London).date_naive() + Duration::days(self.rng.between(2, 14));
        let minute = self.rng.between(9 * 60, 16 * 60);
        let naive = day.and_hms_opt((minute / 60) as u32, (minute % 60) as u32, 0)?;
        London
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}
