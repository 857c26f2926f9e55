//! The response bodies that several resources share: an attendance with its screening,
//! referral and bookings; a screening; a referral decision; a booking, alone or with its
//! patient. Each is built from what a store returns; none reads the database.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::attendance::AttendanceCategory;
use crate::domain::eligibility::PresentingCondition;
use crate::domain::pat::{self, next_steps_for, Alert, Answers, NextStep, PatResult, PatRule, ScreeningStatus, Sex};
use crate::domain::scheduling::{BookingStatus, LeadTime, OutsideWindowReason, ReferralDecision};
use crate::store::attendances::{Attendance, AttendanceRecord};
use crate::store::scheduling::bookings::OutcomeVersion;
use crate::store::scheduling::referrals::{ReferralHistory, ReferralVersion};
use crate::store::scheduling::BookingListing;
use crate::store::screenings::Screening;

/// The patient as the attendance arrived with them. `id` is the patient's registry id (of the
/// identifiers the attendance arrived with, `GET /api/v1/patients/{id}`): it never changes, a
/// link changes only who the patient is one person with.
#[derive(Serialize, ToSchema, Debug)]
pub struct PatientView {
    pub id: uuid::Uuid,
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
    /// The hospital system that assigned `local_id`, when the EPR said.
    pub local_id_system: Option<String>,
    pub sex: Sex,
    pub date_of_birth: Option<NaiveDate>,
}

impl From<&Attendance> for PatientView {
    fn from(row: &Attendance) -> PatientView {
        PatientView {
            id: row.patient_id.0,
            nhs_number: row.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
            local_id: row.local_id.clone(),
            local_id_system: row.local_id_system.clone(),
            sex: row.sex,
            date_of_birth: row.date_of_birth,
        }
    }
}

/// An attendance with what the nurse was told (`pat_indicated`, `indications`) and its PAT
/// screening.
#[derive(Serialize, ToSchema, Debug)]
pub struct AttendanceView {
    pub id: uuid::Uuid,
    pub source_system: String,
    pub source_id: String,
    pub patient: PatientView,
    pub site: Option<String>,
    pub arrived_at: DateTime<Utc>,
    pub presenting_condition: PresentingCondition,
    pub presenting_condition_detail: Option<String>,
    /// The ECDS chief complaint (SNOMED CT) the attendance arrived with, if any.
    pub presenting_condition_snomed: Option<String>,
    /// The version of the trust's chief complaint table that read the code (`sha256:` and 16 hex
    /// digits of the table file), present with the code.
    pub presenting_condition_map_version: Option<String>,
    pub attendance_category: AttendanceCategory,
    /// Whether the PAT is indicated: one of the ten conditions, or a repeat attender, and the
    /// patient not under `PAT_MIN_AGE` (default 16) on the day of arrival.
    pub pat_indicated: bool,
    /// The attendance has an indication but the patient was under `PAT_MIN_AGE` on the day of
    /// arrival (from the date of birth), so the PAT is not indicated. Always `false` without a
    /// date of birth.
    pub under_min_age: bool,
    /// Fixed when the attendance was recorded: the recorded condition if it is one of the ten,
    /// then `repeat_attender` when the patient had enough earlier attendances (docs/domain.md §2).
    pub indications: Vec<PresentingCondition>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    /// The current screening, if any.
    pub screening: Option<ScreeningView>,
    /// Earlier versions of the screening, newest first: corrections keep what they replaced.
    pub previous_screenings: Vec<ScreeningView>,
    /// The patient's decision on the AHW offer, if recorded (the current version, with the
    /// earlier ones).
    pub referral: Option<ReferralView>,
    /// Every booking of the referral, newest first, each with its earlier outcomes.
    pub bookings: Vec<BookingView>,
    /// `current`, or `entered_in_error`: recorded by mistake and marked so. A marked attendance
    /// stays readable but counts in no statistic and no repeat-attender count.
    pub record_status: RecordStatus,
    /// Who marked it entered-in-error, when and why; null while current.
    pub entered_in_error: Option<EnteredInErrorView>,
}

/// Whether a record stands or was entered in error (FHIR's `entered-in-error`).
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Current,
    EnteredInError,
}

/// The mark on an attendance entered in error.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct EnteredInErrorView {
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
}

