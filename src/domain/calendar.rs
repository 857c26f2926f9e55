//! The Europe/London calendar: ED days, appointment days and reporting periods are London dates
//! and London clock times, whatever the server's time zone (docs/domain.md §6 and §7). This is the one
//! place that turns a London date or local time into a UTC instant, and an instant into a London
//! date.
//!
//! UK clocks change at 01:00 UTC on the last Sunday of March (forward, GMT to BST: local 01:00 to
//! 01:59 does not exist) and of October (back, BST to GMT: local 01:00 to 01:59 happens twice).

use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;

/// UTC instant of midnight at the start of `date` in Europe/London. UK clocks change at 01:00
/// UTC, never at midnight, so local midnight always exists and is never ambiguous; `earliest`
/// is only a safeguard.
pub fn london_midnight(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    match London.from_local_datetime(&midnight).earliest() {
        Some(local) => local.with_timezone(&Utc),
        None => Utc.from_utc_datetime(&midnight),
    }
}

/// The Europe/London calendar date of an instant.
pub fn london_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&London).date_naive()
}

/// The Europe/London calendar day `date` as a half-open UTC range `[start, end)`: from its local
/// midnight to the next one. 23 hours long on the spring clock change, 25 on the autumn one.
///
/// The last date chrono represents has no next day: its range is empty (`end == start`).
pub fn london_day(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (london_midnight(date), london_midnight(date.succ_opt().unwrap_or(date)))
}

