//! AHW appointment rules (docs/domain.md §6): the booking window, lead time, appointment states and
//! rotas; when a referral decision, a booking, an outcome and a follow-up are allowed, and the
//! answers (`Refusal`) when they are not. Calendar days and clock times are Europe/London,
//! whatever the server's time zone.
//!
//! The stores call the rules that depend on what is stored, in docs/design.md §4's order (existence,
//! then state conflicts, then rules of time); the handlers call the ones on the request alone.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::attendance::{attendance_entered_in_error, no_attendance};
use super::calendar::{london_date, london_instant, london_midnight};
use super::pat::{PatResult, ScreeningStatus};
use super::{in_the_future, EventTime, FieldError, Refusal};

/// The referral decision after a positive PAT (docs/domain.md §6).
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReferralDecision {
    /// The patient accepts an AHW appointment (to be booked within the window).
    Accepted,
    Declined,
    /// An AHW was free and the patient sober: the brief intervention happened at once, no booking.
    SeenInDepartment,
}

impl ReferralDecision {
    pub fn code(self) -> &'static str {
        match self {
            ReferralDecision::Accepted => "accepted",
            ReferralDecision::Declined => "declined",
            ReferralDecision::SeenInDepartment => "seen_in_department",
        }
    }

    /// Whether the patient was referred: accepted the appointment or was seen in the department.
    /// Only they are followed up.
    pub fn is_referred(self) -> bool {
        matches!(self, ReferralDecision::Accepted | ReferralDecision::SeenInDepartment)
    }
}

/// Why a booking starts later than the window allows; such bookings count as breaches.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutsideWindowReason {
    PatientPreference,
    NoCapacity,
}

impl OutsideWindowReason {
    pub fn code(self) -> &'static str {
        match self {
            OutsideWindowReason::PatientPreference => "patient_preference",
            OutsideWindowReason::NoCapacity => "no_capacity",
        }
    }
}

/// An appointment's state. Only a `booked` appointment changes, and only once.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Booked,
    Attended,
    DidNotAttend,
    Cancelled,
}

impl BookingStatus {
    /// The states in which a booking holds its slot: every one but `cancelled` (an attended or
    /// missed appointment used the slot).
    pub const HOLDING_A_SLOT: [BookingStatus; 3] = [
        BookingStatus::Booked,
        BookingStatus::Attended,
        BookingStatus::DidNotAttend,
    ];

    pub fn code(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::Attended => "attended",
            BookingStatus::DidNotAttend => "did_not_attend",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    /// The FHIR Appointment status (docs/domain.md §6).
    pub fn fhir_status(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::Attended => "fulfilled",
            BookingStatus::DidNotAttend => "noshow",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    pub fn can_become(self, next: BookingStatus) -> bool {
        self == BookingStatus::Booked && next != BookingStatus::Booked
    }
}

/// How soon the appointment is after the screening, by Europe/London calendar days. Same-day
/// appointments were six times more likely to be attended (Crawford 2004, docs/domain.md §6).
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LeadTime {
    SameDay,
    NextDay,
    Later,
}

impl LeadTime {
    pub fn code(self) -> &'static str {
        match self {
            LeadTime::SameDay => "same_day",
            LeadTime::NextDay => "next_day",
            LeadTime::Later => "later",
        }
    }

    pub fn between(screened_at: DateTime<Utc>, starts_at: DateTime<Utc>) -> LeadTime {
        let screened = london_date(screened_at);
        let starts = london_date(starts_at);
        match (starts - screened).num_days() {
            days if days <= 0 => LeadTime::SameDay,
            1 => LeadTime::NextDay,
            _ => LeadTime::Later,
        }
    }
}

/// The latest start of an appointment inside the window: `hours` after the screening, inclusive.
pub fn window_end(screened_at: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    screened_at + Duration::hours(hours)
}

// --- Referral decisions (docs/domain.md §6) ---

fn not_positive(detail: &str) -> Refusal {
    Refusal::conflict("not-pat-positive", format!("a referral needs a positive PAT: {detail}"))
}

/// A referral decision is recorded only after a positive PAT: `current` is the attendance's
/// current screening (its status and result), none when it has no screening.
pub fn referral_allowed(current: Option<(ScreeningStatus, Option<PatResult>)>) -> Result<(), Refusal> {
    match current {
        None => Err(not_positive("this attendance has no screening")),
        Some((status, _)) if status != ScreeningStatus::Completed => {
            Err(not_positive(&format!("the PAT was not completed ({})", status.code())))
        }
        Some((_, result)) if result != Some(PatResult::Positive) => Err(not_positive("the PAT result is negative")),
        Some(_) => Ok(()),
    }
}

/// A recorded decision changes to another only while no booking holds a slot for it (one that is
/// not cancelled): the booking is cancelled first.
pub fn decision_change_allowed(
    stored: ReferralDecision,
    next: ReferralDecision,
    has_booking: bool,
) -> Result<(), Refusal> {
    if has_booking && stored != next {
        return Err(Refusal::conflict(
            "referral-has-booking",
            "this referral has a booking: cancel it before changing the decision",
        ));
    }
    Ok(())
}

/// When the patient decided: not before the screening, and not in the future beyond clock skew.
pub fn decision_time(decided_at: DateTime<Utc>, screened_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
    EventTime {
        field: "decided_at",
        before_kind: "decided-before-screening",
        before_detail: "decided_at is before the screening",
        before_message: "must not be before the screening",
        future_kind: "decided-in-future",
    }
    .check(decided_at, screened_at, now)
}

// --- Corrections: a new version with who, when and why; the earlier one is kept ---

/// A correction says why: without `field` a change of the recorded `what` is refused (422).
pub fn reason_required(field: &'static str, what: &str) -> Refusal {
    Refusal::rule(
        "reason-required",
        format!("this changes the recorded {what}: a correction needs {field} (why it is corrected)"),
        vec![FieldError::new(
            field,
            format!("required to correct the recorded {what}"),
        )],
    )
}

/// What the AHW recorded when the patient was seen in the department (docs/domain.md §6: the brief
/// intervention happened at once, no booking): who saw them, whether the brief intervention was
/// delivered, and the units a week at that contact — what an attended appointment records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeenInDepartment {
    /// A registered AHW (the database refuses any other id).
    pub health_worker_id: uuid::Uuid,
    pub brief_intervention_delivered: bool,
    pub units_per_week: f64,
}

