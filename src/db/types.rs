//! Column types, so rows carry domain values and nothing above the stores decodes a string.
//!
//! - Two portable SQL types, so one diesel schema serves both backends through the
//!   `MultiConnection` enum (docs/design.md §2, §9): a UUID that is `uuid` on PostgreSQL and TEXT on
//!   SQLite, and a UTC timestamp that is `timestamptz` on PostgreSQL and TEXT on SQLite.
//! - Typed TEXT columns: the domain's code enums (`PresentingCondition`, `ReferralDecision`, …)
//!   are written as their codes and read back into the enum, through diesel's `foreign_derive`
//!   so that the domain types themselves know nothing of the database. Code lists (an
//!   attendance's indications, a screening's alerts) are [`Codes`], stored comma-joined; the PAT
//!   answers are [`JsonText`]. The database keeps its CHECK constraints: a value the code never
//!   wrote is refused on the way in and reported as a deserialisation error on the way out.

use std::io::Write;

use chrono::{DateTime, SubsecRound, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, Text, Timestamptz};
use diesel::sqlite::{Sqlite, SqliteValue};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Serialize;
use uuid::Uuid;

use super::conn::{MultiBackend, MultiRawValue};
use crate::domain::attendance::AttendanceCategory;
use crate::domain::eligibility::PresentingCondition;
use crate::domain::nhs_number::NhsNumber;
use crate::domain::pat::{Alert, PatResult, PatRule, ScreeningStatus, Sex};
use crate::domain::scheduling::{AhwContact, BookingStatus, LeadTime, OutsideWindowReason, ReferralDecision};

/// SQL type of a UUID column: `uuid` on PostgreSQL (oid 2950), TEXT on SQLite.
#[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId, Clone, Copy, Debug, Default)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PortableUuid;

/// SQL type of a UTC instant: `timestamptz` on PostgreSQL (oid 1184), TEXT on SQLite.
#[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId, Clone, Copy, Debug, Default)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PortableTime;

/// A UUID as stored in the database.
#[derive(AsExpression, FromSqlRow, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[diesel(sql_type = PortableUuid)]
pub struct DbUuid(pub Uuid);

/// A UTC instant as stored in the database, truncated to microseconds (PostgreSQL's precision)
/// so both backends give back exactly what was stored. On SQLite it is written as
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: fixed width, so text order is time order and range queries
/// and indexes work on the TEXT column.
#[derive(AsExpression, FromSqlRow, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[diesel(sql_type = PortableTime)]
pub struct DbTime(DateTime<Utc>);

impl DbTime {
    pub fn new(t: DateTime<Utc>) -> Self {
        DbTime(t.trunc_subsecs(6))
    }
    pub fn now() -> Self {
        Self::new(Utc::now())
    }
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
    fn to_sqlite_text(self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

impl From<DateTime<Utc>> for DbTime {
    fn from(t: DateTime<Utc>) -> Self {
        DbTime::new(t)
    }
}

impl From<Uuid> for DbUuid {
    fn from(u: Uuid) -> Self {
        DbUuid(u)
    }
}

// --- PostgreSQL ---

impl ToSql<PortableUuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<PortableUuid, Pg> for DbUuid {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(DbUuid(Uuid::from_slice(bytes.as_bytes())?))
    }
}

impl ToSql<PortableTime, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<PortableTime, Pg> for DbTime {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(DbTime::new(<DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(
            bytes,
        )?))
    }
}

// --- SQLite ---

impl ToSql<PortableUuid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<PortableUuid, Sqlite> for DbUuid {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
        Ok(DbUuid(Uuid::parse_str(&text)?))
    }
}

impl ToSql<PortableTime, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_sqlite_text());
        Ok(IsNull::No)
    }
}

impl FromSql<PortableTime, Sqlite> for DbTime {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
        let parsed = DateTime::parse_from_rfc3339(&text)?;
        Ok(DbTime::new(parsed.with_timezone(&Utc)))
    }
}

// --- The MultiBackend generated by `#[derive(MultiConnection)]` ---

impl HasSqlType<PortableUuid> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<PortableUuid>(lookup)
    }
}

impl HasSqlType<PortableTime> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<PortableTime>(lookup)
    }
}