/// The instant of a Europe/London local time: on the autumn change (01:00 to 01:59 twice) the
/// earlier of the two, still BST; on the spring change none, since that local time does not
/// exist.
pub fn london_instant(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    match London.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earliest, _) => Some(earliest.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// Dates, times and instants written as text in tests (`2025-03-30`, `01:30`,
/// `2025-03-30T01:00:00Z`).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_support {
    use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

    pub(crate) fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    pub(crate) fn time(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    pub(crate) fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{Datelike, Duration, Timelike, Weekday};
    use proptest::prelude::*;

    use super::test_support::{date, time, utc};
    use super::*;

    #[test]
    fn london_midnight_follows_the_clock() {
        // (London date, UTC instant of its midnight). Winter: GMT, midnight is 00:00 UTC.
        // Summer: BST, midnight is 23:00 UTC the day before.
        let cases = [
            ("2025-01-15", "2025-01-15T00:00:00Z"),
            ("2025-04-01", "2025-03-31T23:00:00Z"),
            // BST began at 01:00 UTC on Sunday 30 March 2025: that day's midnight was still GMT.
            ("2025-03-30", "2025-03-30T00:00:00Z"),
            ("2025-03-31", "2025-03-30T23:00:00Z"),
            // BST ended at 01:00 UTC on Sunday 26 October 2025.
            ("2025-10-26", "2025-10-25T23:00:00Z"),
            ("2025-10-27", "2025-10-27T00:00:00Z"),
        ];
        for (day, midnight) in cases {
            assert_eq!(london_midnight(date(day)), utc(midnight), "{day}");
        }
    }

    #[test]
    fn a_london_day_follows_summer_time() {
        let (from, to) = london_day(date("2025-07-01"));
        assert_eq!(from.to_rfc3339(), "2025-06-30T23:00:00+00:00");
        assert_eq!(to - from, Duration::hours(24));
        // 30 March 2025 is 23 hours long in London.
        let (from, to) = london_day(date("2025-03-30"));
        assert_eq!(to - from, Duration::hours(23));
    }

    #[test]
    fn london_days_around_the_2025_clock_changes() {
        // (London date, UTC start, UTC end, hours). Saturday 29 March is the last GMT day;
        // Sunday 30 March loses 01:00–02:00; Sunday 26 October repeats 01:00–02:00.
        let cases = [
            ("2025-03-29", "2025-03-29T00:00:00Z", "2025-03-30T00:00:00Z", 24),
            ("2025-03-30", "2025-03-30T00:00:00Z", "2025-03-30T23:00:00Z", 23),
            ("2025-03-31", "2025-03-30T23:00:00Z", "2025-03-31T23:00:00Z", 24),
            ("2025-10-25", "2025-10-24T23:00:00Z", "2025-10-25T23:00:00Z", 24),
            ("2025-10-26", "2025-10-25T23:00:00Z", "2025-10-27T00:00:00Z", 25),
            ("2025-10-27", "2025-10-27T00:00:00Z", "2025-10-28T00:00:00Z", 24),
        ];
        for (day, start, end, hours) in cases {
            let (from, to) = london_day(date(day));
            assert_eq!((from, to), (utc(start), utc(end)), "{day}");
            assert_eq!(to - from, Duration::hours(hours), "{day}");
        }
    }

    #[test]
    fn london_dates_around_the_2025_clock_changes() {
        // (instant, London date)
        let cases = [
            ("2025-03-29T23:59:59Z", "2025-03-29"), // 23:59:59 GMT
            ("2025-03-30T00:00:00Z", "2025-03-30"), // 00:00 GMT
            ("2025-03-30T00:59:59Z", "2025-03-30"), // 00:59:59 GMT, the last second before BST
            ("2025-03-30T01:00:00Z", "2025-03-30"), // 02:00 BST
            ("2025-03-30T22:59:59Z", "2025-03-30"), // 23:59:59 BST
            ("2025-03-30T23:00:00Z", "2025-03-31"), // 00:00 BST
            ("2025-10-25T22:59:59Z", "2025-10-25"), // 23:59:59 BST
            ("2025-10-25T23:00:00Z", "2025-10-26"), // 00:00 BST
            ("2025-10-26T00:30:00Z", "2025-10-26"), // 01:30 BST, the first time
            ("2025-10-26T01:30:00Z", "2025-10-26"), // 01:30 GMT, the second time
            ("2025-10-26T23:59:59Z", "2025-10-26"), // 23:59:59 GMT
            ("2025-10-27T00:00:00Z", "2025-10-27"), // 00:00 GMT
            // 00:30 BST on 1 April 2025 is 23:30 UTC on 31 March.
            ("2025-03-31T23:30:00Z", "2025-04-01"),
        ];
        for (instant, day) in cases {
            assert_eq!(london_date(utc(instant)), date(day), "{instant}");
        }
    }

    #[test]
    fn local_times_around_the_2025_clock_changes() {
        // (London date, local time, instant or None when that local time does not exist)
        let cases = [
            ("2025-03-29", "01:30", Some("2025-03-29T01:30:00Z")), // GMT: the day before
            ("2025-03-30", "00:00", Some("2025-03-30T00:00:00Z")),
            ("2025-03-30", "00:59", Some("2025-03-30T00:59:00Z")),
            ("2025-03-30", "01:00", None), // the clocks jump from 01:00 GMT to 02:00 BST
            ("2025-03-30", "01:30", None),
            ("2025-03-30", "01:59", None),
            ("2025-03-30", "02:00", Some("2025-03-30T01:00:00Z")),
            ("2025-03-30", "09:00", Some("2025-03-30T08:00:00Z")),
            ("2025-10-26", "00:59", Some("2025-10-25T23:59:00Z")),
            // 01:00–01:59 happens twice: the earlier, BST, is taken.
            ("2025-10-26", "01:00", Some("2025-10-26T00:00:00Z")),
            ("2025-10-26", "01:30", Some("2025-10-26T00:30:00Z")),
            ("2025-10-26", "01:59", Some("2025-10-26T00:59:00Z")),
            ("2025-10-26", "02:00", Some("2025-10-26T02:00:00Z")),
            ("2025-10-27", "09:00", Some("2025-10-27T09:00:00Z")),
        ];
        for (day, local, expected) in cases {
            assert_eq!(
                london_instant(date(day), time(local)),
                expected.map(utc),
                "{day} {local}"
            );
        }
    }

    /// The last Sunday of `month` in `year`: the day of a UK clock change since 1996 (EU rules).
    fn last_sunday(year: i32, month: u32) -> NaiveDate {
        let first_of_next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }
        .unwrap();
        first_of_next
            .pred_opt()
            .unwrap()
            .iter_days()
            .rev()
            .find(|d| d.weekday() == Weekday::Sun)
            .unwrap()
    }

    #[test]
    fn last_sunday_finds_the_2025_changes() {
        assert_eq!(last_sunday(2025, 3), date("2025-03-30"));
        assert_eq!(last_sunday(2025, 10), date("2025-10-26"));
    }

    proptest! {
        #[test]
        fn a_london_day_holds_exactly_its_instants(
            days in 0i64..(300 * 366),
            seconds in 0i64..(25 * 3600),
        ) {
            // Any date from 1900 to about 2200: its day starts at its midnight, every instant of
            // it maps back to it, and it ends where the next day starts.
            let day = date("1900-01-01") + Duration::days(days);
            let (start, end) = london_day(day);
            prop_assert_eq!(start, london_midnight(day));
            prop_assert_eq!(end, london_midnight(day.succ_opt().unwrap()));
            prop_assert_eq!(london_date(start), day);
            prop_assert!(end > start);
            let t = start + Duration::seconds(seconds);
            prop_assert_eq!(london_date(t) == day, t < end, "{} at {}", day, t);
            prop_assert_eq!(london_date(end - Duration::seconds(1)), day);
        }

        #[test]
        fn day_lengths_change_only_on_the_last_sundays_of_march_and_october(
            days in 0i64..(100 * 366),
        ) {
            // Since 1996 (EU rules): 23 hours on the last Sunday of March, 25 on the last Sunday
            // of October, 24 on every other day.
            let day = date("1996-01-01") + Duration::days(days);
            let (start, end) = london_day(day);
            let hours = if day == last_sunday(day.year(), 3) {
                23
            } else if day == last_sunday(day.year(), 10) {
                25
            } else {
                24
            };
            prop_assert_eq!(end - start, Duration::hours(hours), "{}", day);
        }

        #[test]
        fn a_local_time_is_missing_or_doubled_only_at_the_changes(
            days in 0i64..(100 * 366),
            minute in 0u32..(24 * 60),
        ) {
            let day = date("1996-01-01") + Duration::days(days);
            let local = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap();
            let in_changed_hour = local.hour() == 1;
            match london_instant(day, local) {
                None => {
                    // Only 01:00–01:59 on the spring change does not exist.
                    prop_assert!(in_changed_hour && day == last_sunday(day.year(), 3), "{} {}", day, local);
                }
                Some(t) => {
                    // It is that local time, on that London date...
                    let shown = t.with_timezone(&London);
                    prop_assert_eq!(shown.date_naive(), day);
                    prop_assert_eq!(shown.time(), local);
                    // ... and when it happens twice, the earlier: an hour before the other one.
                    if in_changed_hour && day == last_sunday(day.year(), 10) {
                        let later = t + Duration::hours(1);
                        prop_assert_eq!(later.with_timezone(&London).time(), local);
                    } else {
                        let later = t + Duration::hours(1);
                        prop_assert_ne!(later.with_timezone(&London).time(), local);
                    }
                    // The earlier of two: an hour before, it was not that local time yet.
                    let earlier = t - Duration::hours(1);
                    prop_assert_ne!(earlier.with_timezone(&London).time(), local);
                }
            }
        }
    }
}