/// The details that come with a referral `decision`, checked: required for `seen_in_department`
/// (all three), refused for the other decisions. Every problem at once.
pub fn referral_details(
    decision: ReferralDecision,
    health_worker_id: Option<uuid::Uuid>,
    brief_intervention_delivered: Option<bool>,
    units_per_week: Option<f64>,
) -> Result<Option<SeenInDepartment>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let given = [
        ("health_worker_id", health_worker_id.is_some()),
        ("brief_intervention_delivered", brief_intervention_delivered.is_some()),
        ("units_per_week", units_per_week.is_some()),
    ];
    for (field, is_given) in given {
        match (decision, is_given) {
            (ReferralDecision::SeenInDepartment, false) => {
                errors.push(FieldError::new(field, "required when seen_in_department"))
            }
            (ReferralDecision::Accepted | ReferralDecision::Declined, true) => {
                errors.push(FieldError::new(field, "only when seen_in_department"))
            }
            _ => {}
        }
    }
    if let Some(error) = units_per_week.and_then(units_per_week_error) {
        errors.push(error);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(match (health_worker_id, brief_intervention_delivered, units_per_week) {
        (Some(health_worker_id), Some(brief_intervention_delivered), Some(units_per_week)) => Some(SeenInDepartment {
            health_worker_id,
            brief_intervention_delivered,
            units_per_week,
        }),
        _ => None,
    })
}

/// Units a week, wherever an AHW records them (an appointment, a contact in the department, a
/// follow-up): a finite number of at least 0.
fn units_per_week_error(units: f64) -> Option<FieldError> {
    (!units.is_finite() || units < 0.0).then(|| FieldError::new("units_per_week", "must be a number of at least 0"))
}

/// The health worker named is not on the AHW register.
pub fn unknown_health_worker() -> Refusal {
    Refusal::rule(
        "unknown-health-worker",
        "health_worker_id is not a registered alcohol health worker",
        vec![FieldError::new(
            "health_worker_id",
            "must be a registered health worker",
        )],
    )
}

// --- Slots ---

/// One slot given by its start and end: it ends after it starts, and lasts at most
/// [`MAX_SLOT_HOURS`].
pub fn single_slot(starts: DateTime<Utc>, ends: DateTime<Utc>) -> Result<Span, FieldError> {
    if ends <= starts {
        Err(FieldError::new("ends_at", "must be after starts_at"))
    } else if ends - starts > Duration::hours(MAX_SLOT_HOURS) {
        Err(FieldError::new(
            "ends_at",
            format!("a slot lasts at most {MAX_SLOT_HOURS} hours"),
        ))
    } else {
        Ok((starts, ends))
    }
}

/// Availability is published for the future only: no slot starts before `now`.
pub fn slots_not_in_past(mut starts: impl Iterator<Item = DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), Refusal> {
    if starts.any(|start| start < now) {
        return Err(Refusal::rule(
            "slot-in-past",
            "a slot would start in the past",
            vec![FieldError::new("starts_at", "must not be in the past")],
        ));
    }
    Ok(())
}

pub fn no_health_worker() -> Refusal {
    Refusal::not_found("no health worker with that id")
}

pub fn duplicate_health_worker() -> Refusal {
    Refusal::conflict(
        "duplicate-health-worker",
        "a health worker with this staff_id or subject is already registered",
    )
}

pub fn no_slot() -> Refusal {
    Refusal::not_found("no slot with that id")
}

pub fn slot_overlap() -> Refusal {
    Refusal::conflict("slot-overlap", "a slot overlaps another slot of the same health worker")
}

/// A slot a booking holds is not withdrawn.
pub fn slot_booked() -> Refusal {
    Refusal::conflict("slot-booked", "a booking holds this slot: cancel the booking first")
}

// --- Bookings (docs/domain.md §6) ---

/// What a booking request's reads found about the attendance it names: whether it was entered
/// in error, whether it has a screening, and its referral decision if one is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferralFound {
    pub entered_in_error: bool,
    pub screened: bool,
    pub decision: Option<ReferralDecision>,
}

