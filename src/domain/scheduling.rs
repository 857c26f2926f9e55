//! AHW appointment rules (DOMAIN.md §6): the booking window, lead time, appointment states and
//! rotas. Calendar days and clock times are Europe/London, whatever the server's time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::{london_date, london_instant};
use super::FieldError;

/// The referral decision after a positive PAT (DOMAIN.md §6).
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
    pub fn code(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::Attended => "attended",
            BookingStatus::DidNotAttend => "did_not_attend",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    /// The FHIR Appointment status (DOMAIN.md §6).
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
/// appointments were six times more likely to be attended (Crawford 2004, DOMAIN.md §6).
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
