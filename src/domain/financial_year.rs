//! Reporting periods: calendar months and NHS financial years (1 April to 31 March) with
//! Europe/London boundaries (docs/domain.md §7), as half-open date ranges `[from, to)` and the UTC
//! instants of their local midnights.
//!
//! Dates near the end of what chrono represents (the year 262142) have no 1 April after them:
//! there an end saturates at the last representable date. Requests are limited to the years 1900
//! to 2200 and clocks read the present, so this only keeps the functions total.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};

use super::calendar::london_midnight;

/// 1 April starting the NHS financial year that contains `date`.
pub fn financial_year_start(date: NaiveDate) -> NaiveDate {
    let year = if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    };
    // 1 April of a year chrono represents always exists; the year before the first one
    // (January–March of the year -262143) does not, and there `date` is the earliest start.
    NaiveDate::from_ymd_opt(year, 4, 1).unwrap_or(date)
}

/// 1 April ending the NHS financial year that contains `date` (the next year's start: the
/// exclusive end of the year).
pub fn financial_year_end(date: NaiveDate) -> NaiveDate {
    saturating_add_months(financial_year_start(date), 12)
}

/// `2024/25` for the year starting 1 April 2024.
pub fn financial_year_label(start: NaiveDate) -> String {
    let year = start.year();
    format!("{year}/{:02}", (year + 1).rem_euclid(100))
}

/// The current financial year to date, `[1 April, tomorrow)` for the London date `today`: the
/// default range of the funnel and the reattendance measures.
pub fn financial_year_to_date(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (
        financial_year_start(today),
        today.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX),
    )
}

/// A period as calendar dates `[from, to)` with its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The whole range `[from, to)` as one period, keyed `all`.
    pub fn whole(from: NaiveDate, to: NaiveDate) -> Period {
        Period {
            key: "all".into(),
            from,
            to,
        }
    }

    /// The UTC instant the period starts: the London midnight starting `from`.
    pub fn start(&self) -> DateTime<Utc> {
        london_midnight(self.from)
    }

    /// The UTC instant the period ends (exclusive): the London midnight starting `to`.
    pub fn end(&self) -> DateTime<Utc> {
        london_midnight(self.to)
    }

    /// For a financial year of [`financial_years`]: whether the figures cover less than the whole
    /// year, because the range cut it short or because the year has not ended by `today`.
    pub fn is_partial_financial_year(&self, today: NaiveDate) -> bool {
        let start = financial_year_start(self.from);
        let whole_end = financial_year_end(self.from);
        self.from != start || self.to != whole_end || whole_end > today
    }
}

/// Splits `[from, to)` into calendar months, keyed `2024-04`; the first and last may be partial.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<Period> {
    split(from, to, |d| {
        // Day 1 of a date's month always exists.
        let first = d.with_day(1).unwrap_or(d);
        (first.format("%Y-%m").to_string(), saturating_add_months(first, 1))
    })
}

/// Splits `[from, to)` into NHS financial years, keyed `2024/25`; the first and last may be
/// partial.
pub fn financial_years(from: NaiveDate, to: NaiveDate) -> Vec<Period> {
    split(from, to, |d| {
        let start = financial_year_start(d);
        (financial_year_label(start), financial_year_end(d))
    })
}

/// `date` plus `months`, or the last date chrono represents when that is beyond it.
fn saturating_add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX)
}