/// What a booking request's reads found about the slot it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotFound {
    /// No slot named: the earliest free one in the window is booked.
    NotNamed,
    /// No live slot has that id (never published, or withdrawn).
    Missing,
    Free,
    /// A booking that is not cancelled holds it.
    Held,
}

/// The answers a booking request gets from its reads alone, in docs/design.md §4's order: no such
/// attendance (404; `attendance` is none), the attendance entered in error (409), no such live
/// slot (404), no accepted referral after a screening (409), the slot is held (409).
pub fn booking_admissible(attendance: Option<ReferralFound>, slot: SlotFound) -> Result<(), Refusal> {
    let attendance = attendance.ok_or_else(no_attendance)?;
    if attendance.entered_in_error {
        return Err(attendance_entered_in_error());
    }
    if slot == SlotFound::Missing {
        return Err(no_slot());
    }
    if !attendance.screened || attendance.decision != Some(ReferralDecision::Accepted) {
        return Err(referral_not_accepted());
    }
    if slot == SlotFound::Held {
        return Err(slot_taken());
    }
    Ok(())
}

/// The rules of time for booking a slot starting at `starts`, for a screening at `screened_at`:
/// the slot has not started, and one starting after the window (`window_hours` after the
/// screening) needs a reason. Whether it is within the window.
pub fn booking_time(
    starts: DateTime<Utc>,
    screened_at: DateTime<Utc>,
    now: DateTime<Utc>,
    window_hours: i64,
    outside_window_reason: Option<OutsideWindowReason>,
) -> Result<bool, Refusal> {
    let within_window = starts <= window_end(screened_at, window_hours);
    if starts < now {
        return Err(Refusal::rule(
            "slot-in-past",
            "the slot has already started",
            vec![FieldError::new("slot_id", "must be a slot that has not started")],
        ));
    }
    if !within_window && outside_window_reason.is_none() {
        return Err(Refusal::rule(
            "outside-window",
            format!(
                "the slot starts more than {window_hours} hours after the screening: give outside_window_reason \
                 (patient_preference or no_capacity)"
            ),
            vec![FieldError::new("outside_window_reason", "required for this slot")],
        ));
    }
    Ok(within_window)
}

pub fn no_booking() -> Refusal {
    Refusal::not_found("no booking with that id")
}

/// The kind of [`slot_taken`].
pub const SLOT_TAKEN: &str = "slot-taken";

pub fn slot_taken() -> Refusal {
    Refusal::conflict(SLOT_TAKEN, "another booking holds this slot")
}

pub fn referral_not_accepted() -> Refusal {
    Refusal::conflict(
        "referral-not-accepted",
        "a booking needs a referral decision of accepted",
    )
}

/// A referral has at most one open (`booked`) booking.
pub fn already_booked() -> Refusal {
    Refusal::conflict(
        "already-booked",
        "this referral already has an open booking: cancel it to rebook",
    )
}

/// An automatic booking found no free slot in the window (the unmet request is recorded).
pub fn no_slot_in_window(window_hours: i64) -> Refusal {
    Refusal::conflict(
        "no-slot-in-window",
        format!("no free slot starts within {window_hours} hours of the screening; the unmet request is recorded"),
    )
}

// --- Outcomes ---

/// What happened at an appointment, checked for shape: attended (with whether the brief
/// intervention was delivered, and optionally the units a week), did not attend, or cancelled
/// (optionally with why).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub status: BookingStatus,
    pub brief_intervention_delivered: Option<bool>,
    pub units_per_week: Option<f64>,
    pub reason: Option<String>,
}

impl Outcome {
    /// Every problem with the values at once.
    pub fn new(
        status: BookingStatus,
        brief_intervention_delivered: Option<bool>,
        units_per_week: Option<f64>,
        reason: Option<String>,
    ) -> Result<Outcome, Vec<FieldError>> {
        let mut errors = Vec::new();
        match status {
            BookingStatus::Booked => errors.push(FieldError::new(
                "status",
                "must be attended, did_not_attend or cancelled",
            )),
            BookingStatus::Attended if brief_intervention_delivered.is_none() => errors.push(FieldError::new(
                "brief_intervention_delivered",
                "required when attended",
            )),
            BookingStatus::Attended => {}
            _ => {
                if brief_intervention_delivered.is_some() {
                    errors.push(FieldError::new("brief_intervention_delivered", "only when attended"));
                }
                if units_per_week.is_some() {
                    errors.push(FieldError::new("units_per_week", "only when attended"));
                }
            }
        }
        if let Some(error) = units_per_week.and_then(units_per_week_error) {
            errors.push(error);
        }
        match (&reason, status) {
            (Some(_), status) if status != BookingStatus::Cancelled => {
                errors.push(FieldError::new("reason", "only when cancelled"))
            }
            (Some(reason), _) if reason.chars().count() > 500 => {
                errors.push(FieldError::new("reason", "must be at most 500 characters"))
            }
            _ => {}
        }
        if errors.is_empty() {
            Ok(Outcome {
                status,
                brief_intervention_delivered,
                units_per_week,
                reason,
            })
        } else {
            Err(errors)
        }
    }
}

