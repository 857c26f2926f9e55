//! The rows the generator makes and the writer inserts, one struct per table, and the counts of
//! rows written.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct AttendanceRow {
    pub(super) id: Uuid,
    pub(super) source_id: String,
    pub(super) patient_key: String,
    pub(super) nhs_number: Option<String>,
    pub(super) local_id: Option<String>,
    pub(super) sex: &'static str,
    pub(super) date_of_birth: Option<NaiveDate>,
    pub(super) site: &'static str,
    pub(super) arrived_at: DateTime<Utc>,
    pub(super) presenting_condition: &'static str,
    pub(super) detail: Option<&'static str>,
    pub(super) category: &'static str,
    pub(super) indications: String,
    pub(super) pat_indicated: bool,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct ScreeningRow {
    pub(super) id: Uuid,
    pub(super) attendance_id: Uuid,
    pub(super) status: &'static str,
    pub(super) rule: Option<&'static str>,
    pub(super) result: Option<&'static str>,
    pub(super) units: Option<f64>,
    pub(super) answers: Option<String>,
    pub(super) alerts: String,
    pub(super) advice_given: Option<bool>,
    pub(super) leaflet_given: Option<bool>,
    pub(super) screened_at: DateTime<Utc>,
    pub(super) recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct ReferralRow {
    pub(super) attendance_id: Uuid,
    pub(super) decision: &'static str,
    pub(super) decided_at: DateTime<Utc>,
    pub(super) recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct HealthWorkerRow {
    pub(super) id: Uuid,
    pub(super) name: String,
    pub(super) staff_id: String,
    pub(super) subject: String,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct SlotRow {
    pub(super) id: Uuid,
    pub(super) health_worker_id: Uuid,
    pub(super) starts_at: DateTime<Utc>,
    pub(super) ends_at: DateTime<Utc>,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct BookingRow {
    pub(super) id: Uuid,
    pub(super) attendance_id: Uuid,
    pub(super) slot_id: Uuid,
    pub(super) status: &'static str,
    pub(super) within_window: bool,
    pub(super) outside_window_reason: Option<&'static str>,
    pub(super) booked_at: DateTime<Utc>,
    pub(super) outcome_at: Option<DateTime<Utc>>,
    pub(super) brief_intervention_delivered: Option<bool>,
    pub(super) units_per_week: Option<f64>,
    pub(super) cancel_reason: Option<&'static str>,
    pub(super) lead_time: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct AttemptRow {
    pub(super) id: Uuid,
    pub(super) attendance_id: Uuid,
    pub(super) attempted_at: DateTime<Utc>,
    pub(super) window_ends_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct FollowUpRow {
    pub(super) id: Uuid,
    pub(super) attendance_id: Uuid,
    pub(super) months: i32,
    pub(super) units_per_week: f64,
    pub(super) contacted_at: DateTime<Utc>,
    pub(super) recorded_at: DateTime<Utc>,
}

/// Rows waiting to be written, one list per table.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Batch {
    pub(super) health_workers: Vec<HealthWorkerRow>,
    pub(super) attendances: Vec<AttendanceRow>,
    pub(super) screenings: Vec<ScreeningRow>,
    pub(super) referrals: Vec<ReferralRow>,
    pub(super) slots: Vec<SlotRow>,
    pub(super) bookings: Vec<BookingRow>,
    pub(super) attempts: Vec<AttemptRow>,
    pub(super) follow_ups: Vec<FollowUpRow>,
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
        self.rows().iter().map(|(_, rows)| rows).sum()
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
