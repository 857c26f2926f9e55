//! Rows as SQL text: literals both PostgreSQL and SQLite read, multi-row INSERT statements, and
//! the order the tables' foreign keys need.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use uuid::Uuid;

use super::rows::{
    AttemptRow, AttendanceRow, Batch, BookingRow, Counts, FollowUpRow, HealthWorkerRow, ReferralRow, ScreeningRow,
    SlotRow,
};
use super::{ACTOR, BATCH_ROWS, SOURCE_SYSTEM};

/// A value written as an SQL literal that both PostgreSQL and SQLite read into the column's
/// type: uuids and times as text (PostgreSQL casts the literal to `uuid` / `timestamptz`; on
/// SQLite they are TEXT in the layout of `db::types`), booleans as TRUE/FALSE.
pub(super) trait Literal {
    fn write(&self, sql: &mut String);
}

/// Appends `s` as a single-quoted SQL string, doubling quotes. (Generated text only; NUL never
/// occurs.)
pub(super) fn quote(s: &str, sql: &mut String) {
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

pub(super) fn tuple(sql: &mut String, values: &[&dyn Literal]) {
    sql.push('(');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        v.write(sql);
    }
    sql.push(')');
}

/// A row type and the table it is inserted into.
trait Row {
    const TABLE: &'static str;
    /// The columns written, in the order `values` writes them.
    const COLUMNS: &'static str;
    /// Appends the row as a tuple of literals, one for each of `COLUMNS`.
    fn values(&self, sql: &mut String);
}

/// One multi-row INSERT of `rows`, in their order.
fn insert<R: Row>(rows: &[R]) -> String {
    let mut sql = String::with_capacity(64 + rows.len() * 320);
    sql.push_str("INSERT INTO ");
    sql.push_str(R::TABLE);
    sql.push_str(" (");
    sql.push_str(R::COLUMNS);
    sql.push_str(") VALUES ");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        r.values(&mut sql);
    }
    sql
}

/// Implements [`Row`] for a row type: its table, then each column with the value written for it
/// (`|r|` names the row), so a column and its value are written once, side by side.
macro_rules! row {
    ($row:ty => $table:literal, |$r:ident| { $first:ident: $first_value:expr $(, $column:ident: $value:expr)* $(,)? }) => {
        impl Row for $row {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static str = concat!(stringify!($first) $(, ", ", stringify!($column))*);
            fn values(&self, sql: &mut String) {
                let $r = self;
                tuple(sql, &[&$first_value $(, &$value)*]);
            }
        }
    };
}

row!(HealthWorkerRow => "health_workers", |r| {
    id: r.id,
    name: r.name,
    staff_id: r.staff_id,
    subject: r.subject,
    created_at: r.created_at,
    created_by: ACTOR,
});

row!(AttendanceRow => "attendances", |r| {
    id: r.id,
    source_system: SOURCE_SYSTEM,
    source_id: r.source_id,
    patient_key: r.patient_key,
    nhs_number: r.nhs_number,
    local_id: r.local_id,
    sex: r.sex,
    date_of_birth: r.date_of_birth,
    site: r.site,
    arrived_at: r.arrived_at,
    presenting_condition: r.presenting_condition,
    presenting_condition_detail: r.detail,
    attendance_category: r.category,
    indications: r.indications,
    pat_indicated: r.pat_indicated,
    created_at: r.created_at,
    created_by: ACTOR,
});

row!(ScreeningRow => "screenings", |r| {
    id: r.id,
    attendance_id: r.attendance_id,
    version: 1i32,
    status: r.status,
    rule: r.rule,
    result: r.result,
    units: r.units,
    answers: r.answers,
    alerts: r.alerts,
    advice_given: r.advice_given,
    leaflet_given: r.leaflet_given,
    screened_at: r.screened_at,
    recorded_at: r.recorded_at,
    recorded_by: ACTOR,
});

row!(ReferralRow => "referrals", |r| {
    attendance_id: r.attendance_id,
    decision: r.decision,
    decided_at: r.decided_at,
    recorded_at: r.recorded_at,
    recorded_by: ACTOR,
});

row!(SlotRow => "slots", |r| {
    id: r.id,
    health_worker_id: r.health_worker_id,
    starts_at: r.starts_at,
    ends_at: r.ends_at,
    created_at: r.created_at,
    created_by: ACTOR,
});

row!(BookingRow => "bookings", |r| {
    id: r.id,
    attendance_id: r.attendance_id,
    slot_id: r.slot_id,
    status: r.status,
    within_window: r.within_window,
    outside_window_reason: r.outside_window_reason,
    booked_at: r.booked_at,
    booked_by: ACTOR,
    outcome_at: r.outcome_at,
    outcome_by: r.outcome_at.map(|_| ACTOR),
    brief_intervention_delivered: r.brief_intervention_delivered,
    units_per_week: r.units_per_week,
    cancel_reason: r.cancel_reason,
    lead_time: r.lead_time,
});

row!(AttemptRow => "booking_attempts", |r| {
    id: r.id,
    attendance_id: r.attendance_id,
    attempted_at: r.attempted_at,
    window_ends_at: r.window_ends_at,
    attempted_by: ACTOR,
});

row!(FollowUpRow => "follow_ups", |r| {
    id: r.id,
    attendance_id: r.attendance_id,
    months: r.months,
    units_per_week: r.units_per_week,
    contacted_at: r.contacted_at,
    recorded_at: r.recorded_at,
    recorded_by: ACTOR,
});

/// The tables in the order their foreign keys need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Table {
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
    pub(super) fn len(&self, table: Table) -> usize {
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
    pub(super) fn due(&self, all: bool) -> Vec<Table> {
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
    /// of the list (so taking a long list in pieces moves nothing), counted in `counts`.
    pub(super) fn take_sql(&mut self, table: Table, max_rows: usize, counts: &mut Counts) -> String {
        fn take<T>(rows: &mut Vec<T>, max: usize, count: &mut u64) -> Vec<T> {
            let taken = if rows.len() <= max {
                std::mem::take(rows)
            } else {
                rows.split_off(rows.len() - max)
            };
            *count += taken.len() as u64;
            taken
        }
        match table {
            Table::HealthWorkers => insert(&take(&mut self.health_workers, max_rows, &mut counts.health_workers)),
            Table::Attendances => insert(&take(&mut self.attendances, max_rows, &mut counts.attendances)),
            Table::Screenings => insert(&take(&mut self.screenings, max_rows, &mut counts.screenings)),
            Table::Referrals => insert(&take(&mut self.referrals, max_rows, &mut counts.referrals)),
            Table::Slots => {
                // Sorted by start before the final phase: the end of the list is the latest, and
                // each statement goes latest first (see `Table::deferred`).
                let mut rows = take(&mut self.slots, max_rows, &mut counts.slots);
                rows.reverse();
                insert(&rows)
            }
            Table::Bookings => insert(&take(&mut self.bookings, max_rows, &mut counts.bookings)),
            Table::Attempts => insert(&take(&mut self.attempts, max_rows, &mut counts.booking_attempts)),
            Table::FollowUps => insert(&take(&mut self.follow_ups, max_rows, &mut counts.follow_ups)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::demo::generator::test_support::{fixed_now, generate};

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
}