/// Only a `booked` appointment changes, and only once (409); before its slot starts it can only
/// be cancelled (422). (A recorded outcome changes only by a correction: [`outcome_change`].)
pub fn outcome_allowed(
    current: BookingStatus,
    next: BookingStatus,
    slot_starts: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if !current.can_become(next) {
        return Err(invalid_transition(current));
    }
    outcome_time(next, slot_starts, now)
}

/// Before its slot starts an appointment can only be cancelled (422).
fn outcome_time(next: BookingStatus, slot_starts: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
    if next != BookingStatus::Cancelled && now < slot_starts {
        return Err(Refusal::rule(
            "outcome-before-slot",
            "the appointment has not started yet",
            vec![FieldError::new("status", "only cancelled before the slot starts")],
        ));
    }
    Ok(())
}

/// The booking is `current`, which no outcome changes (a recorded outcome changes only by a
/// correction, which says so).
pub fn invalid_transition(current: BookingStatus) -> Refusal {
    let detail = if current == BookingStatus::Booked {
        format!(
            "the booking is {}; only a booked appointment can change",
            current.code()
        )
    } else {
        format!(
            "the booking is {}: its outcome is recorded; a correction needs corrects: true and a correction_reason",
            current.code()
        )
    };
    Refusal::conflict("invalid-transition", detail)
}

/// What an outcome request does to a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeChange {
    /// The first outcome of a `booked` appointment.
    First,
    /// The recorded outcome sent again: answered again.
    Replay,
    /// A new version of the recorded outcome; the earlier one is kept.
    Correction,
}

/// What recording `next` does to a booking whose recorded outcome is `recorded` (none while
/// booked), in docs/design.md §4's order. While booked: the first outcome, but `corrects` has nothing
/// to correct (409). Once recorded: the same outcome again is a replay; a different one is a
/// correction only with `corrects` (else 409, as before corrections) and a reason (422); a
/// correction to attended or did not attend still waits for the slot to start (422). Any
/// recorded outcome can be corrected to any other: attended ↔ did not attend, the brief
/// intervention or units fixed, a cancellation undone or recorded late (the slot's index still
/// refuses a second booking holding it).
pub fn outcome_change(
    recorded: Option<&Outcome>,
    next: &Outcome,
    corrects: bool,
    has_reason: bool,
    slot_starts: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<OutcomeChange, Refusal> {
    match recorded {
        None if corrects => Err(Refusal::conflict(
            "no-outcome-to-correct",
            "the booking has no outcome yet: record it without corrects",
        )),
        None => outcome_allowed(BookingStatus::Booked, next.status, slot_starts, now).map(|()| OutcomeChange::First),
        Some(stored) if stored == next => Ok(OutcomeChange::Replay),
        Some(stored) if !corrects => Err(invalid_transition(stored.status)),
        Some(_) if !has_reason => Err(reason_required("correction_reason", "outcome")),
        Some(_) => outcome_time(next.status, slot_starts, now).map(|()| OutcomeChange::Correction),
    }
}

/// A correction from `cancelled` to attended or did not attend holds the slot again: it needs the
/// referral still accepted and the slot still live, and no other booking holding the slot.
pub fn revives_booking(from: BookingStatus, to: BookingStatus) -> bool {
    from == BookingStatus::Cancelled && to != BookingStatus::Cancelled
}

/// The slot of a cancelled booking was withdrawn since: the cancellation cannot be undone.
pub fn slot_withdrawn() -> Refusal {
    Refusal::conflict(
        "slot-withdrawn",
        "the booking's slot was withdrawn after the cancellation: it cannot hold the booking again",
    )
}

// --- Follow-ups ---

/// A 6- or 12-month follow-up contact, checked: the units a week now, and when the contact
/// happened (default now; not in the future beyond clock skew).
#[derive(Clone, Debug, PartialEq)]
pub struct FollowUpContact {
    pub months: i32,
    pub units_per_week: f64,
    pub contacted_at: DateTime<Utc>,
    /// Whether the caller gave `contacted_at`: a retry without it replays whatever time is stored.
    pub contacted_at_given: bool,
}

impl FollowUpContact {
    /// Every problem with the values at once.
    pub fn new(
        months: i32,
        units_per_week: f64,
        contacted_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<FollowUpContact, Vec<FieldError>> {
        let mut errors = Vec::new();
        if ![6, 12].contains(&months) {
            errors.push(FieldError::new("months", "must be 6 or 12"));
        }
        if let Some(error) = units_per_week_error(units_per_week) {
            errors.push(error);
        }
        let contacted_at_given = contacted_at.is_some();
        let contacted_at = contacted_at.unwrap_or(now);
        if in_the_future(contacted_at, now) {
            errors.push(FieldError::new("contacted_at", "must not be in the future"));
        }
        if errors.is_empty() {
            Ok(FollowUpContact {
                months,
                units_per_week,
                contacted_at,
                contacted_at_given,
            })
        } else {
            Err(errors)
        }
    }
}

/// Follow-ups are for referred patients ([`ReferralDecision::is_referred`]); `decision` is none
/// when no decision is recorded.
pub fn follow_up_allowed(decision: Option<ReferralDecision>) -> Result<(), Refusal> {
    if decision.is_some_and(ReferralDecision::is_referred) {
        Ok(())
    } else {
        Err(Refusal::conflict(
            "not-referred",
            "follow-ups are for patients who accepted the referral or were seen in the department",
        ))
    }
}

/// How an AHW saw a referred patient (docs/domain.md §6): at the booked appointment (`attended`), or
/// at once in the department. The 6- and 12-month follow-ups count from this contact, where the
/// units a week they are compared with were recorded.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AhwContact {
    /// The accepted referral's booked appointment was attended (its first attended booking, by
    /// slot start: the contact is when the slot started).
    AttendedAppointment,
    /// The decision was `seen_in_department` (the contact is `decided_at`).
    SeenInDepartment,
}

impl AhwContact {
    pub fn code(self) -> &'static str {
        match self {
            AhwContact::AttendedAppointment => "attended_appointment",
            AhwContact::SeenInDepartment => "seen_in_department",
        }
    }
}