impl EnteredInErrorView {
    fn of(row: &Attendance) -> Option<EnteredInErrorView> {
        Some(EnteredInErrorView {
            at: row.entered_in_error_at?.get(),
            by: row.entered_in_error_by.clone()?,
            reason: row.entered_in_error_reason.clone()?,
        })
    }
}

impl From<&AttendanceRecord> for AttendanceView {
    fn from(record: &AttendanceRecord) -> AttendanceView {
        let row = &record.attendance;
        // Screenings are newest first: the first is the current one.
        let mut screenings = record.screenings.iter().map(ScreeningView::from);
        let screening = screenings.next();
        let screened_at = record.screenings.first().map(|s| s.screened_at.get());
        AttendanceView {
            id: row.id.0,
            source_system: row.source_system.clone(),
            source_id: row.source_id.clone(),
            patient: PatientView::from(row),
            site: row.site.clone(),
            arrived_at: row.arrived_at.get(),
            presenting_condition: row.presenting_condition,
            presenting_condition_detail: row.presenting_condition_detail.clone(),
            presenting_condition_snomed: row.presenting_condition_snomed.clone(),
            presenting_condition_map_version: row.presenting_condition_map_version.clone(),
            attendance_category: row.attendance_category,
            pat_indicated: row.pat_indicated,
            under_min_age: !row.pat_indicated && !row.indications.is_empty(),
            indications: row.indications.to_vec(),
            recorded_at: row.created_at.get(),
            recorded_by: row.created_by.clone(),
            screening,
            previous_screenings: screenings.collect(),
            referral: record.referral.as_ref().map(ReferralView::from),
            bookings: match screened_at {
                Some(screened_at) => record
                    .bookings
                    .iter()
                    .map(|listing| BookingView::new(listing, screened_at, &record.earlier_outcomes))
                    .collect(),
                None => vec![],
            },
            record_status: if row.entered_in_error_at.is_some() {
                RecordStatus::EnteredInError
            } else {
                RecordStatus::Current
            },
            entered_in_error: EnteredInErrorView::of(row),
        }
    }
}

/// A recorded screening with its result and what to do next.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ScreeningView {
    pub attendance_id: uuid::Uuid,
    /// 1 for the first recording; each correction adds one.
    pub version: i32,
    pub status: ScreeningStatus,
    /// `positive` or `negative`; null when the PAT was not completed.
    pub result: Option<PatResult>,
    /// The rule that produced the result; null when not completed.
    pub rule: Option<PatRule>,
    /// Most units in one day, given or computed from `drinks`; null when none.
    pub units: Option<f64>,
    pub alerts: Vec<Alert>,
    /// In order: `give_advice`, `offer_leaflet`, `offer_ahw_appointment` when positive.
    pub next_steps: Vec<NextStep>,
    /// The feedback wording to use when positive (docs/domain.md §3).
    pub feedback: Option<String>,
    pub answers: Option<Answers>,
    pub advice_given: Option<bool>,
    pub leaflet_given: Option<bool>,
    pub screened_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

impl From<&Screening> for ScreeningView {
    fn from(row: &Screening) -> ScreeningView {
        ScreeningView {
            attendance_id: row.attendance_id.0,
            version: row.version,
            status: row.status,
            result: row.result,
            rule: row.rule,
            units: row.units,
            alerts: row.alerts.to_vec(),
            next_steps: next_steps_for(row.result),
            feedback: (row.result == Some(PatResult::Positive)).then(|| pat::POSITIVE_FEEDBACK.to_owned()),
            answers: row.answers.as_ref().map(|a| a.0.clone()),
            advice_given: row.advice_given,
            leaflet_given: row.leaflet_given,
            screened_at: row.screened_at.get(),
            recorded_at: row.recorded_at.get(),
            recorded_by: row.recorded_by.clone(),
        }
    }
}

