//! The tables, written to match `migrations/` (a test runs every query shape on both backends).

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    attendances (id) {
        id -> PortableUuid,
        source_system -> Text,
        source_id -> Text,
        patient_key -> Text,
        nhs_number -> Nullable<Text>,
        local_id -> Nullable<Text>,
        sex -> Text,
        date_of_birth -> Nullable<Date>,
        site -> Nullable<Text>,
        arrived_at -> PortableTime,
        presenting_condition -> Text,
        presenting_condition_detail -> Nullable<Text>,
        attendance_category -> Text,
        indications -> Text,
        pat_indicated -> Bool,
        created_at -> PortableTime,
        created_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    screenings (id) {
        id -> PortableUuid,
        attendance_id -> PortableUuid,
        version -> Integer,
        status -> Text,
        rule -> Nullable<Text>,
        result -> Nullable<Text>,
        units -> Nullable<Double>,
        answers -> Nullable<Text>,
        alerts -> Text,
        advice_given -> Nullable<Bool>,
        leaflet_given -> Nullable<Bool>,
        screened_at -> PortableTime,
        recorded_at -> PortableTime,
        recorded_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    audit_events (id) {
        id -> PortableUuid,
        occurred_at -> PortableTime,
        actor -> Text,
        roles -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Text,
        patient_key -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::joinable!(screenings -> attendances (attendance_id));
diesel::allow_tables_to_appear_in_same_query!(attendances, screenings, audit_events);