/// The follow-up contacts after an AHW contact: at 6 and at 12 months (docs/domain.md §6; the trial
/// followed patients up at 6 and 12 months, Crawford 2004).
pub const FOLLOW_UP_MONTHS: [u32; 2] = [6, 12];

/// When the follow-up at `months` of an AHW contact on the Europe/London date `contact_date` is
/// due: the same day `months` calendar months later, or that month's last day when it has no
/// such day (31 August + 6 months is the last day of February).
pub fn follow_up_due_date(contact_date: NaiveDate, months: u32) -> NaiveDate {
    contact_date
        .checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// The contacts whose follow-up at `months` is due on or before the Europe/London date `date`
/// are exactly those before the instant answered: the London midnight after the last contact
/// date due by then. (Contact dates map to due dates in order, several to one at a month's end,
/// so the set is every date up to a last one; comparing instants keeps time zones out of SQL.)
pub fn follow_ups_due_by(date: NaiveDate, months: u32) -> DateTime<Utc> {
    let mut last = date.checked_sub_months(Months::new(months)).unwrap_or(NaiveDate::MIN);
    while let Some(next) = last.succ_opt().filter(|d| follow_up_due_date(*d, months) <= date) {
        last = next;
    }
    london_midnight(last.succ_opt().unwrap_or(last))
}

/// The follow-up at `months` is recorded with other content.
pub fn follow_up_recorded_differently(months: i32) -> Refusal {
    Refusal::conflict(
        "follow-up-exists",
        format!("the {months}-month follow-up is already recorded differently"),
    )
}

/// Another request recorded the same follow-up at the same moment.
pub fn follow_up_recorded_meanwhile() -> Refusal {
    Refusal::conflict(
        "follow-up-exists",
        "the follow-up was recorded at the same moment by another request; retry",
    )
}

/// A day of the week, as a rota names it.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DayOfWeek {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl DayOfWeek {
    fn weekday(self) -> Weekday {
        match self {
            DayOfWeek::Mon => Weekday::Mon,
            DayOfWeek::Tue => Weekday::Tue,
            DayOfWeek::Wed => Weekday::Wed,
            DayOfWeek::Thu => Weekday::Thu,
            DayOfWeek::Fri => Weekday::Fri,
            DayOfWeek::Sat => Weekday::Sat,
            DayOfWeek::Sun => Weekday::Sun,
        }
    }
}

/// A slot's start and end, UTC.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

pub const MAX_ROTA_DAYS: i64 = 92;
pub const MAX_SLOTS_PER_REQUEST: usize = 2000;
pub const MAX_SLOT_HOURS: i64 = 12;

/// A rota: back-to-back slots of `slot_minutes` from `day_start`, while they end by `day_end`, on
/// the given weekdays from `from_date` to `to_date` inclusive, in Europe/London local time.
#[derive(Clone, Debug)]
pub struct Rota {
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub weekdays: Vec<DayOfWeek>,
    pub day_start: NaiveTime,
    pub day_end: NaiveTime,
    pub slot_minutes: i64,
}