/// The MultiBackend's ToSql and FromSql for `$t` as the SQL type `$sql`: both hand the value to
/// the backend in use, whose own implementations do the work.
macro_rules! multi_backend_sql {
    ($t:ty, $sql:ident) => {
        impl ToSql<$sql, MultiBackend> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value(($sql, self));
                Ok(IsNull::No)
            }
        }
        impl FromSql<$sql, MultiBackend> for $t {
            fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, $sql>()
            }
        }
    };
}

multi_backend_sql!(DbUuid, PortableUuid);
multi_backend_sql!(DbTime, PortableTime);

// --- Typed TEXT columns ---

/// A value stored as one TEXT code: its code on the way in, parsed back on the way out.
pub trait TextCode: Sized {
    fn to_code(&self) -> &str;
    fn from_code_text(text: &str) -> Option<Self>;
}

/// Reads a code through the type's serde names, which are its codes (every enum here is
/// `rename_all = "snake_case"` or names each variant).
fn serde_code<T: DeserializeOwned>(text: &str) -> Option<T> {
    let deserializer: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = text.into_deserializer();
    T::deserialize(deserializer).ok()
}

fn unexpected(text: &str, what: &str) -> Box<dyn std::error::Error + Send + Sync> {
    format!("unexpected stored {what} code {text:?}").into()
}

/// The ToSql and FromSql implementations of a TEXT column, on both backends and the
/// MultiBackend, for a type that is a `TextCode`.
macro_rules! text_column_sql {
    ($t:ty, $what:expr) => {
        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.to_code().as_bytes())?;
                Ok(IsNull::No)
            }
        }
        impl FromSql<Text, Pg> for $t {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = std::str::from_utf8(bytes.as_bytes())?;
                <$t as TextCode>::from_code_text(text).ok_or_else(|| unexpected(text, $what))
            }
        }
        impl ToSql<Text, Sqlite> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.to_code().to_owned());
                Ok(IsNull::No)
            }
        }
        impl FromSql<Text, Sqlite> for $t {
            fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
                <$t as TextCode>::from_code_text(&text).ok_or_else(|| unexpected(&text, $what))
            }
        }
        multi_backend_sql!($t, Text);
    };
}

/// A domain enum as a TEXT column: `code()` in, its serde name (the same code) out.
macro_rules! code_enum_columns {
    ($($proxy:ident => $t:ty),+ $(,)?) => {$(
        // `foreign_derive`: the derives implement `AsExpression` and `FromSqlRow` for `$t`
        // itself; the proxy only carries the attributes.
        #[derive(AsExpression, FromSqlRow)]
        #[diesel(foreign_derive)]
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        struct $proxy($t);

        impl TextCode for $t {
            fn to_code(&self) -> &str {
                self.code()
            }
            fn from_code_text(text: &str) -> Option<Self> {
                serde_code(text)
            }
        }

        text_column_sql!($t, stringify!($t));
    )+};
}

code_enum_columns!(
    SexColumn => Sex,
    PresentingConditionColumn => PresentingCondition,
    AttendanceCategoryColumn => AttendanceCategory,
    ScreeningStatusColumn => ScreeningStatus,
    PatRuleColumn => PatRule,
    PatResultColumn => PatResult,
    AlertColumn => Alert,
    ReferralDecisionColumn => ReferralDecision,
    BookingStatusColumn => BookingStatus,
    OutsideWindowReasonColumn => OutsideWindowReason,
    LeadTimeColumn => LeadTime,
    AhwContactColumn => AhwContact,
);

/// An NHS number column: stored as its 10 digits; what was stored was checked on the way in.
#[derive(AsExpression, FromSqlRow)]
#[diesel(foreign_derive)]
#[diesel(sql_type = Text)]
#[allow(dead_code)]
struct NhsNumberColumn(NhsNumber);

impl TextCode for NhsNumber {
    fn to_code(&self) -> &str {
        self.as_str()
    }
    fn from_code_text(text: &str) -> Option<Self> {
        NhsNumber::parse(text).ok()
    }
}

text_column_sql!(NhsNumber, "NHS number");

/// A list of codes in one TEXT column, comma-joined (`"fall,repeat_attender"`; empty for none).
#[derive(AsExpression, FromSqlRow, Clone, Debug, PartialEq, Eq, Default)]
#[diesel(sql_type = Text)]
pub struct Codes<T>(pub Vec<T>);

impl<T> std::ops::Deref for Codes<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> From<Vec<T>> for Codes<T> {
    fn from(list: Vec<T>) -> Self {
        Codes(list)
    }
}

