//! `pat-service demo-data`: realistic synthetic data, in bulk, to demonstrate the pathway and to
//! try the statistics (DOMAIN.md §7) on a realistic volume.
//!
//! The generator is pure and deterministic: a seed (and the instant the data ends at) fixes every
//! row, uuids included, through a small PRNG of our own (SplitMix64 seeding xoshiro256**), so no
//! crate's algorithm change can alter a published demo. The writer sends the rows as multi-row
//! INSERT statements of about [`BATCH_ROWS`] rows, many per transaction: a row at a time through
//! the pool would take hours for a million attendances, one statement per thousand rows takes
//! minutes.
//!
//! How the data is made (DOMAIN.md section by section):
//! - A population of patients, each with a drinking pattern (abstainer, light, hazardous,
//!   harmful) and an attendance rate drawn from a skewed (log-normal) distribution: heavier
//!   drinkers attend more often. Each patient's arrivals are simulated in time order as a
//!   Poisson process thinned by hour of day, day of week and month (evenings, Mondays and winter
//!   are busier; heavy drinkers peak at night and at weekends), plus short-notice unplanned
//!   returns and planned reviews, so reattendance within 7 and 365 days happens as it does in an
//!   ED. The indications are derived exactly as `POST /attendances` derives them (§2).
//! - Screenings (version 1, `pat-2009`) are scored by the service's own [`pat::score`], so the
//!   stored result, units and alerts always agree with the rule (§4).
//! - An accepted referral books a slot on a 30-minute grid within the AHW's opening hours
//!   (Europe/London); same-day appointments are attended far more often than later ones (§6).
//!   Accepting a referral lowers that patient's future attendance rate (Crawford 2004: 1.2 vs
//!   1.7 ED visits in 12 months), so the reattendance figures show the published effect.
//!
//! NHS numbers are drawn from the 999 range, which the NHS reserves for testing and never issues
//! (beyond about 900,000 patients the next blocks, 998 and down, are used): demo data must not
//! carry real patients' identifiers.

use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, SubsecRound, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Europe::London;
use diesel::connection::SimpleConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use uuid::Uuid;

use crate::config::Settings;
use crate::db::{self, DbConnection};
use crate::domain::eligibility::{self, PresentingCondition};
use crate::domain::pat::{self, Answers, DrinkingFrequency, PatResult, PatRule, Sex};
use crate::domain::patient::patient_key;
use crate::domain::scheduling::{LeadTime, OutsideWindowReason, ReferralDecision};
use crate::domain::units::{units_per, Drink, DrinkEntry, Measure};

/// `source_system` of every generated attendance; `source_id` is `demo-<seed>-<n>`.
pub const SOURCE_SYSTEM: &str = "demo-data";
/// `created_by`, `recorded_by`, `booked_by` … of every generated row, and the audit actor.
pub const ACTOR: &str = "demo-data";
/// More than this is refused: 20 million attendances is about 80 years of a large ED.
pub const MAX_ATTENDANCES: u64 = 20_000_000;
pub const MAX_YEARS: u32 = 20;
/// Rows per INSERT statement.
pub const BATCH_ROWS: usize = 1000;
/// Attendances per transaction (with their screenings, referrals and the rest: about 1.7 times
/// as many rows in all). Short enough that a service using the same SQLite file waits at most a
/// few seconds for the write lock.
pub const COMMIT_ATTENDANCES: u64 = 25_000;
/// Rows per transaction when writing the slots and bookings at the end.
pub const COMMIT_ROWS: u64 = 50_000;

// ------------------------------------------------------------------------------------------
// Configuration
// ------------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "demo data for seed {seed} is already in this database (source_system '{SOURCE_SYSTEM}', source_id \
         '{source_id}' or a health worker 'DEMO{seed}-AHW…' exists); run with another --seed, or use a fresh \
         database"
    )]
    AlreadyLoaded { seed: u64, source_id: String },
    #[error(
        "a generated row already exists (unique violation: {detail}); nothing of the failed transaction was \
         written, {committed} attendances of this run were committed before it — use another --seed or a \
         fresh database"
    )]
    Duplicate { detail: String, committed: u64 },
    #[error("{0}")]
    Setup(#[from] db::DbSetupError),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database error ({committed} attendances of this run were committed before it): {source}")]
    Write { source: DieselError, committed: u64 },
}

/// What to generate: checked once, so the generator never meets an absurd request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    pub attendances: u64,
    pub years: u32,
    pub seed: u64,
}

impl DemoConfig {
    pub fn new(attendances: u64, years: u32, seed: u64) -> Result<DemoConfig, DemoError> {
        if attendances == 0 {
            return Err(DemoError::Invalid("--attendances must be at least 1".into()));
        }
        if attendances > MAX_ATTENDANCES {
            return Err(DemoError::Invalid(format!(
                "--attendances {attendances} is more than the {MAX_ATTENDANCES} this command generates"
            )));
        }
        if !(1..=MAX_YEARS).contains(&years) {
            return Err(DemoError::Invalid(format!(
                "--years must be from 1 to {MAX_YEARS} (got {years})"
            )));
        }
        Ok(DemoConfig {
            attendances,
            years,
            seed,
        })
    }

    /// The `source_id` of the run's first attendance: its presence means the seed was loaded.
    pub fn first_source_id(&self) -> String {
        source_id(self.seed, 1)
    }
}

fn source_id(seed: u64, n: u64) -> String {
    format!("demo-{seed}-{n:08}")
}

/// Health workers' staff ids are this and a number.
fn staff_id_prefix(seed: u64) -> String {
    format!("DEMO{seed}-AHW")
}

/// The service settings the generated data must agree with (DOMAIN.md §2, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathwayRules {
    pub repeat_attender_min_prior: u32,
    pub repeat_attender_window_days: i64,
    pub booking_window_hours: i64,
}

impl Default for PathwayRules {
    fn default() -> Self {
        PathwayRules {
            repeat_attender_min_prior: 1,
            repeat_attender_window_days: 365,
            booking_window_hours: 24,
        }
    }
}

impl From<&Settings> for PathwayRules {
    fn from(s: &Settings) -> Self {
        PathwayRules {
            repeat_attender_min_prior: s.repeat_attender_min_prior,
            repeat_attender_window_days: s.repeat_attender_window_days,
            booking_window_hours: s.booking_window_hours,
        }
    }
}

