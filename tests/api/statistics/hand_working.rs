//! The figures of the shared datasets, worked out by hand from their tables in `datasets.rs`.
//!
//! Nothing expected here was copied from the service's output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::checks::*;

// ---------------------------------------------------------------------------------------------
// Hand working for the pathway dataset (`pathway_dataset`, table in datasets.rs)

/// The whole pathway dataset, arrivals on D (#1–#25; R0 is 30 days earlier).
pub fn pathway_all() -> (Counts, Rates) {
    let counts = Counts {
        attendances: 25,                 // #1–#25
        eligible: 21,                    // all but A1–A4 (`other`, no history): #5–#25
        screened: 14,                    // current screening completed: R, C1 (corrected), P1–P3, Q1–Q9
        refused: 1,                      // N1 (A4 refused but is not eligible; C1 was corrected)
        intoxicated: 1,                  // N2
        lacks_capacity: 1,               // N3
        too_unwell: 1,                   // N4
        under_age: 1,                    // N5
        not_asked: 1,                    // T
        not_recorded: 1,                 // N7; 14 + 7 = 21
        screened_outside_indications: 2, // A2 (negative), A3 (positive)
        positive: 12,                    // P1–P3, Q1–Q9 (A3 is not eligible; R and C1 negative)
        advice_given: 10,                // 12 positives but P3 and Q7
        leaflet_given: 9,                // 12 positives but P2, P3 and Q5
        offered: 11,                     // positives with a decision: all but P3 (A3 not eligible)
        accepted: 9,                     // Q1–Q9
        declined: 1,                     // P1
        seen_in_department: 1,           // P2; 9 + 1 + 1 = 11
        booked: 8,                       // Q1, Q2, Q3, Q4, Q5, Q7, Q8, Q9 (Q6 never found a slot)
        booked_within_24h: 6, // first booking within 24 h: Q1, Q2, Q3, Q7, Q8, Q9 (Q4's first and Q5 outside)
        no_slot_in_window: 1, // Q6 (two attempts, one referral); A3 not eligible
        attended: 4,          // latest booking attended: Q1, Q4 and Q9 (their rebookings), Q5
        did_not_attend: 2,    // Q2, Q8 (Q9's did-not-attend is not its latest booking)
        cancelled: 1,         // Q3 (Q4 was rebooked)
        attended_same_day: 3, // Q1, Q4's D 15:00Z, Q9's D 14:00Z
        attended_next_day: 0, //
        attended_later: 1,    // Q5 (D+2)
        did_not_attend_same_day: 1, // Q8
        did_not_attend_next_day: 1, // Q2
        did_not_attend_later: 0, //
    };
    let rates = Rates {
        screening: Some(0.6667),      // 14 / 21 = 0.666…
        positive: Some(0.8571),       // 12 / 14 = 0.857142…
        acceptance: Some(0.9091),     // (9 + 1) / 11 = 0.909090…
        ahw_attendance: Some(0.6667), // 4 / (4 + 2) = 0.666…
        same_day: Some(0.75),         // 3 / (3 + 1)
        next_day: Some(0.0),          // 0 / (0 + 1)
        later: Some(1.0),             // 1 / (1 + 0)
    };
    (counts, rates)
}