/// A referral decision: the current version, with the earlier ones a correction replaced.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ReferralView {
    pub attendance_id: uuid::Uuid,
    /// 1 for the first decision; each correction adds one.
    pub version: i32,
    pub decision: ReferralDecision,
    pub decided_at: DateTime<Utc>,
    /// When, and by whom, this version was recorded.
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    /// Why this version corrected the one before; null for the first.
    pub correction_reason: Option<String>,
    /// Seen in the department: the AHW who saw the patient. Null for the other decisions, and
    /// for a `seen_in_department` recorded before these details were asked for.
    pub health_worker_id: Option<uuid::Uuid>,
    /// Seen in the department: whether the brief intervention was delivered.
    pub brief_intervention_delivered: Option<bool>,
    /// Seen in the department: units a week at the contact.
    pub units_per_week: Option<f64>,
    /// The versions this one replaced, newest first, as they were recorded.
    pub earlier_versions: Vec<ReferralVersionView>,
}

/// An earlier version of a referral decision.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ReferralVersionView {
    pub version: i32,
    pub decision: ReferralDecision,
    pub decided_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub correction_reason: Option<String>,
    /// Seen in the department: the AHW who saw the patient. Null for the other decisions, and
    /// for a `seen_in_department` recorded before these details were asked for.
    pub health_worker_id: Option<uuid::Uuid>,
    /// Seen in the department: whether the brief intervention was delivered.
    pub brief_intervention_delivered: Option<bool>,
    /// Seen in the department: units a week at the contact.
    pub units_per_week: Option<f64>,
}

impl From<&ReferralVersion> for ReferralVersionView {
    fn from(row: &ReferralVersion) -> ReferralVersionView {
        ReferralVersionView {
            version: row.version,
            decision: row.decision,
            decided_at: row.decided_at.get(),
            recorded_at: row.recorded_at.get(),
            recorded_by: row.recorded_by.clone(),
            correction_reason: row.correction_reason.clone(),
            health_worker_id: row.health_worker_id.map(|id| id.0),
            brief_intervention_delivered: row.brief_intervention_delivered,
            units_per_week: row.units_per_week,
        }
    }
}

impl From<&ReferralHistory> for ReferralView {
    fn from(history: &ReferralHistory) -> ReferralView {
        let row = &history.current;
        ReferralView {
            attendance_id: row.attendance_id.0,
            version: row.version,
            decision: row.decision,
            decided_at: row.decided_at.get(),
            recorded_at: row.recorded_at.get(),
            recorded_by: row.recorded_by.clone(),
            correction_reason: row.correction_reason.clone(),
            health_worker_id: row.health_worker_id.map(|id| id.0),
            brief_intervention_delivered: row.brief_intervention_delivered,
            units_per_week: row.units_per_week,
            earlier_versions: history.earlier.iter().map(ReferralVersionView::from).collect(),
        }
    }
}

/// An appointment.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct BookingView {
    pub id: uuid::Uuid,
    pub attendance_id: uuid::Uuid,
    pub slot_id: uuid::Uuid,
    pub health_worker_id: uuid::Uuid,
    pub health_worker_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: BookingStatus,
    /// FHIR Appointment status: booked, fulfilled, noshow, cancelled.
    pub fhir_status: String,
    /// Same day, next day or later than the screening (Europe/London days): same-day
    /// appointments are six times more likely to be attended.
    pub lead_time: LeadTime,
    /// Whether the slot starts within `PAT_BOOKING_WINDOW_HOURS` of the screening.
    pub within_window: bool,
    pub outside_window_reason: Option<OutsideWindowReason>,
    pub booked_at: DateTime<Utc>,
    pub booked_by: String,
    pub brief_intervention_delivered: Option<bool>,
    pub units_per_week: Option<f64>,
    pub cancel_reason: Option<String>,
    pub cancelled_by: Option<String>,
    pub outcome_at: Option<DateTime<Utc>>,
    pub outcome_by: Option<String>,
    /// 1 until the outcome is corrected; each correction adds one.
    pub version: i32,
    /// Why this outcome corrected the one before; null for the first.
    pub correction_reason: Option<String>,
    /// The outcomes this one replaced, newest first, as they were recorded.
    pub earlier_outcomes: Vec<OutcomeVersionView>,
}

/// An earlier outcome of a booking.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct OutcomeVersionView {
    pub version: i32,
    pub status: BookingStatus,
    pub brief_intervention_delivered: Option<bool>,
    pub units_per_week: Option<f64>,
    pub cancel_reason: Option<String>,
    pub outcome_at: DateTime<Utc>,
    pub outcome_by: String,
    pub correction_reason: Option<String>,
}