fn split(from: NaiveDate, to: NaiveDate, period_of: impl Fn(NaiveDate) -> (String, NaiveDate)) -> Vec<Period> {
    let mut periods = Vec::new();
    let mut start = from;
    while start < to {
        let (key, next) = period_of(start);
        let end = next.min(to);
        if end <= start {
            break;
        }
        periods.push(Period {
            key,
            from: start,
            to: end,
        });
        start = end;
    }
    periods
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::calendar::london_date;
    use crate::domain::calendar::test_support::{date, utc};

    #[test]
    fn financial_years_start_on_1_april() {
        // (date, the 1 April starting its financial year, the 1 April ending it)
        let cases = [
            ("2025-03-31", "2024-04-01", "2025-04-01"),
            ("2025-04-01", "2025-04-01", "2026-04-01"),
        ];
        for (day, start, end) in cases {
            assert_eq!(financial_year_start(date(day)), date(start), "{day}");
            assert_eq!(financial_year_end(date(day)), date(end), "{day}");
        }
        assert_eq!(financial_year_label(date("2008-04-01")), "2008/09");
        assert_eq!(financial_year_label(date("2099-04-01")), "2099/00");
        // 00:30 BST on 1 April 2025 is 23:30 UTC on 31 March: the new financial year.
        assert_eq!(london_date(utc("2025-03-31T23:30:00Z")), date("2025-04-01"));
    }

    #[test]
    fn the_year_to_date_runs_from_1_april_to_tomorrow() {
        // (today, from, to)
        let cases = [
            ("2025-07-15", "2025-04-01", "2025-07-16"),
            ("2025-03-31", "2024-04-01", "2025-04-01"),
            ("2025-04-01", "2025-04-01", "2025-04-02"),
        ];
        for (today, from, to) in cases {
            assert_eq!(financial_year_to_date(date(today)), (date(from), date(to)), "{today}");
        }
    }

    fn keys(periods: &[Period]) -> Vec<&str> {
        periods.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn ranges_split_into_whole_and_partial_periods() {
        let years = financial_years(date("2024-01-15"), date("2026-04-01"));
        assert_eq!(keys(&years), ["2023/24", "2024/25", "2025/26"]);
        assert_eq!(years[0].from, date("2024-01-15"));
        assert_eq!(years[0].to, date("2024-04-01"));
        assert_eq!(years[2].to, date("2026-04-01"));

        let months = months(date("2024-12-20"), date("2025-02-10"));
        assert_eq!(keys(&months), ["2024-12", "2025-01", "2025-02"]);
        assert_eq!(months[0].from, date("2024-12-20"));
        assert_eq!(months[1].from, date("2025-01-01"));
        assert_eq!(months[2].to, date("2025-02-10"));

        assert!(months_is_empty_for_an_empty_range());
    }

    fn months_is_empty_for_an_empty_range() -> bool {
        months(date("2025-01-01"), date("2025-01-01")).is_empty()
    }

    #[test]
    fn a_period_starts_and_ends_at_london_midnights() {
        // 2024/25: 1 April 2024 and 1 April 2025 are both in BST.
        let year = Period {
            key: "2024/25".into(),
            from: date("2024-04-01"),
            to: date("2025-04-01"),
        };
        assert_eq!(year.start(), utc("2024-03-31T23:00:00Z"));
        assert_eq!(year.end(), utc("2025-03-31T23:00:00Z"));
        // March 2025 starts in GMT and ends in BST; the whole of the autumn change's month.
        let months = months(date("2025-03-01"), date("2025-11-01"));
        assert_eq!(months[0].start(), utc("2025-03-01T00:00:00Z"));
        assert_eq!(months[0].end(), utc("2025-03-31T23:00:00Z"));
        assert_eq!(months[7].key, "2025-10");
        assert_eq!(months[7].start(), utc("2025-09-30T23:00:00Z"));
        assert_eq!(months[7].end(), utc("2025-11-01T00:00:00Z"));
        let all = Period::whole(date("2025-03-29"), date("2025-10-27"));
        assert_eq!(all.key, "all");
        assert_eq!(all.start(), utc("2025-03-29T00:00:00Z"));
        assert_eq!(all.end(), utc("2025-10-27T00:00:00Z"));
    }

    #[test]
    fn a_financial_year_is_partial_when_cut_short_or_not_ended() {
        let years = financial_years(date("2024-01-15"), date("2026-04-01"));
        let today = date("2025-07-15");
        assert!(years[0].is_partial_financial_year(today), "from 15 January");
        assert!(!years[1].is_partial_financial_year(today), "2024/25 is whole and ended");
        assert!(years[2].is_partial_financial_year(today), "2025/26 has not ended");
        assert!(
            !years[2].is_partial_financial_year(date("2026-04-01")),
            "ended on 31 March"
        );
        assert!(
            years[2].is_partial_financial_year(date("2026-03-31")),
            "31 March is still in it"
        );
        let clipped = financial_years(date("2024-04-01"), date("2024-10-01"));
        assert!(clipped[0].is_partial_financial_year(today), "to 1 October");
    }

    proptest! {
        #[test]
        fn periods_tile_the_range_in_order(
            start in 0i64..(300 * 366),
            length in 1i64..(3 * 366),
            by_month in any::<bool>(),
        ) {
            let from = date("1900-01-01") + chrono::Duration::days(start);
            let to = from + chrono::Duration::days(length);
            let periods = if by_month { months(from, to) } else { financial_years(from, to) };
            prop_assert!(!periods.is_empty());
            prop_assert_eq!(periods[0].from, from);
            prop_assert_eq!(periods[periods.len() - 1].to, to);
            for pair in periods.windows(2) {
                prop_assert_eq!(pair[0].to, pair[1].from);
                prop_assert_eq!(pair[0].end(), pair[1].start());
            }
            for p in &periods {
                prop_assert!(p.from < p.to);
                prop_assert!(p.start() < p.end());
                if by_month {
                    prop_assert_eq!(&p.key, &p.from.format("%Y-%m").to_string());
                    let first = p.from.with_day(1).unwrap();
                    prop_assert!(p.to <= saturating_add_months(first, 1));
                    prop_assert!(p.to == to || p.to.day() == 1);
                } else {
                    let year = financial_year_start(p.from);
                    prop_assert_eq!(&p.key, &financial_year_label(year));
                    prop_assert!(p.to <= financial_year_end(p.from));
                    prop_assert!(p.to == to || (p.to.month(), p.to.day()) == (4, 1));
                }
            }
        }
    }
}
