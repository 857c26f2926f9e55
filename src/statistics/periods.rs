//! Reporting periods: calendar months and NHS financial years with Europe/London boundaries
//! (DOMAIN.md §7), turned into half-open UTC ranges for the queries.

use chrono::{Datelike, Months, NaiveDate};

use crate::db::statistics::PeriodBounds;
use crate::domain::calendar::london_midnight;

/// 1 April starting the NHS financial year that contains `date`.
pub fn financial_year_start(date: NaiveDate) -> NaiveDate {
    let year = if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    };
    NaiveDate::from_ymd_opt(year, 4, 1).unwrap_or(date)
}

/// `2024/25` for the year starting 1 April 2024.
pub fn financial_year_label(start: NaiveDate) -> String {
    let year = start.year();
    format!("{year}/{:02}", (year + 1).rem_euclid(100))
}

/// A period as calendar dates `[from, to)` with its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn bounds(&self) -> PeriodBounds {
        PeriodBounds {
            key: self.key.clone(),
            start: london_midnight(self.from),
            end: london_midnight(self.to),
        }
    }
}

/// Splits `[from, to)` into calendar months, keyed `2024-04`; the first and last may be partial.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<Period> {
    split(from, to, |d| {
        let first = d.with_day(1).unwrap_or(d);
        let next = first.checked_add_months(Months::new(1)).unwrap_or(to);
        (first.format("%Y-%m").to_string(), next)
    })
}

/// Splits `[from, to)` into NHS financial years, keyed `2024/25`; the first and last may be
/// partial.
pub fn financial_years(from: NaiveDate, to: NaiveDate) -> Vec<Period> {
    split(from, to, |d| {
        let start = financial_year_start(d);
        let next = start.checked_add_months(Months::new(12)).unwrap_or(to);
        (financial_year_label(start), next)
    })
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
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::calendar::london_date;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn financial_years_start_on_1_april() {
        assert_eq!(financial_year_start(date("2025-03-31")), date("2024-04-01"));
        assert_eq!(financial_year_start(date("2025-04-01")), date("2025-04-01"));
        assert_eq!(financial_year_label(date("2008-04-01")), "2008/09");
        assert_eq!(financial_year_label(date("2099-04-01")), "2099/00");
        // 00:30 BST on 1 April 2025 is 23:30 UTC on 31 March: the new financial year.
        assert_eq!(london_date(utc("2025-03-31T23:30:00Z")), date("2025-04-01"));
    }

    #[test]
    fn ranges_split_into_whole_and_partial_periods() {
        let years = financial_years(date("2024-01-15"), date("2026-04-01"));
        let keys: Vec<&str> = years.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["2023/24", "2024/25", "2025/26"]);
        assert_eq!(years[0].from, date("2024-01-15"));
        assert_eq!(years[0].to, date("2024-04-01"));
        assert_eq!(years[2].to, date("2026-04-01"));

        let months = months(date("2024-12-20"), date("2025-02-10"));
        let keys: Vec<&str> = months.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["2024-12", "2025-01", "2025-02"]);
        assert_eq!(months[0].from, date("2024-12-20"));
        assert_eq!(months[1].from, date("2025-01-01"));
        assert_eq!(months[2].to, date("2025-02-10"));

        assert!(months_is_empty_for_an_empty_range());
    }

    fn months_is_empty_for_an_empty_range() -> bool {
        months(date("2025-01-01"), date("2025-01-01")).is_empty()
    }
}