/// The pathway dataset grouped by the *recorded* presenting condition.
pub fn pathway_by_condition() -> Vec<(&'static str, Counts, Rates)> {
    vec![
        (
            // N1 refused; P2 positive (advice, no leaflet) seen in department; Q8 positive
            // (advice, leaflet) accepted, same-day booking, did not attend.
            "fall",
            Counts {
                attendances: 3,
                eligible: 3,
                screened: 2,
                refused: 1,
                positive: 2,
                advice_given: 2,
                leaflet_given: 1,
                offered: 2,
                accepted: 1,
                seen_in_department: 1,
                booked: 1,
                booked_within_24h: 1,
                did_not_attend: 1,
                did_not_attend_same_day: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(0.6667),   // 2 / 3
                positive: Some(1.0),       // 2 / 2
                acceptance: Some(1.0),     // (1 + 1) / 2
                ahw_attendance: Some(0.0), // 0 / (0 + 1)
                same_day: Some(0.0),       // 0 / (0 + 1)
                ..Rates::default()
            },
        ),
        (
            // N2 intoxicated; Q3 positive accepted, booked, cancelled.
            "collapse",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 1,
                intoxicated: 1,
                positive: 1,
                advice_given: 1,
                leaflet_given: 1,
                offered: 1,
                accepted: 1,
                booked: 1,
                booked_within_24h: 1,
                cancelled: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(0.5), // 1 / 2
                positive: Some(1.0),
                acceptance: Some(1.0),
                ..Rates::default() // no attended or did-not-attend: nulls
            },
        ),
        (
            // N3 lacks capacity; Q2 positive accepted, next-day booking, did not attend.
            "head_injury",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 1,
                lacks_capacity: 1,
                positive: 1,
                advice_given: 1,
                leaflet_given: 1,
                offered: 1,
                accepted: 1,
                booked: 1,
                booked_within_24h: 1,
                did_not_attend: 1,
                did_not_attend_next_day: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(0.5),
                positive: Some(1.0),
                acceptance: Some(1.0),
                ahw_attendance: Some(0.0), // 0 / 1
                next_day: Some(0.0),       // 0 / 1
                ..Rates::default()
            },
        ),
        (
            // N4 too unwell; Q1 positive accepted, same-day booking, attended.
            "assault",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 1,
                too_unwell: 1,
                positive: 1,
                advice_given: 1,
                leaflet_given: 1,
                offered: 1,
                accepted: 1,
                booked: 1,
                booked_within_24h: 1,
                attended: 1,
                attended_same_day: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(0.5),
                positive: Some(1.0),
                acceptance: Some(1.0),
                ahw_attendance: Some(1.0), // 1 / 1
                same_day: Some(1.0),
                ..Rates::default()
            },
        ),
        (
            // N5 under age; Q7 positive (no advice, leaflet) accepted, booked, no outcome yet.
            "accident",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 1,
                under_age: 1,
                positive: 1,
                leaflet_given: 1,
                offered: 1,
                accepted: 1,
                booked: 1,
                booked_within_24h: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(0.5),
                positive: Some(1.0),
                acceptance: Some(1.0),
                ..Rates::default()
            },
        ),
        (
            // P3 positive (no advice, no leaflet), no decision; Q4 positive accepted: first booking
            // D+2 (outside the window) cancelled, rebooked same day, attended.
            "unwell",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 2,
                positive: 2,
                advice_given: 1,
                leaflet_given: 1,
                offered: 1,
                accepted: 1,
                booked: 1,
                booked_within_24h: 0, // the *first* booking was outside the window
                attended: 1,
                attended_same_day: 1, // the *latest* booking's lead time
                ..Counts::default()
            },
            Rates {
                screening: Some(1.0),  // 2 / 2
                positive: Some(1.0),   // 2 / 2
                acceptance: Some(1.0), // 1 / 1
                ahw_attendance: Some(1.0),
                same_day: Some(1.0),
                ..Rates::default()
            },
        ),
        (
            // N7 no screening at all (WEST); Q6 positive accepted, automatic booking found no slot.
            "gastrointestinal",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 1,
                not_recorded: 1,
                positive: 1,
                advice_given: 1,
                leaflet_given: 1,
                offered: 1,
                accepted: 1,
                no_slot_in_window: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(0.5),
                positive: Some(1.0),
                acceptance: Some(1.0),
                ..Rates::default()
            },
        ),
        (
            // C1 refused then corrected to a completed negative; Q5 positive (advice, no leaflet)
            // accepted, booked D+2 outside the window (no capacity), attended.
            "cardiac",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 2,
                positive: 1,
                advice_given: 1,
                offered: 1,
                accepted: 1,
                booked: 1,
                attended: 1,
                attended_later: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(1.0), // 2 / 2
                positive: Some(0.5),  // 1 / 2
                acceptance: Some(1.0),
                ahw_attendance: Some(1.0),
                later: Some(1.0),
                ..Rates::default()
            },
        ),
        (
            // P1 positive declined; Q9 positive accepted: same-day booking not attended, rebooked
            // the same day, attended.
            "psychiatric",
            Counts {
                attendances: 2,
                eligible: 2,
                screened: 2,
                positive: 2,
                advice_given: 2,
                leaflet_given: 2,
                offered: 2,
                accepted: 1,
                declined: 1,
                booked: 1,
                booked_within_24h: 1,
                attended: 1,
                attended_same_day: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(1.0),      // 2 / 2
                positive: Some(1.0),       // 2 / 2
                acceptance: Some(0.5),     // (1 + 0) / 2
                ahw_attendance: Some(1.0), // 1 / (1 + 0): the latest booking only
                same_day: Some(1.0),
                ..Rates::default()
            },
        ),
        (
            // T, recorded as a repeat attender, not asked. (R is recorded `other`.)
            "repeat_attender",
            Counts {
                attendances: 1,
                eligible: 1,
                not_asked: 1,
                ..Counts::default()
            },
            Rates {
                screening: Some(0.0), // 0 / 1
                ..Rates::default()
            },
        ),
        (
            // A1–A4 not eligible (A2, A3 screened anyway); R eligible as a derived repeat
            // attender, screened negative.
            "other",
            Counts {
                attendances: 5,
                eligible: 1,
                screened: 1,
                screened_outside_indications: 2,
                ..Counts::default()
            },
            Rates {
                screening: Some(1.0), // 1 / 1
                positive: Some(0.0),  // 0 / 1
                ..Rates::default()
            },
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Hand working for the disclosure dataset (`disclosure_dataset`, table in datasets.rs)

/// `disclosure_dataset` without disclosure control, by hand from its table.
pub fn disclosure_truth() -> (Counts, Rates) {
    let counts = Counts {
        attendances: 12,
        eligible: 12,
        screened: 11, // 10 positive + 1 negative
        refused: 1,   // #11
        screened_outside_indications: 0,
        positive: 10, // #0–#9
        advice_given: 10,
        leaflet_given: 10,
        offered: 10,
        accepted: 9, // #0–#8
        declined: 1, // #9
        booked: 9,
        booked_within_24h: 9, // all within 24 h (#8 is 22 h 10 min after its screening)
        attended: 9,
        attended_same_day: 8, // #0–#7
        attended_next_day: 1, // #8
        ..Counts::default()
    };
    let rates = Rates {
        screening: Some(0.9167),   // 11 / 12 = 0.91666…
        positive: Some(0.9091),    // 10 / 11 = 0.90909…
        acceptance: Some(0.9),     // (9 + 0) / 10
        ahw_attendance: Some(1.0), // 9 / (9 + 0)
        same_day: Some(1.0),       // 8 / 8
        next_day: Some(1.0),       // 1 / 1
        later: None,               // 0 / 0
    };
    (counts, rates)
}