impl Rota {
    /// The slots, as UTC `(start, end)` pairs in time order; every rule broken is listed.
    pub fn slots(&self) -> Result<Vec<Span>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(5..=240).contains(&self.slot_minutes) {
            errors.push(FieldError::new("slot_minutes", "must be from 5 to 240"));
        }
        if self.to_date < self.from_date {
            errors.push(FieldError::new("to_date", "must not be before from_date"));
        } else if (self.to_date - self.from_date).num_days() > MAX_ROTA_DAYS {
            errors.push(FieldError::new(
                "to_date",
                format!("must be at most {MAX_ROTA_DAYS} days after from_date"),
            ));
        }
        if self.day_end <= self.day_start {
            errors.push(FieldError::new("day_end", "must be after day_start"));
        }
        if self.weekdays.is_empty() {
            errors.push(FieldError::new("weekdays", "must name at least one day"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let step = Duration::minutes(self.slot_minutes);
        let days: Vec<Weekday> = self.weekdays.iter().map(|d| d.weekday()).collect();
        let mut slots = Vec::new();
        for date in self.from_date.iter_days().take_while(|d| *d <= self.to_date) {
            if !days.contains(&date.weekday()) {
                continue;
            }
            let mut start = self.day_start;
            loop {
                let (end, wrapped) = start.overflowing_add_signed(step);
                if wrapped != 0 || end > self.day_end {
                    break;
                }
                // A slot lasts `slot_minutes` of real time; one whose local start does not exist
                // (the spring clock change) is skipped.
                if let Some(s) = london_instant(date, start) {
                    slots.push((s, s + step));
                }
                if slots.len() > MAX_SLOTS_PER_REQUEST {
                    return Err(vec![FieldError::new(
                        "to_date",
                        format!("the rota makes more than {MAX_SLOTS_PER_REQUEST} slots; publish it in parts"),
                    )]);
                }
                start = end;
            }
        }
        if slots.is_empty() {
            return Err(vec![FieldError::new("weekdays", "the rota makes no slot")]);
        }
        Ok(slots)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::calendar::test_support::utc;

    #[test]
    fn lead_time_uses_london_calendar_days() {
        let cases = [
            (
                "2025-03-01T10:00:00Z",
                "2025-03-01T16:00:00Z",
                LeadTime::SameDay,
                "same afternoon",
            ),
            (
                "2025-03-01T22:00:00Z",
                "2025-03-02T09:00:00Z",
                LeadTime::NextDay,
                "next morning",
            ),
            (
                "2025-03-01T10:00:00Z",
                "2025-03-03T09:00:00Z",
                LeadTime::Later,
                "two days on",
            ),
            // 23:30 UTC on 30 June is 00:30 BST on 1 July: the same London day as 10:00 BST.
            (
                "2025-06-30T23:30:00Z",
                "2025-07-01T09:00:00Z",
                LeadTime::SameDay,
                "BST shifts the date",
            ),
        ];
        for (screened, starts, expected, why) in cases {
            assert_eq!(LeadTime::between(utc(screened), utc(starts)), expected, "{why}");
        }
    }

    #[test]
    fn only_booked_changes_and_only_once() {
        use BookingStatus::*;
        for from in [Booked, Attended, DidNotAttend, Cancelled] {
            for to in [Booked, Attended, DidNotAttend, Cancelled] {
                let allowed = from == Booked && to != Booked;
                assert_eq!(from.can_become(to), allowed, "{from:?} -> {to:?}");
            }
        }
        assert_eq!(Attended.fhir_status(), "fulfilled");
        assert_eq!(DidNotAttend.fhir_status(), "noshow");
    }

    #[test]
    fn a_booking_is_refused_by_its_reads_in_the_documented_order() {
        let accepted = ReferralFound {
            entered_in_error: false,
            screened: true,
            decision: Some(ReferralDecision::Accepted),
        };
        let marked = ReferralFound {
            entered_in_error: true,
            ..accepted
        };
        let declined = ReferralFound {
            decision: Some(ReferralDecision::Declined),
            ..accepted
        };
        let unscreened = ReferralFound {
            screened: false,
            ..accepted
        };
        let kind = |answer: Result<(), Refusal>| match answer {
            Ok(()) => "admitted",
            Err(Refusal::NotFound(_)) => "not-found",
            Err(Refusal::Conflict { kind, .. } | Refusal::Rule { kind, .. }) => kind,
        };
        let cases = [
            (None, SlotFound::Missing, "not-found", "no attendance before no slot"),
            (
                Some(marked),
                SlotFound::Missing,
                "entered-in-error",
                "the mark before anything else",
            ),
            (
                Some(declined),
                SlotFound::Missing,
                "not-found",
                "no slot before the referral",
            ),
            (
                Some(declined),
                SlotFound::Held,
                "referral-not-accepted",
                "the referral before the slot held",
            ),
            (
                Some(unscreened),
                SlotFound::Free,
                "referral-not-accepted",
                "no screening, no referral",
            ),
            (Some(accepted), SlotFound::Held, "slot-taken", "the slot held"),
            (Some(accepted), SlotFound::Free, "admitted", "a free slot"),
            (
                Some(accepted),
                SlotFound::NotNamed,
                "admitted",
                "the earliest free slot",
            ),
        ];
        for (attendance, slot, expected, why) in cases {
            assert_eq!(kind(booking_admissible(attendance, slot)), expected, "{why}");
        }
    }

    #[test]
    fn a_slot_in_the_past_is_refused_before_one_outside_the_window() {
        let screened = utc("2025-03-01T10:00:00Z");
        let now = utc("2025-03-01T11:00:00Z");
        let kind = |starts: &str, reason| match booking_time(utc(starts), screened, now, 24, reason) {
            Ok(within) => {
                if within {
                    "within"
                } else {
                    "outside"
                }
            }
            Err(Refusal::Rule { kind, .. }) => kind,
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(kind("2025-03-01T10:30:00Z", None), "slot-in-past");
        assert_eq!(
            kind("2025-03-02T10:00:00Z", None),
            "within",
            "the window's last instant"
        );
        assert_eq!(kind("2025-03-02T10:00:01Z", None), "outside-window");
        let reason = Some(OutsideWindowReason::NoCapacity);
        assert_eq!(kind("2025-03-02T10:00:01Z", reason), "outside");
    }

    #[test]
    fn an_outcome_before_the_slot_can_only_be_a_cancellation() {
        let starts = utc("2025-03-01T10:00:00Z");
        let before = utc("2025-03-01T09:00:00Z");
        use BookingStatus::*;
        assert!(outcome_allowed(Booked, Cancelled, starts, before).is_ok());
        assert!(matches!(
            outcome_allowed(Booked, Attended, starts, before),
            Err(Refusal::Rule {
                kind: "outcome-before-slot",
                ..
            })
        ));
        assert!(outcome_allowed(Booked, DidNotAttend, starts, starts).is_ok());
        assert!(matches!(
            outcome_allowed(Attended, Cancelled, starts, before),
            Err(Refusal::Conflict {
                kind: "invalid-transition",
                ..
            })
        ));
    }

    #[test]
    fn an_outcome_is_first_a_replay_or_a_correction_in_the_documented_order() {
        use BookingStatus::*;
        let starts = utc("2025-03-01T10:00:00Z");
        let (before, after) = (utc("2025-03-01T09:00:00Z"), utc("2025-03-01T11:00:00Z"));
        let attended = Outcome::new(Attended, Some(true), Some(30.0), None).unwrap();
        let fixed_units = Outcome::new(Attended, Some(true), Some(12.0), None).unwrap();
        let missed = Outcome::new(DidNotAttend, None, None, None).unwrap();
        let cancelled = Outcome::new(Cancelled, None, None, Some("rang".into())).unwrap();
        let kind = |answer: Result<OutcomeChange, Refusal>| match answer {
            Ok(OutcomeChange::First) => "first",
            Ok(OutcomeChange::Replay) => "replay",
            Ok(OutcomeChange::Correction) => "correction",
            Err(Refusal::Conflict { kind, .. } | Refusal::Rule { kind, .. }) => kind,
            Err(other) => panic!("{other:?}"),
        };
        // (recorded, next, corrects, reason, now, expected, why)
        let cases = [
            (None, &attended, false, false, after, "first", "booked → attended"),
            (
                None,
                &attended,
                false,
                false,
                before,
                "outcome-before-slot",
                "not yet started",
            ),
            (
                None,
                &attended,
                true,
                true,
                after,
                "no-outcome-to-correct",
                "nothing to correct",
            ),
            (
                Some(&attended),
                &attended,
                false,
                false,
                after,
                "replay",
                "the same again",
            ),
            (
                Some(&attended),
                &attended,
                true,
                true,
                after,
                "replay",
                "a correction retried",
            ),
            (
                Some(&attended),
                &missed,
                false,
                true,
                after,
                "invalid-transition",
                "no corrects",
            ),
            (
                Some(&attended),
                &missed,
                true,
                false,
                after,
                "reason-required",
                "no reason",
            ),
            (
                Some(&attended),
                &missed,
                true,
                true,
                after,
                "correction",
                "attended → missed",
            ),
            (
                Some(&attended),
                &fixed_units,
                true,
                true,
                after,
                "correction",
                "units fixed",
            ),
            (
                Some(&cancelled),
                &attended,
                true,
                true,
                before,
                "outcome-before-slot",
                "undone early",
            ),
            (
                Some(&cancelled),
                &attended,
                true,
                true,
                after,
                "correction",
                "cancellation undone",
            ),
            (
                Some(&missed),
                &cancelled,
                true,
                true,
                before,
                "correction",
                "cancelled late",
            ),
        ];
        for (recorded, next, corrects, reason, now, expected, why) in cases {
            let answer = outcome_change(recorded, next, corrects, reason, starts, now);
            assert_eq!(kind(answer), expected, "{why}");
        }
        assert!(revives_booking(Cancelled, Attended));
        assert!(!revives_booking(Attended, DidNotAttend));
        assert!(!revives_booking(Attended, Cancelled));
    }

    #[test]
    fn outcome_values_list_every_problem() {
        let fields = |outcome: Result<Outcome, Vec<FieldError>>| -> Vec<String> {
            outcome.unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(
            fields(Outcome::new(
                BookingStatus::Attended,
                None,
                Some(-1.0),
                Some("ill".into())
            )),
            vec!["brief_intervention_delivered", "units_per_week", "reason"]
        );
        assert_eq!(
            fields(Outcome::new(BookingStatus::Cancelled, Some(true), Some(3.0), None)),
            vec!["brief_intervention_delivered", "units_per_week"]
        );
        assert!(Outcome::new(BookingStatus::Attended, Some(true), Some(30.0), None).is_ok());
    }

    #[test]
    fn a_referral_needs_a_completed_positive_pat() {
        let kind = |current| match referral_allowed(current) {
            Ok(()) => "allowed".to_owned(),
            Err(Refusal::Conflict { detail, .. }) => detail,
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(
            kind(None),
            "a referral needs a positive PAT: this attendance has no screening"
        );
        assert_eq!(
            kind(Some((ScreeningStatus::Refused, None))),
            "a referral needs a positive PAT: the PAT was not completed (refused)"
        );
        assert_eq!(
            kind(Some((ScreeningStatus::Completed, Some(PatResult::Negative)))),
            "a referral needs a positive PAT: the PAT result is negative"
        );
        assert_eq!(
            kind(Some((ScreeningStatus::Completed, Some(PatResult::Positive)))),
            "allowed"
        );
    }

    #[test]
    fn follow_ups_are_at_6_or_12_months_for_referred_patients() {
        let now = utc("2025-03-01T10:00:00Z");
        let contact = FollowUpContact::new(6, 20.0, None, now).unwrap();
        assert_eq!((contact.contacted_at, contact.contacted_at_given), (now, false));
        let errors = FollowUpContact::new(3, f64::NAN, Some(now + Duration::minutes(16)), now).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["months", "units_per_week", "contacted_at"]);
        assert!(follow_up_allowed(Some(ReferralDecision::SeenInDepartment)).is_ok());
        assert!(follow_up_allowed(Some(ReferralDecision::Declined)).is_err());
        assert!(follow_up_allowed(None).is_err());
    }

    #[test]
    fn a_follow_up_is_due_months_later_or_at_the_end_of_a_shorter_month() {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // (contact date, months, due date, why)
        let cases = [
            ("2024-03-15", 6, "2024-09-15", "the same day six months on"),
            ("2024-03-15", 12, "2025-03-15", "the same day a year on"),
            ("2024-08-31", 6, "2025-02-28", "February 2025 has 28 days"),
            ("2023-08-31", 6, "2024-02-29", "February 2024 has 29 days"),
            ("2024-02-29", 12, "2025-02-28", "no 29 February in 2025"),
        ];
        for (contact, months, due, why) in cases {
            assert_eq!(follow_up_due_date(date(contact), months), date(due), "{why}");
        }
    }

    #[test]
    fn contacts_due_by_a_date_end_at_a_london_midnight() {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Due by 28 February 2025 at 6 months: contacts up to 31 August 2024 (29, 30 and 31
        // August all fall due on 28 February), so everything before 1 September 00:00 BST =
        // 31 August 23:00 UTC.
        assert_eq!(follow_ups_due_by(date("2025-02-28"), 6), utc("2024-08-31T23:00:00Z"));
        // Due by 15 January 2025 at 12 months: contacts up to 15 January 2024 (GMT), so before
        // 16 January 2024 00:00 UTC.
        assert_eq!(follow_ups_due_by(date("2025-01-15"), 12), utc("2024-01-16T00:00:00Z"));
        // Due by 27 February 2025 at 6 months: up to 27 August 2024 (28 August is due on 28
        // February), before 28 August 00:00 BST.
        assert_eq!(follow_ups_due_by(date("2025-02-27"), 6), utc("2024-08-27T23:00:00Z"));
    }

    fn rota(from: &str, to: &str, days: Vec<DayOfWeek>, start: &str, end: &str, minutes: i64) -> Rota {
        Rota {
            from_date: from.parse().unwrap(),
            to_date: to.parse().unwrap(),
            weekdays: days,
            day_start: start.parse().unwrap(),
            day_end: end.parse().unwrap(),
            slot_minutes: minutes,
        }
    }

    #[test]
    fn a_week_of_morning_slots() {
        // Mon 3 – Sun 9 March 2025 (GMT): Mon, Wed, Fri × 09:00–12:00 in 30 min = 3 × 6 = 18.
        let slots = rota(
            "2025-03-03",
            "2025-03-09",
            vec![DayOfWeek::Mon, DayOfWeek::Wed, DayOfWeek::Fri],
            "09:00",
            "12:00",
            30,
        )
        .slots()
        .unwrap();
        assert_eq!(slots.len(), 18);
        assert_eq!(slots[0], (utc("2025-03-03T09:00:00Z"), utc("2025-03-03T09:30:00Z")));
        assert_eq!(slots[17], (utc("2025-03-07T11:30:00Z"), utc("2025-03-07T12:00:00Z")));
    }

    #[test]
    fn a_slot_that_does_not_fit_before_day_end_is_not_made() {
        // 09:00–10:00 in 25 min: 09:00, 09:25 fit (ends 09:50); 09:50 would end 10:15.
        let slots = rota("2025-03-03", "2025-03-03", vec![DayOfWeek::Mon], "09:00", "10:00", 25)
            .slots()
            .unwrap();
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn local_times_follow_british_summer_time() {
        // Sunday 30 March 2025 the clocks go forward at 01:00 GMT: 09:00 is 08:00 UTC from then.
        let slots = rota(
            "2025-03-29",
            "2025-03-30",
            vec![DayOfWeek::Sat, DayOfWeek::Sun],
            "09:00",
            "09:30",
            30,
        )
        .slots()
        .unwrap();
        assert_eq!(slots[0].0, utc("2025-03-29T09:00:00Z"), "Saturday is still GMT");
        assert_eq!(slots[1].0, utc("2025-03-30T08:00:00Z"), "Sunday is BST");
    }

    #[test]
    fn a_local_time_that_does_not_exist_is_skipped() {
        // 30 March 2025 01:00–02:00 local does not exist: 00:00 GMT and 02:00 BST (= 01:00 UTC)
        // remain, an hour each, back to back.
        let slots = rota("2025-03-30", "2025-03-30", vec![DayOfWeek::Sun], "00:00", "03:00", 60)
            .slots()
            .unwrap();
        let starts: Vec<_> = slots.iter().map(|s| s.0).collect();
        assert_eq!(starts, vec![utc("2025-03-30T00:00:00Z"), utc("2025-03-30T01:00:00Z")]);
    }

    #[test]
    fn bad_rotas_list_every_problem() {
        let errors = rota("2025-03-09", "2025-03-03", vec![], "12:00", "09:00", 1)
            .slots()
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["slot_minutes", "to_date", "day_end", "weekdays"]);
    }
}