impl<T: TextCode> Codes<T> {
    /// The stored text.
    pub fn joined(&self) -> String {
        self.0.iter().map(TextCode::to_code).collect::<Vec<_>>().join(",")
    }

    fn parse(text: &str) -> deserialize::Result<Self> {
        text.split(',')
            .filter(|code| !code.is_empty())
            .map(|code| T::from_code_text(code).ok_or_else(|| unexpected(code, "list")))
            .collect::<Result<Vec<T>, _>>()
            .map(Codes)
    }
}

impl<T: TextCode + std::fmt::Debug> ToSql<Text, Pg> for Codes<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.joined().as_bytes())?;
        Ok(IsNull::No)
    }
}

impl<T: TextCode> FromSql<Text, Pg> for Codes<T> {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        Codes::parse(std::str::from_utf8(bytes.as_bytes())?)
    }
}

impl<T: TextCode + std::fmt::Debug> ToSql<Text, Sqlite> for Codes<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.joined());
        Ok(IsNull::No)
    }
}

impl<T: TextCode> FromSql<Text, Sqlite> for Codes<T> {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Codes::parse(&<String as FromSql<Text, Sqlite>>::from_sql(bytes)?)
    }
}

impl<T: TextCode + std::fmt::Debug + Send + Sync + 'static> ToSql<Text, MultiBackend> for Codes<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}

impl<T: TextCode> FromSql<Text, MultiBackend> for Codes<T> {
    fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, Text>()
    }
}

/// A value stored as JSON text (the PAT answers, kept as the nurse sent them).
#[derive(AsExpression, FromSqlRow, Clone, Debug, PartialEq)]
#[diesel(sql_type = Text)]
pub struct JsonText<T>(pub T);

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Pg> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(serde_json::to_string(&self.0)?.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned> FromSql<Text, Pg> for JsonText<T> {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(JsonText(serde_json::from_slice(bytes.as_bytes())?))
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Sqlite> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned> FromSql<Text, Sqlite> for JsonText<T> {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(JsonText(serde_json::from_str(
            &<String as FromSql<Text, Sqlite>>::from_sql(bytes)?,
        )?))
    }
}

impl<T: Serialize + std::fmt::Debug + Send + Sync + 'static> ToSql<Text, MultiBackend> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned> FromSql<Text, MultiBackend> for JsonText<T> {
    fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, Text>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scheduling::LeadTime;
    use chrono::TimeZone;

    #[test]
    fn sqlite_text_is_fixed_width_so_text_order_is_time_order() {
        let early = DbTime::new(Utc.with_ymd_and_hms(2025, 3, 1, 9, 5, 0).single().unwrap_or_default());
        let late = DbTime::new(early.get() + chrono::Duration::microseconds(1));
        assert_eq!(early.to_sqlite_text(), "2025-03-01T09:05:00.000000Z");
        assert!(early.to_sqlite_text() < late.to_sqlite_text());
    }

    #[test]
    fn every_code_reads_back_as_the_value_written() {
        for condition in PresentingCondition::ALL {
            assert_eq!(PresentingCondition::from_code_text(condition.code()), Some(condition));
        }
        for lead in [LeadTime::SameDay, LeadTime::NextDay, LeadTime::Later] {
            assert_eq!(LeadTime::from_code_text(lead.code()), Some(lead));
        }
        for contact in [AhwContact::AttendedAppointment, AhwContact::SeenInDepartment] {
            assert_eq!(AhwContact::from_code_text(contact.code()), Some(contact));
        }
        assert_eq!(Sex::from_code_text("female"), Some(Sex::Female));
        assert_eq!(
            ScreeningStatus::from_code_text("lacks_capacity"),
            Some(ScreeningStatus::LacksCapacity)
        );
        assert_eq!(Sex::from_code_text("Female"), None, "codes are exact");
    }

    #[test]
    fn a_code_list_is_comma_joined_and_empty_for_none() {
        let list = Codes(vec![PresentingCondition::Fall, PresentingCondition::RepeatAttender]);
        assert_eq!(list.joined(), "fall,repeat_attender");
        assert_eq!(
            Codes::<PresentingCondition>::parse("fall,repeat_attender").ok(),
            Some(list)
        );
        assert_eq!(Codes::<Alert>::parse("").ok(), Some(Codes(vec![])));
        assert!(Codes::<Alert>::parse("possible_dependence,nonsense").is_err());
    }
}