impl From<&OutcomeVersion> for OutcomeVersionView {
    fn from(row: &OutcomeVersion) -> OutcomeVersionView {
        OutcomeVersionView {
            version: row.version,
            status: row.status,
            brief_intervention_delivered: row.brief_intervention_delivered,
            units_per_week: row.units_per_week,
            cancel_reason: row.cancel_reason.clone(),
            outcome_at: row.outcome_at.get(),
            outcome_by: row.outcome_by.clone(),
            correction_reason: row.correction_reason.clone(),
        }
    }
}

impl BookingView {
    /// The booking, its lead time counted from the screening at `screened_at`, with those of
    /// `earlier` (earlier outcomes of any bookings) that are its own, newest first.
    pub fn new(listing: &BookingListing, screened_at: DateTime<Utc>, earlier: &[OutcomeVersion]) -> BookingView {
        let (booking, slot, worker_name) = listing;
        let mut earlier_outcomes: Vec<&OutcomeVersion> =
            earlier.iter().filter(|v| v.booking_id == booking.id).collect();
        earlier_outcomes.sort_by_key(|v| std::cmp::Reverse(v.version));
        BookingView {
            id: booking.id.0,
            attendance_id: booking.attendance_id.0,
            slot_id: slot.id.0,
            health_worker_id: slot.health_worker_id.0,
            health_worker_name: worker_name.clone(),
            starts_at: slot.starts_at.get(),
            ends_at: slot.ends_at.get(),
            status: booking.status,
            fhir_status: booking.status.fhir_status().to_owned(),
            lead_time: LeadTime::between(screened_at, slot.starts_at.get()),
            within_window: booking.within_window,
            outside_window_reason: booking.outside_window_reason,
            booked_at: booking.booked_at.get(),
            booked_by: booking.booked_by.clone(),
            brief_intervention_delivered: booking.brief_intervention_delivered,
            units_per_week: booking.units_per_week,
            cancel_reason: booking.cancel_reason.clone(),
            cancelled_by: (booking.status == BookingStatus::Cancelled)
                .then(|| booking.outcome_by.clone())
                .flatten(),
            outcome_at: booking.outcome_at.map(|t| t.get()),
            outcome_by: booking.outcome_by.clone(),
            version: booking.version,
            correction_reason: booking.correction_reason.clone(),
            earlier_outcomes: earlier_outcomes.into_iter().map(OutcomeVersionView::from).collect(),
        }
    }
}

/// The screening as an AHW needs it at the appointment.
#[derive(Serialize, ToSchema, Debug)]
pub struct ScreeningSummary {
    pub result: Option<PatResult>,
    pub rule: Option<PatRule>,
    pub units: Option<f64>,
    pub answers: Option<Answers>,
    pub alerts: Vec<Alert>,
    pub screened_at: DateTime<Utc>,
}

/// A booking with who the patient is and why they were referred.
#[derive(Serialize, ToSchema, Debug)]
pub struct BookingItem {
    #[serde(flatten)]
    pub booking: BookingView,
    pub patient: PatientView,
    pub presenting_condition: PresentingCondition,
    pub indications: Vec<PresentingCondition>,
    pub screening: Option<ScreeningSummary>,
}

impl BookingItem {
    /// The booking with its earlier outcomes, its attendance and the attendance's current
    /// screening.
    pub fn new(
        listing: &BookingListing,
        earlier: &[OutcomeVersion],
        attendance: &Attendance,
        screening: Option<&Screening>,
    ) -> BookingItem {
        let screened_at = screening.map_or(listing.0.booked_at.get(), |s| s.screened_at.get());
        BookingItem {
            booking: BookingView::new(listing, screened_at, earlier),
            patient: PatientView::from(attendance),
            presenting_condition: attendance.presenting_condition,
            indications: attendance.indications.to_vec(),
            screening: screening.map(|s| ScreeningSummary {
                result: s.result,
                rule: s.rule,
                units: s.units,
                answers: s.answers.as_ref().map(|a| a.0.clone()),
                alerts: s.alerts.to_vec(),
                screened_at: s.screened_at.get(),
            }),
        }
    }
}