// ------------------------------------------------------------------------------------------
// PRNG
// ------------------------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea & Flood 2014): turns one 64-bit seed into well-mixed state words.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman & Vigna 2018), seeded by SplitMix64 as its authors recommend.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn from_seed(seed: u64) -> Rng {
        let mut sm = SplitMix64::new(seed);
        Rng {
            s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in 0..n (n > 0), by multiply-shift (bias below 2^-64·n, irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform integer in lo..=hi.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and shape: skewed, a long tail of heavy values.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// One of the items (at least one), with probability proportional to its weight.
    pub fn pick<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.unit() * total;
        for (item, weight) in items {
            if x < *weight {
                return *item;
            }
            x -= weight;
        }
        // Rounding can leave x at the very top: that is the last item.
        items[items.len() - 1].0
    }

    /// A version 4 UUID whose 122 random bits come from this generator.
    pub fn uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

// ------------------------------------------------------------------------------------------
// NHS numbers
// ------------------------------------------------------------------------------------------

/// The modulus-11 check digit of nine digits (DOMAIN.md §9), `None` when it would be 10 (no
/// valid NHS number starts with these nine digits).
pub fn nhs_check_digit(first_nine: u64) -> Option<u64> {
    let mut rest = first_nine;
    let mut sum = 0;
    // Rightmost digit weighs 2, leftmost (ninth from the right) 10.
    for weight in 2..=10 {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}

/// Distinct valid NHS numbers from the test range: 999 then six digits, the six a bijection of
/// a counter (multiplier coprime to 10^6, offset from the seed), skipping nine-digit stems whose
/// check digit would be 10.
#[derive(Clone, Debug)]
struct NhsNumbers {
    next: u64,
    multiplier: u64,
    offset: u64,
}

impl NhsNumbers {
    fn new(rng: &mut Rng) -> Self {
        let mut multiplier = rng.below(500_000) * 2 + 1;
        if multiplier % 5 == 0 {
            multiplier += 2;
        }
        NhsNumbers {
            next: 0,
            multiplier,
            offset: rng.below(1_000_000),
        }
    }

    fn next_number(&mut self) -> String {
        loop {
            let n = self.next;
            self.next += 1;
            let block = (n / 1_000_000) % 900;
            let six = ((n % 1_000_000) * self.multiplier + self.offset) % 1_000_000;
            let stem = (999 - block) * 1_000_000 + six;
            if let Some(check) = nhs_check_digit(stem) {
                return format!("{stem:09}{check}");
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Rows
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct AttendanceRow {
    id: Uuid,
    source_id: String,
    patient_key: String,
    nhs_number: Option<String>,
    local_id: Option<String>,
    sex: &'static str,
    date_of_birth: Option<NaiveDate>,
    site: &'static str,
    arrived_at: DateTime<Utc>,
    presenting_condition: &'static str,
    detail: Option<&'static str>,
    category: &'static str,
    indications: String,
    pat_indicated: bool,
    created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
struct ScreeningRow {
    id: Uuid,
    attendance_id: Uuid,
    status: &'static str,
    rule: Option<&'static str>,
    result: Option<&'static str>,
    units: Option<f64>,
    answers: Option<String>,
    alerts: String,
    advice_given: Option<bool>,
    leaflet_given: Option<bool>,
    screened_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
struct ReferralRow {
    attendance_id: Uuid,
    decision: &'static str,
    decided_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
struct HealthWorkerRow {
    id: Uuid,
    name: String,
    staff_id: String,
    subject: String,
    created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
struct SlotRow {
    id: Uuid,
    health_worker_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
struct BookingRow {
    id: Uuid,
    attendance_id: Uuid,
    slot_id: Uuid,
    status: &'static str,
    within_window: bool,
    outside_window_reason: Option<&'static str>,
    booked_at: DateTime<Utc>,
    outcome_at: Option<DateTime<Utc>>,
    brief_intervention_delivered: Option<bool>,
    units_per_week: Option<f64>,
    cancel_reason: Option<&'static str>,
    lead_time: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
struct AttemptRow {
    id: Uuid,
    attendance_id: Uuid,
    attempted_at: DateTime<Utc>,
    window_ends_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
struct FollowUpRow {
    id: Uuid,
    attendance_id: Uuid,
    months: i32,
    units_per_week: f64,
    contacted_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
}

/// Rows waiting to be written, one list per table.
#[derive(Clone, Debug, Default, PartialEq)]
struct Batch {
    health_workers: Vec<HealthWorkerRow>,
    attendances: Vec<AttendanceRow>,
    screenings: Vec<ScreeningRow>,
    referrals: Vec<ReferralRow>,
    slots: Vec<SlotRow>,
    bookings: Vec<BookingRow>,
    attempts: Vec<AttemptRow>,
    follow_ups: Vec<FollowUpRow>,
}

/// Rows per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub attendances: u64,
    pub screenings: u64,
    pub referrals: u64,
    pub health_workers: u64,
    pub slots: u64,
    pub bookings: u64,
    pub booking_attempts: u64,
    pub follow_ups: u64,
    pub audit_events: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.attendances
            + self.screenings
            + self.referrals
            + self.health_workers
            + self.slots
            + self.bookings
            + self.booking_attempts
            + self.follow_ups
            + self.audit_events
    }

    pub fn rows(&self) -> [(&'static str, u64); 9] {
        [
            ("attendances", self.attendances),
            ("screenings", self.screenings),
            ("referrals", self.referrals),
            ("health_workers", self.health_workers),
            ("slots", self.slots),
            ("bookings", self.bookings),
            ("booking_attempts", self.booking_attempts),
            ("follow_ups", self.follow_ups),
            ("audit_events", self.audit_events),
        ]
    }
}

// ------------------------------------------------------------------------------------------
// The population
// ------------------------------------------------------------------------------------------

/// A patient's drinking, which drives both how often they attend and how they answer the PAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drinker {
    Abstainer,
    Light,
    Hazardous,
    Harmful,
}

#[derive(Clone, Copy, Debug)]
struct Habit {
    /// Typical most units in a day.
    units: f64,
    frequency: DrinkingFrequency,
    days_per_week: Option<u8>,
    /// Chance of saying an attendance for an alcohol-associated condition is related.
    related: f64,
}

#[derive(Clone, Debug)]
struct Patient {
    key: String,
    nhs_number: Option<String>,
    local_id: Option<String>,
    sex: Sex,
    birth: NaiveDate,
    dob_known: bool,
    home_site: usize,
    drinker: Drinker,
    habit: Option<Habit>,
    /// Unplanned attendances a year.
    rate: f64,
    referral_accepted: bool,
    history: Vec<DateTime<Utc>>,
    last_condition: PresentingCondition,
}

const SITES: [(&str, f64); 3] = [("st-marys", 0.45), ("charing-cross", 0.30), ("hammersmith", 0.25)];

/// ED arrivals by hour of day (Europe/London), peak = 1.
const HOURS: [f64; 24] = [
    0.42, 0.34, 0.28, 0.24, 0.22, 0.22, 0.28, 0.45, 0.70, 0.88, 0.96, 1.00, 0.98, 0.94, 0.90, 0.88, 0.88, 0.90, 0.93,
    0.92, 0.85, 0.75, 0.62, 0.50,
];
/// Heavy drinkers: evenings and nights.
const HOURS_DRINKING: [f64; 24] = [
    0.95, 0.90, 0.78, 0.60, 0.42, 0.30, 0.25, 0.25, 0.30, 0.35, 0.40, 0.45, 0.48, 0.50, 0.52, 0.55, 0.58, 0.62, 0.70,
    0.78, 0.86, 0.93, 1.00, 1.00,
];
/// Monday first; EDs are busiest on Mondays.
const WEEKDAYS: [f64; 7] = [1.00, 0.93, 0.90, 0.90, 0.92, 0.93, 0.96];
/// Heavy drinkers: Friday and Saturday nights.
const WEEKDAYS_DRINKING: [f64; 7] = [0.72, 0.66, 0.66, 0.72, 0.88, 1.00, 0.92];
/// January first; winter is busier.
const MONTHS: [f64; 12] = [1.00, 0.96, 0.92, 0.88, 0.88, 0.86, 0.87, 0.86, 0.88, 0.91, 0.94, 0.99];

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

const CONDITIONS_GENERAL: [(PresentingCondition, f64); 11] = [
    (PresentingCondition::Fall, 11.0),
    (PresentingCondition::Collapse, 5.0),
    (PresentingCondition::HeadInjury, 3.0),
    (PresentingCondition::Assault, 1.0),
    (PresentingCondition::Accident, 8.0),
    (PresentingCondition::Unwell, 9.0),
    (PresentingCondition::Gastrointestinal, 5.0),
    (PresentingCondition::Cardiac, 5.0),
    (PresentingCondition::Psychiatric, 1.5),
    (PresentingCondition::RepeatAttender, 0.5),
    (PresentingCondition::Other, 52.0),
];

const CONDITIONS_DRINKING: [(PresentingCondition, f64); 11] = [
    (PresentingCondition::Fall, 14.0),
    (PresentingCondition::Collapse, 7.0),
    (PresentingCondition::HeadInjury, 7.0),
    (PresentingCondition::Assault, 6.0),
    (PresentingCondition::Accident, 7.0),
    (PresentingCondition::Unwell, 6.0),
    (PresentingCondition::Gastrointestinal, 6.0),
    (PresentingCondition::Cardiac, 3.0),
    (PresentingCondition::Psychiatric, 4.0),
    (PresentingCondition::RepeatAttender, 1.0),
    (PresentingCondition::Other, 39.0),
];

const OTHER_DETAILS: [(&str, f64); 10] = [
    ("ankle sprain", 3.0),
    ("minor wound", 3.0),
    ("back pain", 2.0),
    ("rash", 1.0),
    ("urinary symptoms", 1.0),
    ("allergic reaction", 1.0),
    ("eye problem", 1.0),
    ("dental pain", 1.0),
    ("wrist injury", 2.0),
    ("headache", 1.0),
];

/// Conditions the patient is more likely to say are related to alcohol.
fn alcohol_associated(c: PresentingCondition) -> bool {
    matches!(
        c,
        PresentingCondition::Fall
            | PresentingCondition::Collapse
            | PresentingCondition::HeadInjury
            | PresentingCondition::Assault
            | PresentingCondition::Gastrointestinal
            | PresentingCondition::Psychiatric
    )
}

const NOT_SCREENED: [(&str, f64); 5] = [
    ("refused", 0.045),
    ("intoxicated", 0.035),
    ("lacks_capacity", 0.007),
    ("too_unwell", 0.030),
    ("not_asked", 0.053),
];

const CANCEL_REASONS: [(&str, f64); 4] = [
    ("patient asked to rearrange", 4.0),
    ("AHW unavailable", 2.0),
    ("patient admitted to a ward", 2.0),
    ("patient unable to attend", 2.0),
];

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

/// Chance an AHW appointment is attended, by lead time: same day six times later (Crawford 2004,
/// DOMAIN.md §6).
fn attend_probability(lead: LeadTime) -> f64 {
    match lead {
        LeadTime::SameDay => 0.66,
        LeadTime::NextDay => 0.24,
        LeadTime::Later => 0.11,
    }
}

/// How much less often a patient attends after accepting a referral (Crawford 2004: 1.2 vs 1.7
/// ED visits over 12 months, a factor of 0.7; a little stronger here because planned reviews,
/// and declined patients who accept later, dilute the observed difference).
const ACCEPTED_RATE_FACTOR: f64 = 0.6;

// ------------------------------------------------------------------------------------------
// The generator
// ------------------------------------------------------------------------------------------

/// Generates patients one at a time, with everything that follows from their attendances.
struct Generator {
    rng: Rng,
    seed: u64,
    rules: PathwayRules,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    nhs: NhsNumbers,
    attendances: u64,
    /// People simulated, and those of them who attended in the period.
    patients: u64,
    attending_patients: u64,
    /// AHWs per team: sized so each has a few appointments a day.
    team: u64,
    /// Bookings already on each 30-minute grid time.
    grid: HashMap<i64, u64>,
    /// (team year, member) → health worker id.
    workers: HashMap<(i64, u64), Uuid>,
    mean_general: f64,
    mean_drinking: f64,
}

/// Expected bookings per attendance, to size the AHW team.
const BOOKINGS_PER_ATTENDANCE: f64 = 0.04;

impl Generator {
    fn new(config: &DemoConfig, rules: PathwayRules, now: DateTime<Utc>) -> Generator {
        let now = now.trunc_subsecs(0);
        let start = now
            .checked_sub_months(Months::new(12 * config.years))
            .unwrap_or(now - Duration::days(365 * i64::from(config.years)));
        let mut rng = Rng::from_seed(config.seed);
        let nhs = NhsNumbers::new(&mut rng);
        let per_day = config.attendances as f64 * BOOKINGS_PER_ATTENDANCE / (365.25 * f64::from(config.years));
        Generator {
            rng,
            seed: config.seed,
            rules,
            start,
            now,
            nhs,
            attendances: 0,
            patients: 0,
            attending_patients: 0,
            team: ((per_day / 5.0).ceil() as u64).clamp(3, 200),
            grid: HashMap::new(),
            workers: HashMap::new(),
            mean_general: mean(&HOURS) * mean(&WEEKDAYS) * mean(&MONTHS),
            mean_drinking: mean(&HOURS_DRINKING) * mean(&WEEKDAYS_DRINKING) * mean(&MONTHS),
        }
    }

    fn secs(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::seconds(self.rng.between(lo, hi))
    }

    fn new_patient(&mut self) -> Patient {
        self.patients += 1;
        let index = self.patients;
        let rng = &mut self.rng;
        let sex = rng.pick(&[
            (Sex::Male, 0.49),
            (Sex::Female, 0.49),
            (Sex::Other, 0.005),
            (Sex::Unknown, 0.015),
        ]);
        let drinker = if sex == Sex::Male {
            rng.pick(&[
                (Drinker::Abstainer, 0.20),
                (Drinker::Light, 0.62),
                (Drinker::Hazardous, 0.14),
                (Drinker::Harmful, 0.04),
            ])
        } else {
            rng.pick(&[
                (Drinker::Abstainer, 0.28),
                (Drinker::Light, 0.60),
                (Drinker::Hazardous, 0.10),
                (Drinker::Harmful, 0.02),
            ])
        };
        let (lo, hi) = rng.pick(&[
            ((14, 17), 0.04),
            ((18, 29), 0.22),
            ((30, 44), 0.24),
            ((45, 64), 0.26),
            ((65, 95), 0.24),
        ]);
        let age_days = rng.between(lo * 365, hi * 365 + 364);
        let birth = self.now.date_naive() - Duration::days(age_days);
        let has_nhs = rng.chance(0.88);
        let local = !has_nhs || rng.chance(0.6);
        let nhs_number = has_nhs.then(|| self.nhs.next_number());
        let local_id = local.then(|| format!("D{}-{index:07}", self.seed));
        let key = patient_key(nhs_number.as_deref(), local_id.as_deref()).unwrap_or_default();
        let rng = &mut self.rng;
        let dob_known = rng.chance(0.97);
        let home_site = rng.pick(&[(0, SITES[0].1), (1, SITES[1].1), (2, SITES[2].1)]);
        let female_scale = if sex == Sex::Male { 1.0 } else { 0.75 };
        let habit = match drinker {
            Drinker::Abstainer => None,
            Drinker::Light => {
                let (frequency, days) = rng.pick(&[
                    ((DrinkingFrequency::LessThanWeekly, None), 0.5),
                    ((DrinkingFrequency::Weekly, Some((1, 3))), 0.45),
                    ((DrinkingFrequency::Daily, None), 0.05),
                ]);
                Some(habit(rng, 2.5 * female_scale, 0.45, frequency, days, 0.02))
            }
            Drinker::Hazardous => {
                let (frequency, days) = rng.pick(&[
                    ((DrinkingFrequency::LessThanWeekly, None), 0.15),
                    ((DrinkingFrequency::Weekly, Some((2, 5))), 0.65),
                    ((DrinkingFrequency::Daily, None), 0.2),
                ]);
                Some(habit(rng, 6.5 * female_scale, 0.35, frequency, days, 0.12))
            }
            Drinker::Harmful => {
                let (frequency, days) = rng.pick(&[
                    ((DrinkingFrequency::Weekly, Some((4, 6))), 0.45),
                    ((DrinkingFrequency::Daily, None), 0.55),
                ]);
                Some(habit(rng, 16.0 * female_scale, 0.45, frequency, days, 0.4))
            }
        };
        // Skewed: most attend rarely, a few often; heavy drinkers more often and more unevenly.
        let (median_rate, spread) = match drinker {
            Drinker::Abstainer | Drinker::Light => (0.1, 0.7),
            Drinker::Hazardous => (0.15, 1.2),
            Drinker::Harmful => (0.25, 1.3),
        };
        let rate = rng.lognormal(median_rate, spread).min(24.0);
        Patient {
            key,
            nhs_number,
            local_id,
            sex,
            birth,
            dob_known,
            home_site,
            drinker,
            habit,
            rate,
            referral_accepted: false,
            history: Vec::new(),
            last_condition: PresentingCondition::Other,
        }
    }

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
    fn next_arrival(&mut self, p: &Patient, from: DateTime<Utc>, end: DateTime<Utc>) -> Option<DateTime<Utc>> {
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

    /// One patient's attendances in time order (at most `limit`), with their screenings,
    /// referrals, bookings and follow-ups. Returns how many attendances were added.
    fn patient(&mut self, limit: u64, out: &mut Batch) -> u64 {
        let mut p = self.new_patient();
        // Living in the catchment for a while: arrivals only then, and only inside the period.
        let span = (self.now - self.start).num_seconds() as f64;
        let entered = self.start - Duration::days(5 * 365)
            + Duration::seconds((self.rng.unit() * (span + 5.0 * SECONDS_PER_YEAR)) as i64);
        let left = entered + Duration::seconds(self.rng.exponential(6.0 * SECONDS_PER_YEAR) as i64);
        let from = entered.max(self.start);
        let end = left.min(self.now);
        if from >= end {
            return 0;
        }
        // Returns already arranged: (time, planned).
        let mut pending: Vec<(DateTime<Utc>, bool)> = Vec::new();
        let mut added = 0;
        let mut next = self.next_arrival(&p, from, end);
        while added < limit {
            let earliest_pending = pending
                .iter()
                .enumerate()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(i, e)| (i, *e));
            let (at, planned, from_pending) = match (next, earliest_pending) {
                (Some(t), Some((i, (u, planned)))) if u < t => (u, planned, Some(i)),
                (Some(t), _) => (t, false, None),
                (None, Some((i, (u, planned)))) => (u, planned, Some(i)),
                (None, None) => break,
            };
            if at > end {
                break;
            }
            if let Some(i) = from_pending {
                pending.swap_remove(i);
            }
            self.attendance(&mut p, at, planned, out);
            added += 1;
            if !planned {
                // A planned review (fracture clinic, wound check) and an unplanned return
                // within the week: the 7-day indicator's numerator (DOMAIN.md §7).
                if self.rng.chance(0.055) {
                    if let Some(review) = self.planned_review(at) {
                        pending.push((review, true));
                    }
                }
                let bounce = if p.drinker == Drinker::Harmful { 0.08 } else { 0.045 };
                let bounce = if p.referral_accepted {
                    bounce * ACCEPTED_RATE_FACTOR
                } else {
                    bounce
                };
                if self.rng.chance(bounce) {
                    let back = at + self.secs(6 * 3600, 7 * 86_400);
                    pending.push((back, false));
                }
            }
            // Arrivals are memoryless: restart from now with the (possibly lowered) rate.
            next = self.next_arrival(&p, at, end);
        }
        if added > 0 {
            self.attending_patients += 1;
        }
        added
    }

    /// A planned review 2–14 days later, in clinic hours.
    fn planned_review(&mut self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let day = after.with_timezone(&London).date_naive() + Duration::days(self.rng.between(2, 14));
        let minute = self.rng.between(9 * 60, 16 * 60);
        let naive = day.and_hms_opt((minute / 60) as u32, (minute % 60) as u32, 0)?;
        London
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    fn attendance(&mut self, p: &mut Patient, at: DateTime<Utc>, planned: bool, out: &mut Batch) {
        self.attendances += 1;
        let id = self.rng.uuid();
        let drinking = matches!(p.drinker, Drinker::Hazardous | Drinker::Harmful);
        let condition = if planned {
            if self.rng.chance(0.7) {
                PresentingCondition::Other
            } else {
                p.last_condition
            }
        } else if drinking {
            self.rng.pick(&CONDITIONS_DRINKING)
        } else {
            self.rng.pick(&CONDITIONS_GENERAL)
        };
        let detail = match (planned, condition) {
            (true, PresentingCondition::Other) => Some("planned review"),
            (false, PresentingCondition::Other) => Some(self.rng.pick(&OTHER_DETAILS)),
            _ => None,
        };
        if !planned {
            p.last_condition = condition;
        }
        // Indications exactly as `POST /attendances` fixes them (DOMAIN.md §2).
        let since = at - Duration::days(self.rules.repeat_attender_window_days);
        let prior = p.history.iter().rev().take_while(|t| **t >= since).count();
        let prior = u32::try_from(prior).unwrap_or(u32::MAX);
        let found = eligibility::indications(condition, prior, self.rules.repeat_attender_min_prior);
        let eligible = !found.is_empty();
        let indications = found.iter().map(|c| c.code()).collect::<Vec<_>>().join(",");
        p.history.push(at);
        let site = if self.rng.chance(0.85) {
            SITES[p.home_site].0
        } else {
            SITES[self.rng.below(3) as usize].0
        };
        let created_at = (at + self.secs(60, 900)).min(self.now);
        out.attendances.push(AttendanceRow {
            id,
            source_id: source_id(self.seed, self.attendances),
            patient_key: p.key.clone(),
            nhs_number: p.nhs_number.clone(),
            local_id: p.local_id.clone(),
            sex: p.sex.code(),
            date_of_birth: p.dob_known.then_some(p.birth),
            site,
            arrived_at: at,
            presenting_condition: condition.code(),
            detail,
            category: if planned { "planned" } else { "unplanned" },
            indications,
            pat_indicated: eligible,
            created_at,
        });
        self.screening(p, id, at, condition, eligible, out);
    }

    fn screening(
        &mut self,
        p: &mut Patient,
        attendance_id: Uuid,
        arrived_at: DateTime<Utc>,
        condition: PresentingCondition,
        eligible: bool,
        out: &mut Batch,
    ) {
        let screened_at = arrived_at + Duration::seconds(self.rng.lognormal(75.0 * 60.0, 0.6).min(8.0 * 3600.0) as i64);
        if screened_at > self.now {
            return; // still in the department, not yet asked
        }
        let age_days = (arrived_at.date_naive() - p.birth).num_days();
        let status = if eligible {
            if age_days < 18 * 365 && self.rng.chance(0.75) {
                Some("under_age")
            } else {
                let intoxicated = if p.drinker == Drinker::Harmful { 0.105 } else { 0.035 };
                self.rng.pick(&[
                    (Some("completed"), 0.75),
                    (Some(NOT_SCREENED[0].0), NOT_SCREENED[0].1),
                    (Some("intoxicated"), intoxicated),
                    (Some(NOT_SCREENED[2].0), NOT_SCREENED[2].1),
                    (Some(NOT_SCREENED[3].0), NOT_SCREENED[3].1),
                    (Some(NOT_SCREENED[4].0), NOT_SCREENED[4].1),
                    (None, 0.08),
                ])
            }
        } else if self.rng.chance(0.004) {
            Some("completed") // screened outside the indications (DOMAIN.md §7)
        } else {
            None
        };
        let Some(status) = status else { return };
        let id = self.rng.uuid();
        let recorded_at = (screened_at + self.secs(0, 600)).min(self.now);
        let scored = if status == "completed" {
            let answers = self.answers(p, condition);
            pat::score(PatRule::Pat2009, p.sex, &answers)
                .ok()
                .map(|score| (answers, score))
        } else {
            None
        };
        let Some((answers, score)) = scored else {
            out.screenings.push(ScreeningRow {
                id,
                attendance_id,
                // An unscorable answer set cannot happen (tested); if it did, the row says so.
                status: if status == "completed" { "not_asked" } else { status },
                rule: None,
                result: None,
                units: None,
                answers: None,
                alerts: String::new(),
                advice_given: None,
                leaflet_given: None,
                screened_at,
                recorded_at,
            });
            return;
        };
        let positive = score.result == PatResult::Positive;
        let (advice, leaflet) = if positive {
            (Some(self.rng.chance(0.96)), Some(self.rng.chance(0.9)))
        } else {
            (None, None)
        };
        out.screenings.push(ScreeningRow {
            id,
            attendance_id,
            status,
            rule: Some(PatRule::Pat2009.code()),
            result: Some(score.result.code()),
            units: score.units,
            answers: serde_json::to_string(&answers).ok(),
            alerts: score.alerts.iter().map(|a| a.code()).collect::<Vec<_>>().join(","),
            advice_given: advice,
            leaflet_given: leaflet,
            screened_at,
            recorded_at,
        });
        if positive && self.rng.chance(0.95) {
            self.referral(p, attendance_id, screened_at, advice == Some(true), out);
        }
    }

    /// The PAT 2009 answers of this attendance, from the patient's habit with day-to-day
    /// variation (DOMAIN.md §3).
    fn answers(&mut self, p: &Patient, condition: PresentingCondition) -> Answers {
        let Some(habit) = p.habit else {
            return Answers {
                drinks_alcohol: Some(false),
                ..Answers::default()
            };
        };
        let rng = &mut self.rng;
        let units = ((habit.units * rng.lognormal(1.0, 0.2)) * 2.0).round().max(1.0) / 2.0;
        let (frequency, days) = if rng.chance(0.9) {
            (habit.frequency, habit.days_per_week)
        } else {
            let some_days = Some(rng.between(1, 6) as u8);
            rng.pick(&[
                ((DrinkingFrequency::LessThanWeekly, None), 1.0),
                ((DrinkingFrequency::Weekly, some_days), 1.0),
                ((DrinkingFrequency::Daily, None), 0.3),
            ])
        };
        let related_p = habit.related * if alcohol_associated(condition) { 1.5 } else { 0.5 };
        let related = rng.chance(related_p.min(0.9));
        let (max_units, drinks) = if rng.chance(0.35) {
            (None, Some(drinks_for(rng, units)))
        } else {
            (Some(units), None)
        };
        Answers {
            drinks_alcohol: Some(true),
            max_units_in_a_day: max_units,
            drinks,
            drinking_frequency: Some(frequency),
            days_per_week: days,
            heavy_drinking_frequency: None,
            attendance_related: Some(related),
        }
    }

    fn referral(
        &mut self,
        p: &mut Patient,
        attendance_id: Uuid,
        screened_at: DateTime<Utc>,
        advised: bool,
        out: &mut Batch,
    ) {
        let decided_at = screened_at + self.secs(60, 1200);
        if decided_at > self.now {
            return;
        }
        // Explicit health feedback raises acceptance (Patton 2003, DOMAIN.md §3).
        let accept = if advised { 0.655 } else { 0.55 };
        let decision = self.rng.pick(&[
            (ReferralDecision::Accepted, accept),
            (ReferralDecision::SeenInDepartment, 0.04),
            (ReferralDecision::Declined, 0.96 - accept),
        ]);
        out.referrals.push(ReferralRow {
            attendance_id,
            decision: decision.code(),
            decided_at,
            recorded_at: (decided_at + self.secs(0, 120)).min(self.now),
        });
        if decision != ReferralDecision::Declined && !p.referral_accepted {
            p.referral_accepted = true;
            p.rate *= ACCEPTED_RATE_FACTOR;
        }
        if decision == ReferralDecision::Accepted {
            self.booking(p, attendance_id, screened_at, decided_at, out);
        }
    }

    /// An AHW appointment for an accepted referral (DOMAIN.md §6).
    fn booking(
        &mut self,
        p: &Patient,
        attendance_id: Uuid,
        screened_at: DateTime<Utc>,
        decided_at: DateTime<Utc>,
        out: &mut Batch,
    ) {
        let window_end = screened_at + Duration::hours(self.rules.booking_window_hours);
        let mut booked_at = decided_at + self.secs(60, 600);
        if booked_at > self.now {
            return;
        }
        let roll = self.rng.unit();
        let (starts, reason) = if roll < 0.03 {
            // No free slot in the window: the unmet request is recorded; half are then booked
            // later for want of capacity.
            out.attempts.push(AttemptRow {
                id: self.rng.uuid(),
                attendance_id,
                attempted_at: booked_at,
                window_ends_at: window_end,
            });
            if !self.rng.chance(0.5) {
                return;
            }
            booked_at += self.secs(120, 1800);
            let from = window_end + Duration::hours(1);
            match self.random_service_time(from, from + Duration::hours(48)) {
                Some(t) => (t, Some(OutsideWindowReason::NoCapacity)),
                None => return,
            }
        } else if roll < 0.09 {
            // The patient prefers another day.
            let from = booked_at + Duration::days(self.rng.between(2, 6));
            match self.random_service_time(from, from + Duration::hours(24)) {
                Some(t) => (t, Some(OutsideWindowReason::PatientPreference)),
                None => return,
            }
        } else {
            let candidates = service_times(booked_at + Duration::minutes(15), window_end);
            let today = screened_at.with_timezone(&London).date_naive();
            let same_day = candidates
                .iter()
                .take_while(|t| t.with_timezone(&London).date_naive() == today)
                .count();
            let pick = if same_day > 0 && (same_day == candidates.len() || self.rng.chance(0.4)) {
                candidates.get(self.rng.below(same_day.min(4) as u64) as usize)
            } else {
                let later = candidates.len() - same_day;
                candidates.get(same_day + self.rng.below(later.min(10) as u64) as usize)
            };
            match pick {
                Some(t) => (*t, None),
                None => {
                    out.attempts.push(AttemptRow {
                        id: self.rng.uuid(),
                        attendance_id,
                        attempted_at: booked_at,
                        window_ends_at: window_end,
                    });
                    return;
                }
            }
        };
        if booked_at > self.now {
            return;
        }
        self.book_slot(
            p,
            attendance_id,
            screened_at,
            window_end,
            booked_at,
            starts,
            reason,
            true,
            out,
        );
    }

    /// Creates the slot and the booking, then its outcome if the slot is past; a cancelled
    /// booking may be rebooked once.
    #[allow(clippy::too_many_arguments)]
    fn book_slot(
        &mut self,
        p: &Patient,
        attendance_id: Uuid,
        screened_at: DateTime<Utc>,
        window_end: DateTime<Utc>,
        booked_at: DateTime<Utc>,
        starts: DateTime<Utc>,
        reason: Option<OutsideWindowReason>,
        may_rebook: bool,
        out: &mut Batch,
    ) {
        let slot_id = self.slot(starts, booked_at, out);
        let within_window = starts <= window_end;
        let reason = if within_window {
            None
        } else {
            Some(reason.unwrap_or(OutsideWindowReason::PatientPreference).code())
        };
        let lead = LeadTime::between(screened_at, starts);
        let mut row = BookingRow {
            id: self.rng.uuid(),
            attendance_id,
            slot_id,
            status: "booked",
            within_window,
            outside_window_reason: reason,
            booked_at,
            outcome_at: None,
            brief_intervention_delivered: None,
            units_per_week: None,
            cancel_reason: None,
            lead_time: lead.code(),
        };
        let mut rebook_from = None;
        if self.rng.chance(0.05) {
            let lead_seconds = (starts - booked_at).num_seconds().max(1);
            let cancelled_at = booked_at + self.secs(0, lead_seconds - 1);
            if cancelled_at <= self.now {
                row.status = "cancelled";
                row.outcome_at = Some(cancelled_at);
                row.cancel_reason = Some(self.rng.pick(&CANCEL_REASONS));
                if may_rebook && self.rng.chance(0.5) {
                    rebook_from = Some(cancelled_at);
                }
            }
        } else {
            let outcome_at = starts + self.secs(30 * 60, 3 * 3600);
            if outcome_at <= self.now {
                if self.rng.chance(attend_probability(lead)) {
                    let weekly = weekly_units(&mut self.rng, p);
                    row.status = "attended";
                    row.brief_intervention_delivered = Some(self.rng.chance(0.97));
                    row.units_per_week = Some(weekly);
                    self.follow_ups(attendance_id, starts, weekly, out);
                } else {
                    row.status = "did_not_attend";
                }
                row.outcome_at = Some(outcome_at);
            }
        }
        out.bookings.push(row);
        if let Some(cancelled_at) = rebook_from {
            let rebooked_at = cancelled_at + self.secs(60, 1800);
            let from = (starts + Duration::hours(12)).max(rebooked_at + Duration::hours(1));
            if let Some(next) = self.random_service_time(from, from + Duration::hours(72)) {
                if rebooked_at <= self.now {
                    self.book_slot(
                        p,
                        attendance_id,
                        screened_at,
                        window_end,
                        rebooked_at,
                        next,
                        reason_of(reason),
                        false,
                        out,
                    );
                }
            }
        }
    }

    /// 6- and 12-month contacts after an attended appointment; drinking falls (Crawford 2004:
    /// 59.7 vs 83.1 units a week at 6 months).
    fn follow_ups(&mut self, attendance_id: Uuid, seen: DateTime<Utc>, weekly: f64, out: &mut Batch) {
        for (months, chance, factor) in [(6, 0.45, 0.72), (12, 0.35, 0.75)] {
            if !self.rng.chance(chance) {
                continue;
            }
            let contacted_at = seen + Duration::days(i64::from(months) * 365 / 12 + self.rng.between(-14, 14));
            if contacted_at > self.now {
                continue;
            }
            let units = round1(weekly * factor * self.rng.lognormal(1.0, 0.25));
            out.follow_ups.push(FollowUpRow {
                id: self.rng.uuid(),
                attendance_id,
                months,
                units_per_week: units,
                contacted_at,
                recorded_at: (contacted_at + self.secs(60, 3600)).min(self.now),
            });
        }
    }

    /// A slot on the 30-minute grid for a booking made at `booked_at`. The k-th booking at a
    /// grid time goes to the k-th member of the team on duty (rotating by day), and a booking
    /// beyond the team's size to an extra worker: one worker never has two slots at one time,
    /// so the no-overlap constraint always holds.
    fn slot(&mut self, starts: DateTime<Utc>, booked_at: DateTime<Utc>, out: &mut Batch) -> Uuid {
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

    fn random_service_time(&mut self, from: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let times = service_times(from, until);
        if times.is_empty() {
            return None;
        }
        times.get(self.rng.below(times.len() as u64) as usize).copied()
    }
}

fn reason_of(code: Option<&str>) -> Option<OutsideWindowReason> {
    match code {
        Some("no_capacity") => Some(OutsideWindowReason::NoCapacity),
        Some(_) => Some(OutsideWindowReason::PatientPreference),
        None => None,
    }
}

fn habit(
    rng: &mut Rng,
    median_units: f64,
    sigma: f64,
    frequency: DrinkingFrequency,
    days: Option<(i64, i64)>,
    related: f64,
) -> Habit {
    Habit {
        units: rng.lognormal(median_units, sigma).clamp(0.5, 60.0),
        frequency,
        days_per_week: days.map(|(lo, hi)| rng.between(lo, hi) as u8),
        related,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Units a week at the AHW appointment, from the patient's habit.
fn weekly_units(rng: &mut Rng, p: &Patient) -> f64 {
    let Some(h) = p.habit else { return 0.0 };
    let days = match h.frequency {
        DrinkingFrequency::Daily => 7.0,
        DrinkingFrequency::Weekly => f64::from(h.days_per_week.unwrap_or(2)),
        DrinkingFrequency::LessThanWeekly => 0.5,
    };
    round1(h.units * days * 0.7 * rng.lognormal(1.0, 0.25))
}

/// The drinks named for a day of about `units` units, from the form's guide (DOMAIN.md §3).
fn drinks_for(rng: &mut Rng, units: f64) -> Vec<DrinkEntry> {
    let choices = [
        ((Drink::Beer, Measure::Pint), 5.0),
        ((Drink::Beer, Measure::Can), 2.0),
        ((Drink::Beer, Measure::LitreBottle), 0.5),
        ((Drink::StrongBeer, Measure::Can), 1.5),
        ((Drink::StrongBeer, Measure::LitreBottle), 0.5),
        ((Drink::Wine, Measure::Glass), 3.0),
        ((Drink::Wine, Measure::Bottle75cl), 1.5),
        ((Drink::FortifiedWine, Measure::Glass), 0.3),
        ((Drink::Alcopop, Measure::Bottle330ml), 0.7),
        ((Drink::Spirits, Measure::Single), 2.0),
        ((Drink::Spirits, Measure::Bottle75cl), 0.2),
    ];
    let two = units >= 4.0 && rng.chance(0.3);
    let shares: &[f64] = if two { &[0.7, 0.3] } else { &[1.0] };
    let mut entries = Vec::with_capacity(shares.len());
    for share in shares {
        let (drink, measure) = rng.pick(&choices);
        let per = units_per(drink, measure).unwrap_or(1.0);
        let count = ((units * share / per) * 2.0).round().max(1.0) / 2.0;
        entries.push(DrinkEntry { drink, measure, count });
    }
    entries
}

/// Starts of AHW slots on the 30-minute grid in `[from, until]` inside opening hours
/// (Europe/London): weekdays 09:00–19:00, weekends 10:00–16:00.
fn service_times(from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
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

// ------------------------------------------------------------------------------------------
// SQL text
// ------------------------------------------------------------------------------------------

/// A value written as an SQL literal that both PostgreSQL and SQLite read into the column's
/// type: uuids and times as text (PostgreSQL casts the literal to `uuid` / `timestamptz`; on
/// SQLite they are TEXT in the layout of `db::types`), booleans as TRUE/FALSE.
trait Literal {
    fn write(&self, sql: &mut String);
}

/// Appends `s` as a single-quoted SQL string, doubling quotes. (Generated text only; NUL never
/// occurs.)
fn quote(s: &str, sql: &mut String) {
    sql.push('\'');
    for ch in s.chars() {
        if ch == '\'' {
            sql.push('\'');
        }
        sql.push(ch);
    }
    sql.push('\'');
}

impl Literal for str {
    fn write(&self, sql: &mut String) {
        quote(self, sql);
    }
}

impl Literal for String {
    fn write(&self, sql: &mut String) {
        quote(self, sql);
    }
}

impl<T: Literal + ?Sized> Literal for &T {
    fn write(&self, sql: &mut String) {
        (**self).write(sql);
    }
}

impl<T: Literal> Literal for Option<T> {
    fn write(&self, sql: &mut String) {
        match self {
            Some(v) => v.write(sql),
            None => sql.push_str("NULL"),
        }
    }
}

impl Literal for bool {
    fn write(&self, sql: &mut String) {
        sql.push_str(if *self { "TRUE" } else { "FALSE" });
    }
}

impl Literal for i32 {
    fn write(&self, sql: &mut String) {
        sql.push_str(&self.to_string());
    }
}

impl Literal for f64 {
    fn write(&self, sql: &mut String) {
        if self.is_finite() {
            sql.push_str(&self.to_string());
        } else {
            sql.push_str("NULL");
        }
    }
}

impl Literal for Uuid {
    fn write(&self, sql: &mut String) {
        sql.push('\'');
        let mut buf = Uuid::encode_buffer();
        sql.push_str(self.hyphenated().encode_lower(&mut buf));
        sql.push('\'');
    }
}

impl Literal for DateTime<Utc> {
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as `db::types::DbTime` stores it on SQLite.
    fn write(&self, sql: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(
            sql,
            "'{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z'",
            self.year(),
            self.month(),
            self.day(),
            self.hour(),
            self.minute(),
            self.second(),
            self.timestamp_subsec_micros()
        );
    }
}

impl Literal for NaiveDate {
    fn write(&self, sql: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(sql, "'{:04}-{:02}-{:02}'", self.year(), self.month(), self.day());
    }
}

fn tuple(sql: &mut String, values: &[&dyn Literal]) {
    sql.push('(');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        v.write(sql);
    }
    sql.push(')');
}

fn insert<R>(table: &str, columns: &str, rows: &[R], row: impl Fn(&mut String, &R)) -> String {
    let mut sql = String::with_capacity(64 + rows.len() * 320);
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(columns);
    sql.push_str(") VALUES ");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        row(&mut sql, r);
    }
    sql
}

/// The tables in the order their foreign keys need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    HealthWorkers,
    Attendances,
    Screenings,
    Referrals,
    Slots,
    Bookings,
    Attempts,
    FollowUps,
}

impl Table {
    const ORDER: [Table; 8] = [
        Table::HealthWorkers,
        Table::Attendances,
        Table::Screenings,
        Table::Referrals,
        Table::Slots,
        Table::Bookings,
        Table::Attempts,
        Table::FollowUps,
    ];

    /// Written at the end, latest slot first: SQLite's `slots_no_overlap` trigger scans the
    /// worker's slots that start before the new one, so inserting in time order costs a scan of
    /// all the worker's earlier slots per insert (about 0.4 ms each at a million attendances),
    /// and latest first costs one index probe. Bookings refer to the slots, and the slots to
    /// the health workers.
    fn deferred(self) -> bool {
        matches!(self, Table::HealthWorkers | Table::Slots | Table::Bookings)
    }

    /// Every table this one's rows refer to, directly or not.
    fn ancestors(self) -> &'static [Table] {
        match self {
            Table::HealthWorkers | Table::Attendances => &[],
            Table::Screenings | Table::Referrals | Table::FollowUps => &[Table::Attendances],
            Table::Slots => &[Table::HealthWorkers],
            Table::Bookings => &[Table::HealthWorkers, Table::Attendances, Table::Referrals, Table::Slots],
            Table::Attempts => &[Table::Attendances, Table::Referrals],
        }
    }
}

impl Batch {
    fn len(&self, table: Table) -> usize {
        match table {
            Table::HealthWorkers => self.health_workers.len(),
            Table::Attendances => self.attendances.len(),
            Table::Screenings => self.screenings.len(),
            Table::Referrals => self.referrals.len(),
            Table::Slots => self.slots.len(),
            Table::Bookings => self.bookings.len(),
            Table::Attempts => self.attempts.len(),
            Table::FollowUps => self.follow_ups.len(),
        }
    }

    /// Which tables to write now (all but the deferred ones): every full one (every non-empty
    /// one with `all`) and, first, the tables its rows refer to.
    fn due(&self, all: bool) -> Vec<Table> {
        let mut due = [false; 8];
        for (i, table) in Table::ORDER.iter().enumerate() {
            if table.deferred() {
                continue;
            }
            if self.len(*table) > 0 && (all || self.len(*table) >= BATCH_ROWS) {
                due[i] = true;
                for parent in table.ancestors() {
                    if let Some(j) = Table::ORDER.iter().position(|t| t == parent) {
                        due[j] = true;
                    }
                }
            }
        }
        Table::ORDER
            .iter()
            .zip(due)
            .filter(|(t, d)| *d && self.len(**t) > 0)
            .map(|(t, _)| *t)
            .collect()
    }

    /// The INSERT of the table's waiting rows, at most `max_rows` of them, taken from the end
    /// of the list (so taking a long list in pieces moves nothing).
    fn take_sql(&mut self, table: Table, max_rows: usize, counts: &mut Counts) -> String {
        let n = self.len(table).min(max_rows) as u64;
        fn take<T>(rows: &mut Vec<T>, max: usize) -> Vec<T> {
            if rows.len() <= max {
                std::mem::take(rows)
            } else {
                rows.split_off(rows.len() - max)
            }
        }
        match table {
            Table::HealthWorkers => {
                counts.health_workers += n;
                let rows = take(&mut self.health_workers, max_rows);
                insert(
                    "health_workers",
                    "id, name, staff_id, subject, created_at, created_by",
                    &rows,
                    |sql, r| tuple(sql, &[&r.id, &r.name, &r.staff_id, &r.subject, &r.created_at, &ACTOR]),
                )
            }
            Table::Attendances => {
                counts.attendances += n;
                let rows = take(&mut self.attendances, max_rows);
                insert(
                    "attendances",
                    "id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site, \
                     arrived_at, presenting_condition, presenting_condition_detail, attendance_category, indications, \
                     pat_indicated, created_at, created_by",
                    &rows,
                    |sql, r| {
                        tuple(
                            sql,
                            &[
                                &r.id,
                                &SOURCE_SYSTEM,
                                &r.source_id,
                                &r.patient_key,
                                &r.nhs_number,
                                &r.local_id,
                                &r.sex,
                                &r.date_of_birth,
                                &r.site,
                                &r.arrived_at,
                                &r.presenting_condition,
                                &r.detail,
                                &r.category,
                                &r.indications,
                                &r.pat_indicated,
                                &r.created_at,
                                &ACTOR,
                            ],
                        )
                    },
                )
            }
            Table::Screenings => {
                counts.screenings += n;
                let rows = take(&mut self.screenings, max_rows);
                insert(
                    "screenings",
                    "id, attendance_id, version, status, rule, result, units, answers, alerts, advice_given, \
                     leaflet_given, screened_at, recorded_at, recorded_by",
                    &rows,
                    |sql, r| {
                        tuple(
                            sql,
                            &[
                                &r.id,
                                &r.attendance_id,
                                &1i32,
                                &r.status,
                                &r.rule,
                                &r.result,
                                &r.units,
                                &r.answers,
                                &r.alerts,
                                &r.advice_given,
                                &r.leaflet_given,
                                &r.screened_at,
                                &r.recorded_at,
                                &ACTOR,
                            ],
                        )
                    },
                )
            }
            Table::Referrals => {
                counts.referrals += n;
                let rows = take(&mut self.referrals, max_rows);
                insert(
                    "referrals",
                    "attendance_id, decision, decided_at, recorded_at, recorded_by",
                    &rows,
                    |sql, r| {
                        tuple(
                            sql,
                            &[&r.attendance_id, &r.decision, &r.decided_at, &r.recorded_at, &ACTOR],
                        )
                    },
                )
            }
            Table::Slots => {
                counts.slots += n;
                // Sorted by start before the final phase: the end of the list is the latest, and
                // each statement goes latest first (see `Table::deferred`).
                let mut rows = take(&mut self.slots, max_rows);
                rows.reverse();
                insert(
                    "slots",
                    "id, health_worker_id, starts_at, ends_at, created_at, created_by",
                    &rows,
                    |sql, r| {
                        tuple(
                            sql,
                            &[
                                &r.id,
                                &r.health_worker_id,
                                &r.starts_at,
                                &r.ends_at,
                                &r.created_at,
                                &ACTOR,
                            ],
                        )
                    },
                )
            }
            Table::Bookings => {
                counts.bookings += n;
                let rows = take(&mut self.bookings, max_rows);
                insert(
                    "bookings",
                    "id, attendance_id, slot_id, status, within_window, outside_window_reason, booked_at, booked_by, \
                     outcome_at, outcome_by, brief_intervention_delivered, units_per_week, cancel_reason, lead_time",
                    &rows,
                    |sql, r| {
                        let outcome_by = r.outcome_at.map(|_| ACTOR);
                        tuple(
                            sql,
                            &[
                                &r.id,
                                &r.attendance_id,
                                &r.slot_id,
                                &r.status,
                                &r.within_window,
                                &r.outside_window_reason,
                                &r.booked_at,
                                &ACTOR,
                                &r.outcome_at,
                                &outcome_by,
                                &r.brief_intervention_delivered,
                                &r.units_per_week,
                                &r.cancel_reason,
                                &r.lead_time,
                            ],
                        )
                    },
                )
            }
            Table::Attempts => {
                counts.booking_attempts += n;
                let rows = take(&mut self.attempts, max_rows);
                insert(
                    "booking_attempts",
                    "id, attendance_id, attempted_at, window_ends_at, attempted_by",
                    &rows,
                    |sql, r| {
                        tuple(
                            sql,
                            &[&r.id, &r.attendance_id, &r.attempted_at, &r.window_ends_at, &ACTOR],
                        )
                    },
                )
            }
            Table::FollowUps => {
                counts.follow_ups += n;
                let rows = take(&mut self.follow_ups, max_rows);
                insert(
                    "follow_ups",
                    "id, attendance_id, months, units_per_week, contacted_at, recorded_at, recorded_by",
                    &rows,
                    |sql, r| {
                        tuple(
                            sql,
                            &[
                                &r.id,
                                &r.attendance_id,
                                &r.months,
                                &r.units_per_week,
                                &r.contacted_at,
                                &r.recorded_at,
                                &ACTOR,
                            ],
                        )
                    },
                )
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------

/// What a run wrote.
#[derive(Clone, Debug)]
pub struct Summary {
    pub backend: &'static str,
    pub seed: u64,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub patients: u64,
    pub counts: Counts,
    pub seconds: f64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "demo-data: seed {} on {}: {} patients, arrivals {} to {}",
            self.seed,
            self.backend,
            self.patients,
            self.from.format("%Y-%m-%d"),
            self.until.format("%Y-%m-%d %H:%M:%SZ")
        )?;
        for (table, n) in self.counts.rows() {
            writeln!(f, "  {table:<17} {n:>10}")?;
        }
        let rate = self.counts.total() as f64 / self.seconds.max(1e-9);
        write!(
            f,
            "  {:<17} {:>10} rows in {:.1} s ({:.0} rows/s)",
            "total",
            self.counts.total(),
            self.seconds,
            rate
        )
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Has this seed been loaded (even in part)? Its first attendance's source id, or one of its
/// health workers' staff ids, says: found now, before anything is written.
fn already_loaded(conn: &mut DbConnection, config: &DemoConfig) -> Result<bool, DieselError> {
    let mut sql = String::from("SELECT (SELECT count(*) FROM attendances WHERE source_system = ");
    quote(SOURCE_SYSTEM, &mut sql);
    sql.push_str(" AND source_id = ");
    quote(&config.first_source_id(), &mut sql);
    sql.push_str(") + (SELECT count(*) FROM health_workers WHERE staff_id LIKE ");
    quote(&format!("{}%", staff_id_prefix(config.seed)), &mut sql);
    sql.push_str(") AS n");
    let found: Count = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(sql).get_result(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql).get_result(lite)?,
    };
    Ok(found.n > 0)
}

/// Runs migrations, then generates and writes the demo data ending at `until` (default now),
/// reporting progress through `progress`.
pub fn run(
    database_url: &str,
    rules: PathwayRules,
    config: &DemoConfig,
    until: Option<DateTime<Utc>>,
    mut progress: impl FnMut(&str),
) -> Result<Summary, DemoError> {
    let began = Instant::now();
    let now = Utc::now();
    let until = until.unwrap_or(now);
    if until > now {
        return Err(DemoError::Invalid("--until must not be in the future".into()));
    }
    let manager = db::Manager::new(database_url)?;
    let mut conn = manager.establish()?;
    db::migrate(&mut conn)?;
    let backend = match &mut conn {
        DbConnection::Pg(_) => "PostgreSQL",
        DbConnection::Sqlite(lite) => {
            // A bigger page cache for this one bulk session: the indexes take random inserts.
            lite.batch_execute("PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;")
                .map_err(|source| DemoError::Write { source, committed: 0 })?;
            "SQLite"
        }
    };
    if already_loaded(&mut conn, config).map_err(|source| DemoError::Write { source, committed: 0 })? {
        return Err(DemoError::AlreadyLoaded {
            seed: config.seed,
            source_id: config.first_source_id(),
        });
    }
    let mut generator = Generator::new(config, rules, until);
    progress(&format!(
        "demo-data: seed {}, {} attendances over {} years ({} to {}) into {backend}",
        config.seed,
        config.attendances,
        config.years,
        generator.start.format("%Y-%m-%d"),
        generator.now.format("%Y-%m-%d %H:%M:%SZ"),
    ));
    let mut writer = Writer {
        conn: &mut conn,
        counts: Counts::default(),
        committed: 0,
        in_transaction: false,
    };
    let outcome = writer.fill(&mut generator, config, &began, &mut progress);
    if outcome.is_err() {
        writer.rollback();
    }
    outcome?;
    let counts = writer.counts;
    // A real ED's rows arrive in arrival order, so a year of attendances sits together on disk.
    // The generator writes patient by patient; put the table back in arrival order (PostgreSQL)
    // and refresh the planner's statistics so reports read the data as they would in service.
    progress("demo-data: ordering attendances by arrival and updating planner statistics");
    let tidy = match &conn {
        DbConnection::Pg(_) => "CLUSTER attendances USING attendances_arrived; ANALYZE;",
        DbConnection::Sqlite(_) => "ANALYZE;",
    };
    conn.batch_execute(tidy).map_err(|source| DemoError::Write {
        source,
        committed: counts.attendances,
    })?;
    Ok(Summary {
        backend,
        seed: config.seed,
        from: generator.start,
        until: generator.now,
        patients: generator.attending_patients,
        counts,
        seconds: began.elapsed().as_secs_f64(),
    })
}

struct Writer<'c> {
    conn: &'c mut DbConnection,
    counts: Counts,
    /// Attendances committed so far.
    committed: u64,
    in_transaction: bool,
}

impl Writer<'_> {
    fn error(&self, source: DieselError) -> DemoError {
        match source {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => DemoError::Duplicate {
                detail: info.message().to_owned(),
                committed: self.committed,
            },
            source => DemoError::Write {
                source,
                committed: self.committed,
            },
        }
    }

    fn execute(&mut self, sql: &str) -> Result<(), DemoError> {
        self.conn.batch_execute(sql).map_err(|e| self.error(e))
    }

    fn begin(&mut self) -> Result<(), DemoError> {
        let begin = match self.conn {
            DbConnection::Pg(_) => "BEGIN",
            // Take the write lock first (DESIGN.md §9).
            DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
        };
        self.execute(begin)?;
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), DemoError> {
        self.execute("COMMIT")?;
        self.in_transaction = false;
        self.committed = self.counts.attendances;
        Ok(())
    }

    fn rollback(&mut self) {
        if self.in_transaction {
            // The error that stopped the run is the one reported.
            let _ = self.conn.batch_execute("ROLLBACK");
            self.in_transaction = false;
        }
    }

    fn flush(&mut self, batch: &mut Batch, all: bool) -> Result<(), DemoError> {
        for table in batch.due(all) {
            let sql = batch.take_sql(table, usize::MAX, &mut self.counts);
            self.execute(&sql)?;
        }
        Ok(())
    }

    /// Writes the deferred tables: health workers, then slots latest first, then bookings, in
    /// statements of `BATCH_ROWS` and transactions of about `COMMIT_ROWS` rows.
    fn write_deferred(&mut self, batch: &mut Batch) -> Result<(), DemoError> {
        batch.slots.sort_by_key(|slot| slot.starts_at);
        let mut in_transaction = 0;
        for table in [Table::HealthWorkers, Table::Slots, Table::Bookings] {
            while batch.len(table) > 0 {
                let before = self.counts.total();
                let sql = batch.take_sql(table, BATCH_ROWS, &mut self.counts);
                self.execute(&sql)?;
                in_transaction += self.counts.total() - before;
                if in_transaction >= COMMIT_ROWS {
                    self.commit()?;
                    self.begin()?;
                    in_transaction = 0;
                }
            }
        }
        Ok(())
    }

    fn fill(
        &mut self,
        generator: &mut Generator,
        config: &DemoConfig,
        began: &Instant,
        progress: &mut impl FnMut(&str),
    ) -> Result<(), DemoError> {
        let mut batch = Batch::default();
        let step = (config.attendances / 10).max(1);
        let mut next_report = step;
        self.begin()?;
        while generator.attendances < config.attendances {
            generator.patient(config.attendances - generator.attendances, &mut batch);
            self.flush(&mut batch, false)?;
            if generator.attendances - self.committed >= COMMIT_ATTENDANCES {
                self.flush(&mut batch, true)?;
                self.commit()?;
                if self.committed >= next_report && self.committed < config.attendances {
                    progress(&format!(
                        "demo-data: {} / {} attendances ({:.0}%), {} rows, {:.1} s",
                        self.committed,
                        config.attendances,
                        100.0 * self.committed as f64 / config.attendances as f64,
                        self.counts.total(),
                        began.elapsed().as_secs_f64()
                    ));
                    next_report = (self.committed / step + 1) * step;
                }
                self.begin()?;
            }
        }
        self.flush(&mut batch, true)?;
        progress(&format!(
            "demo-data: {} attendances written, {:.1} s; now {} health workers, {} slots and {} bookings",
            generator.attendances,
            began.elapsed().as_secs_f64(),
            batch.health_workers.len(),
            batch.slots.len(),
            batch.bookings.len()
        ));
        self.write_deferred(&mut batch)?;
        // One audit event for the whole run, no patient key: who loaded what, when.
        let event = format!(
            "seed={} attendances={} years={} until={}",
            config.seed,
            config.attendances,
            config.years,
            generator.now.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let mut sql = String::from(
            "INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id, \
             patient_key, request_id) VALUES ",
        );
        let id = generator.rng.uuid();
        let occurred_at = Utc::now().trunc_subsecs(6);
        tuple(
            &mut sql,
            &[
                &id,
                &occurred_at,
                &ACTOR,
                &"",
                &"create",
                &"demo_data",
                &event,
                &None::<&str>,
                &None::<&str>,
            ],
        );
        self.execute(&sql)?;
        self.counts.audit_events += 1;
        self.commit()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::nhs_number::NhsNumber;
    use std::collections::{HashMap, HashSet};

    fn fixed_now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 14, 30, 0).single().unwrap()
    }

    /// Everything a seed generates for `n` attendances, kept in memory.
    fn generate(seed: u64, n: u64, years: u32) -> (Batch, Generator) {
        let config = DemoConfig::new(n, years, seed).unwrap();
        let mut generator = Generator::new(&config, PathwayRules::default(), fixed_now());
        let mut batch = Batch::default();
        while generator.attendances < n {
            generator.patient(n - generator.attendances, &mut batch);
        }
        (batch, generator)
    }

    #[test]
    fn splitmix_and_xoshiro_match_their_reference_outputs() {
        // SplitMix64 from 0 (reference implementation, Vigna).
        let mut sm = SplitMix64::new(0);
        assert_eq!(sm.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(sm.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        // xoshiro256** from state [1, 2, 3, 4] (reference implementation).
        let mut rng = Rng { s: [1, 2, 3, 4] };
        let first: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [11520, 0, 1509978240, 1215971899390074240]);
    }

    #[test]
    fn rng_helpers_stay_in_range() {
        let mut rng = Rng::from_seed(7);
        for _ in 0..10_000 {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.below(10) < 10);
            let b = rng.between(-3, 3);
            assert!((-3..=3).contains(&b));
        }
        let mean_exp: f64 = (0..20_000).map(|_| rng.exponential(2.0)).sum::<f64>() / 20_000.0;
        assert!((1.9..2.1).contains(&mean_exp), "exponential mean {mean_exp}");
    }

    #[test]
    fn uuids_are_version_4_and_determined_by_the_seed() {
        let mut a = Rng::from_seed(42);
        let mut b = Rng::from_seed(42);
        let mut c = Rng::from_seed(43);
        for _ in 0..100 {
            let u = a.uuid();
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(u, b.uuid());
            assert_ne!(u, c.uuid());
        }
    }

    #[test]
    fn nhs_numbers_are_valid_distinct_and_in_the_test_range() {
        // Known check digits (DOMAIN.md §9 examples).
        assert_eq!(nhs_check_digit(943_476_591), Some(9));
        assert_eq!(nhs_check_digit(401_023_213), Some(7));
        assert_eq!(nhs_check_digit(6), None);
        assert_eq!(nhs_check_digit(14), Some(0));
        let mut numbers = NhsNumbers::new(&mut Rng::from_seed(3));
        let mut seen = HashSet::new();
        for _ in 0..50_000 {
            let n = numbers.next_number();
            assert!(NhsNumber::parse(&n).is_ok(), "{n} is not a valid NHS number");
            assert!(n.starts_with("999"), "{n} is outside the test range");
            assert!(seen.insert(n), "duplicate NHS number");
        }
    }

    #[test]
    fn the_config_refuses_absurd_requests() {
        assert!(DemoConfig::new(0, 5, 1).is_err());
        assert!(DemoConfig::new(MAX_ATTENDANCES + 1, 5, 1).is_err());
        assert!(DemoConfig::new(1000, 0, 1).is_err());
        assert!(DemoConfig::new(1000, 21, 1).is_err());
        assert!(DemoConfig::new(MAX_ATTENDANCES, 20, 1).is_ok());
        assert_eq!(DemoConfig::new(1, 1, 9).unwrap().first_source_id(), "demo-9-00000001");
    }

    #[test]
    fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
        let (a, _) = generate(11, 3000, 3);
        let (b, _) = generate(11, 3000, 3);
        let (c, _) = generate(12, 3000, 3);
        assert_eq!(a, b);
        assert_ne!(a.attendances, c.attendances);
        assert_eq!(a.attendances.len(), 3000);
    }

    #[test]
    fn quoting_doubles_single_quotes() {
        let mut sql = String::new();
        quote("O'Brien's", &mut sql);
        assert_eq!(sql, "'O''Brien''s'");
        let mut sql = String::new();
        tuple(
            &mut sql,
            &[
                &Some(1.5f64),
                &None::<&str>,
                &true,
                &fixed_now(),
                &NaiveDate::from_ymd_opt(1980, 2, 3).unwrap(),
            ],
        );
        assert_eq!(sql, "(1.5,NULL,TRUE,'2026-03-15T14:30:00.000000Z','1980-02-03')");
    }

    #[test]
    fn flushing_writes_parents_before_children() {
        let (mut batch, _) = generate(5, 2000, 2);
        assert!(!batch.slots.is_empty() && !batch.bookings.is_empty());
        // Slots, bookings and health workers wait for the end.
        assert_eq!(
            batch.due(true),
            [
                Table::Attendances,
                Table::Screenings,
                Table::Referrals,
                Table::Attempts,
                Table::FollowUps
            ]
        );
        // Only attempts are "full": the attendances and referrals they refer to go first.
        batch
            .attempts
            .extend(std::iter::repeat_n(batch.attempts[0].clone(), BATCH_ROWS));
        batch.attendances.truncate(10);
        batch.screenings.truncate(10);
        assert_eq!(
            batch.due(false),
            [Table::Attendances, Table::Referrals, Table::Attempts]
        );
        // Taken in pieces from the end, slots go latest first within each statement.
        batch.slots.sort_by_key(|s| s.starts_at);
        let latest = batch.slots.last().unwrap().id;
        let mut counts = Counts::default();
        let sql = batch.take_sql(Table::Slots, 2, &mut counts);
        assert_eq!(counts.slots, 2);
        assert!(sql.starts_with(&format!(
            "INSERT INTO slots (id, health_worker_id, starts_at, ends_at, created_at, created_by) VALUES ('{latest}'"
        )));
    }

    /// 12-month reattendance (DOMAIN.md §7): index = each patient's first positive attendance
    /// with a referral decision; patients whose 365 days have not ended are left out. Accepting
    /// lowers the patient's later rate, so the accepted cohort reattends less (Crawford 2004).
    /// 100k attendances: the cohorts of 20k are too small for a heavy-tailed rate.
    #[test]
    fn accepting_a_referral_lowers_twelve_month_reattendance() {
        let (batch, generator) = generate(2026, 100_000, 5);
        let decisions: HashMap<Uuid, &str> = batch.referrals.iter().map(|r| (r.attendance_id, r.decision)).collect();
        let mut by_patient: HashMap<&str, Vec<&AttendanceRow>> = HashMap::new();
        for a in &batch.attendances {
            by_patient.entry(&a.patient_key).or_default().push(a);
        }
        // (patients, reattendances) for accepted (with seen in department) and declined.
        let mut cohorts: HashMap<bool, (u32, u32)> = HashMap::new();
        for visits in by_patient.values_mut() {
            visits.sort_by_key(|a| a.arrived_at);
            let Some(index) = visits.iter().find(|a| decisions.contains_key(&a.id)) else {
                continue;
            };
            let window_end = index.arrived_at + Duration::days(365);
            if window_end > generator.now {
                continue;
            }
            let later = visits
                .iter()
                .filter(|a| a.arrived_at > index.arrived_at && a.arrived_at <= window_end)
                .count();
            let entry = cohorts.entry(decisions[&index.id] != "declined").or_default();
            entry.0 += 1;
            entry.1 += later as u32;
        }
        let mean = |(n, r): (u32, u32)| f64::from(r) / f64::from(n);
        let (accepted, declined) = (mean(cohorts[&true]), mean(cohorts[&false]));
        println!(
            "12-month reattendance: accepted {accepted:.2} ({:?}), declined {declined:.2} ({:?})",
            cohorts[&true], cohorts[&false]
        );
        assert!(accepted < declined, "accepted {accepted} vs declined {declined}");
    }

    /// Proportions on 20k attendances, the way DOMAIN.md §7 counts them.
    #[test]
    fn twenty_thousand_attendances_look_like_an_ed() {
        let mut failures: Vec<String> = Vec::new();
        macro_rules! check {
            ($cond:expr, $($msg:tt)+) => {
                let holds: bool = $cond;
                if !holds {
                    failures.push(format!($($msg)+));
                }
            };
            ($cond:expr) => {
                let holds: bool = $cond;
                if !holds {
                    failures.push(stringify!($cond).to_owned());
                }
            };
        }
        let (batch, generator) = generate(2026, 20_000, 5);
        let now = generator.now;
        let start = generator.start;
        let att: HashMap<Uuid, &AttendanceRow> = batch.attendances.iter().map(|a| (a.id, a)).collect();
        assert_eq!(att.len(), 20_000);

        // Times: inside the period, never in the future.
        for a in &batch.attendances {
            check!(a.arrived_at >= start && a.arrived_at <= now);
            check!(a.created_at >= a.arrived_at && a.created_at <= now);
            check!(
                a.patient_key == format!("nhs:{}", a.nhs_number.clone().unwrap_or_default())
                    || (a.nhs_number.is_none() && a.patient_key == format!("local:{}", a.local_id.clone().unwrap()))
            );
            assert_eq!(a.pat_indicated, !a.indications.is_empty());
        }
        let with_nhs = batch.attendances.iter().filter(|a| a.nhs_number.is_some()).count() as f64 / 20_000.0;
        check!((0.8..0.95).contains(&with_nhs), "NHS number share {with_nhs}");
        let other = batch
            .attendances
            .iter()
            .filter(|a| a.presenting_condition == "other")
            .count() as f64
            / 20_000.0;
        check!((0.4..0.6).contains(&other), "other share {other}");
        let planned = batch.attendances.iter().filter(|a| a.category == "planned").count() as f64 / 20_000.0;
        check!((0.03..0.08).contains(&planned), "planned share {planned}");

        // Indications recomputed from each patient's history, as the service derives them.
        let mut by_patient: HashMap<&str, Vec<&AttendanceRow>> = HashMap::new();
        for a in &batch.attendances {
            by_patient.entry(&a.patient_key).or_default().push(a);
        }
        let once = by_patient.values().filter(|v| v.len() == 1).count() as f64 / by_patient.len() as f64;
        check!(once > 0.5, "most patients attend once ({once})");
        for visits in by_patient.values_mut() {
            visits.sort_by_key(|a| a.arrived_at);
            for (i, a) in visits.iter().enumerate() {
                let since = a.arrived_at - Duration::days(365);
                let prior = visits[..i]
                    .iter()
                    .filter(|b| b.arrived_at >= since && b.arrived_at < a.arrived_at)
                    .count();
                let condition = PresentingCondition::from_code(a.presenting_condition).unwrap();
                let expected = eligibility::indications(condition, prior as u32, 1)
                    .iter()
                    .map(|c| c.code())
                    .collect::<Vec<_>>()
                    .join(",");
                assert_eq!(a.indications, expected);
            }
        }

        // Screenings: stored result, units and alerts are what the rule gives.
        let mut completed = 0;
        let mut positive = 0;
        let mut eligible_with_row = 0;
        for s in &batch.screenings {
            let a = att[&s.attendance_id];
            check!(s.screened_at >= a.arrived_at && s.screened_at <= now);
            if a.pat_indicated {
                eligible_with_row += 1;
            }
            if s.status == "completed" {
                let answers: Answers = serde_json::from_str(s.answers.as_deref().unwrap()).unwrap();
                let score = pat::score(PatRule::Pat2009, Sex::from_code(a.sex).unwrap(), &answers).unwrap();
                assert_eq!(s.result, Some(score.result.code()));
                assert_eq!(s.units, score.units);
                assert_eq!(
                    s.alerts,
                    score.alerts.iter().map(|x| x.code()).collect::<Vec<_>>().join(",")
                );
                if a.pat_indicated {
                    completed += 1;
                    if s.result == Some("positive") {
                        positive += 1;
                    }
                }
            } else {
                check!(s.result.is_none() && s.answers.is_none());
            }
        }
        let eligible = batch.attendances.iter().filter(|a| a.pat_indicated).count();
        let repeat = batch
            .attendances
            .iter()
            .filter(|a| a.indications.contains("repeat_attender"))
            .count();
        println!(
            "eligible share {:.3}, repeat attender share {:.3}",
            eligible as f64 / 20_000.0,
            repeat as f64 / 20_000.0
        );
        let screening_rate = completed as f64 / eligible as f64;
        check!((0.65..0.8).contains(&screening_rate), "screening rate {screening_rate}");
        check!(
            eligible_with_row < eligible,
            "some eligible attendances have no screening row"
        );
        let positive_rate = positive as f64 / completed as f64;
        check!(
            (0.18..0.26).contains(&positive_rate),
            "positive share of completed {positive_rate}"
        );

        // Referrals: about two thirds accept.
        let decisions: HashMap<Uuid, &ReferralRow> = batch.referrals.iter().map(|r| (r.attendance_id, r)).collect();
        let offered = batch.referrals.len() as f64;
        let accepted = batch.referrals.iter().filter(|r| r.decision == "accepted").count() as f64;
        let seen = batch
            .referrals
            .iter()
            .filter(|r| r.decision == "seen_in_department")
            .count() as f64;
        check!(
            (0.6..0.72).contains(&(accepted / offered)),
            "accepted {}",
            accepted / offered
        );
        check!((0.6..0.75).contains(&((accepted + seen) / offered)), "acceptance rate");

        // Bookings: only for accepted referrals, after the screening, mostly within 24 h.
        let screened_at: HashMap<Uuid, DateTime<Utc>> = batch
            .screenings
            .iter()
            .map(|s| (s.attendance_id, s.screened_at))
            .collect();
        let slots: HashMap<Uuid, &SlotRow> = batch.slots.iter().map(|s| (s.id, s)).collect();
        assert_eq!(slots.len(), batch.bookings.len(), "a slot per booking");
        let mut within = 0;
        let mut outcomes: HashMap<&str, (u32, u32)> = HashMap::new();
        for b in &batch.bookings {
            assert_eq!(decisions[&b.attendance_id].decision, "accepted");
            let slot = slots[&b.slot_id];
            let screened = screened_at[&b.attendance_id];
            check!(slot.starts_at > screened && slot.starts_at > b.booked_at);
            assert_eq!(b.lead_time, LeadTime::between(screened, slot.starts_at).code());
            assert_eq!(b.within_window, slot.starts_at <= screened + Duration::hours(24));
            assert_eq!(b.within_window, b.outside_window_reason.is_none());
            check!(b.booked_at <= now && b.outcome_at.is_none_or(|t| t <= now));
            if b.status == "booked" {
                check!(b.outcome_at.is_none());
            }
            if b.within_window {
                within += 1;
            }
            let entry = outcomes.entry(b.lead_time).or_default();
            match b.status {
                "attended" => entry.0 += 1,
                "did_not_attend" => entry.1 += 1,
                _ => {}
            }
        }
        check!(
            within as f64 / batch.bookings.len() as f64 > 0.8,
            "mostly within the window"
        );
        let rate = |(a, d): (u32, u32)| f64::from(a) / f64::from(a + d);
        let all = outcomes.values().fold((0, 0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
        let attendance = rate(all);
        check!((0.29..0.5).contains(&attendance), "AHW attendance {attendance}");
        let same_day = rate(outcomes["same_day"]);
        let later = rate((
            outcomes["next_day"].0 + outcomes["later"].0,
            outcomes["next_day"].1 + outcomes["later"].1,
        ));
        check!(same_day > 2.0 * later, "same day {same_day} vs later {later}");
        let cancelled = batch.bookings.iter().filter(|b| b.status == "cancelled").count() as f64;
        check!(cancelled / (batch.bookings.len() as f64) < 0.1);

        // A health worker never has two slots at once.
        let mut taken = HashSet::new();
        for s in &batch.slots {
            check!(taken.insert((s.health_worker_id, s.starts_at)), "overlapping slots");
            assert_eq!(s.ends_at - s.starts_at, Duration::minutes(30));
            assert_eq!(s.starts_at.timestamp() % 1800, 0);
        }
        let workers: HashSet<Uuid> = batch.health_workers.iter().map(|w| w.id).collect();
        check!(batch.slots.iter().all(|s| workers.contains(&s.health_worker_id)));
        check!(!batch.attempts.is_empty() && !batch.follow_ups.is_empty());

        // 7-day unplanned reattendance: a plausible ED figure.
        let mut followed = 0;
        for visits in by_patient.values() {
            for (i, a) in visits.iter().enumerate() {
                if visits[i + 1..].iter().any(|b| {
                    b.category == "unplanned"
                        && b.arrived_at > a.arrived_at
                        && b.arrived_at <= a.arrived_at + Duration::days(7)
                }) {
                    followed += 1;
                }
            }
        }
        let seven_day = followed as f64 / 20_000.0;
        check!((0.02..0.12).contains(&seven_day), "7-day reattendance {seven_day}");
        println!(
            "eligible {eligible}, screening {screening_rate:.3}, positive {positive_rate:.3}, accepted {:.3}, \
             AHW attendance {attendance:.3} (same day {same_day:.3}, later {later:.3}), 7-day {seven_day:.3}, patients {}, once {once:.2}",
            accepted / offered,
            by_patient.len()
        );
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
