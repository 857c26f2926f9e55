//! The AHW team: health workers, their opening hours (Europe/London) and the slots on the
//! 30-minute grid that bookings take.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use chrono_tz::Europe::London;
use uuid::Uuid;

use super::Generator;
use crate::demo::rows::{Batch, HealthWorkerRow, SlotRow};
use crate::demo::staff_id_prefix;

const FIRST_NAMES: [&str; 20] = [
    "Amira", "Ben", "Chloe", "Daniel", "Efua", "Fiona", "George", "Hannah", "Imran", "Jess", "Kwame", "Laura",
    "Mohammed", "Niamh", "Oliver", "Priya", "Rosa", "Sam", "Tomasz", "Yusuf",
];
const LAST_NAMES: [&str; 20] = [
    "Ahmed",
    "Brown",
    "Campbell",
    "Davies",
    "Evans",
    "Fernandes",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Kowalski",
    "Lewis",
    "Mensah",
    "Nowak",
    "O'Brien",
    "Patel",
    "Quinn",
    "Roberts",
    "Singh",
    "Taylor",
];

impl Generator {
    /// A slot on the 30-minute grid for a booking made at `booked_at`. The k-th booking at a
    /// grid time goes to the k-th member of the team on duty (rotating by day), and a booking
    /// beyond the team's size to an extra worker: one worker never has two slots at one time,
    /// so the no-overlap constraint always holds.
    pub(super) fn slot(&mut self, starts: DateTime<Utc>, booked_at: DateTime<Utc>, out: &mut Batch) -> Uuid {
        let grid = starts.timestamp().div_euclid(1800);
        let load = self.grid.entry(grid).or_insert(0);
        let k = *load;
        *load += 1;
        let day = starts.timestamp().div_euclid(86_400) as u64;
        // A team works for a year; then the next year's team (staff move on).
        let year = (starts - self.start).num_days().max(0) / 365;
        let member = if k < self.team { (day + k) % self.team } else { k };
        let worker = match self.workers.get(&(year, member)) {
            Some(id) => *id,
            None => {
                let id = self.rng.uuid();
                let number = self.workers.len() + 1;
                let first = FIRST_NAMES[self.rng.below(FIRST_NAMES.len() as u64) as usize];
                let last = LAST_NAMES[self.rng.below(LAST_NAMES.len() as u64) as usize];
                out.health_workers.push(HealthWorkerRow {
                    id,
                    name: format!("{first} {last}"),
                    staff_id: format!("{}{number:04}", staff_id_prefix(self.seed)),
                    subject: format!("demo-{}-ahw-{number}", self.seed),
                    created_at: (self.start + Duration::days(year * 365 - 60)).min(self.now),
                });
                self.workers.insert((year, member), id);
                id
            }
        };
        let id = self.rng.uuid();
        // Rotas are published ahead of the bookings.
        let created_at = booked_at - self.secs(3600, 28 * 86_400);
        out.slots.push(SlotRow {
            id,
            health_worker_id: worker,
            starts_at: starts,
            ends_at: starts + Duration::minutes(30),
            created_at,
        });
        id
    }

    pub(super) fn random_service_time(&mut self, from: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let times = service_times(from, until);
        if times.is_empty() {
            return None;
        }
        times.get(self.rng.below(times.len() as u64) as usize).copied()
    }
}

/// Starts of AHW slots on the 30-minute grid in `[from, until]` inside opening hours
/// (Europe/London): weekdays 09:00–19:00, weekends 10:00–16:00.
pub(super) fn service_times(from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut t = ceil_to_grid(from);
    let mut out = Vec::new();
    while t <= until {
        if in_service_hours(t) {
            out.push(t);
        }
        t += Duration::minutes(30);
    }
    out
}

fn in_service_hours(t: DateTime<Utc>) -> bool {
    let local = t.with_timezone(&London);
    let hour = local.hour();
    match local.weekday() {
        Weekday::Sat | Weekday::Sun => (10..16).contains(&hour),
        _ => (9..19).contains(&hour),
    }
}

fn ceil_to_grid(t: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = t.timestamp();
    let exact = seconds.rem_euclid(1800) == 0 && t.timestamp_subsec_nanos() == 0;
    let grid = if exact {
        seconds
    } else {
        (seconds.div_euclid(1800) + 1) * 1800
    };
    DateTime::<Utc>::from_timestamp(grid, 0).unwrap_or(t)
}
