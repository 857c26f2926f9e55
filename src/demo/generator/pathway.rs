//! After a positive screening: the referral decision, the AHW booking and its outcome, and the
//! follow-up contacts (docs/domain.md §6).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Europe::London;
use uuid::Uuid;

use super::patients::Patient;
use super::rota::service_times;
use super::Generator;
use crate::demo::rng::Rng;
use crate::demo::rows::{AttemptRow, Batch, BookingRow, FollowUpRow, ReferralRow};
use crate::domain::pat::DrinkingFrequency;
use crate::domain::scheduling::{LeadTime, OutsideWindowReason, ReferralDecision};

/// How much less often a patient attends after accepting a referral (Crawford 2004: 1.2 vs 1.7
/// ED visits over 12 months, a factor of 0.7; a little stronger here because planned reviews,
/// and declined patients who accept later, dilute the observed difference).
pub(super) const ACCEPTED_RATE_FACTOR: f64 = 0.6;

const CANCEL_REASONS: [(&str, f64); 4] = [
    ("patient asked to rearrange", 4.0),
    ("AHW unavailable", 2.0),
    ("patient admitted to a ward", 2.0),
    ("patient unable to attend", 2.0),
];

/// Chance an AHW appointment is attended, by lead time: same day six times later (Crawford 2004,
/// docs/domain.md §6).
fn attend_probability(lead: LeadTime) -> f64 {
    match lead {
        LeadTime::SameDay => 0.66,
        LeadTime::NextDay => 0.24,
        LeadTime::Later => 0.11,
    }
}

impl Generator {
    pub(super) fn referral(
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
        // Explicit health feedback raises acceptance (Patton 2003, docs/domain.md §3).
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

    /// An AHW appointment for an accepted referral (docs/domain.md §6).
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
}

fn reason_of(code: Option<&str>) -> Option<OutsideWindowReason> {
    match code {
        Some("no_capacity") => Some(OutsideWindowReason::NoCapacity),
        Some(_) => Some(OutsideWindowReason::PatientPreference),
        None => None,
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
