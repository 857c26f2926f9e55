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
        entered_in_error_at -> Nullable<PortableTime>,
        entered_in_error_by -> Nullable<Text>,
        entered_in_error_reason -> Nullable<Text>,
        local_id_system -> Nullable<Text>,
        patient_id -> PortableUuid,
        presenting_condition_snomed -> Nullable<Text>,
        presenting_condition_map_version -> Nullable<Text>,
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
        detail -> Nullable<Text>,
    }
}

diesel::joinable!(screenings -> attendances (attendance_id));

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    referrals (attendance_id) {
        attendance_id -> PortableUuid,
        decision -> Text,
        decided_at -> PortableTime,
        recorded_at -> PortableTime,
        recorded_by -> Text,
        entered_in_error -> Bool,
        version -> Integer,
        correction_reason -> Nullable<Text>,
        health_worker_id -> Nullable<PortableUuid>,
        brief_intervention_delivered -> Nullable<Bool>,
        units_per_week -> Nullable<Double>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    referral_versions (attendance_id, version) {
        attendance_id -> PortableUuid,
        version -> Integer,
        decision -> Text,
        decided_at -> PortableTime,
        recorded_at -> PortableTime,
        recorded_by -> Text,
        correction_reason -> Nullable<Text>,
        health_worker_id -> Nullable<PortableUuid>,
        brief_intervention_delivered -> Nullable<Bool>,
        units_per_week -> Nullable<Double>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    health_workers (id) {
        id -> PortableUuid,
        name -> Text,
        staff_id -> Nullable<Text>,
        subject -> Nullable<Text>,
        created_at -> PortableTime,
        created_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    slots (id) {
        id -> PortableUuid,
        health_worker_id -> PortableUuid,
        starts_at -> PortableTime,
        ends_at -> PortableTime,
        withdrawn_at -> Nullable<PortableTime>,
        created_at -> PortableTime,
        created_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    bookings (id) {
        id -> PortableUuid,
        attendance_id -> PortableUuid,
        slot_id -> PortableUuid,
        status -> Text,
        within_window -> Bool,
        outside_window_reason -> Nullable<Text>,
        booked_at -> PortableTime,
        booked_by -> Text,
        outcome_at -> Nullable<PortableTime>,
        outcome_by -> Nullable<Text>,
        brief_intervention_delivered -> Nullable<Bool>,
        units_per_week -> Nullable<Double>,
        cancel_reason -> Nullable<Text>,
        lead_time -> Nullable<Text>,
        version -> Integer,
        correction_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    booking_outcome_versions (booking_id, version) {
        booking_id -> PortableUuid,
        version -> Integer,
        status -> Text,
        outcome_at -> PortableTime,
        outcome_by -> Text,
        brief_intervention_delivered -> Nullable<Bool>,
        units_per_week -> Nullable<Double>,
        cancel_reason -> Nullable<Text>,
        correction_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    booking_attempts (id) {
        id -> PortableUuid,
        attendance_id -> PortableUuid,
        attempted_at -> PortableTime,
        window_ends_at -> PortableTime,
        attempted_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    follow_ups (id) {
        id -> PortableUuid,
        attendance_id -> PortableUuid,
        months -> Integer,
        units_per_week -> Double,
        contacted_at -> PortableTime,
        recorded_at -> PortableTime,
        recorded_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    patients (id) {
        id -> PortableUuid,
        key -> Text,
        person_key -> Text,
        created_at -> PortableTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{PortableTime, PortableUuid};

    patient_links (id) {
        id -> PortableUuid,
        patient_id -> PortableUuid,
        person_id -> PortableUuid,
        kind -> Text,
        trace_status -> Nullable<Text>,
        reason -> Text,
        linked_at -> PortableTime,
        linked_by -> Text,
        unlinked_at -> Nullable<PortableTime>,
        unlinked_by -> Nullable<Text>,
        unlink_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::PortableUuid;

    /// Kept by triggers (migration `pathway_summary`): an accepted referral's bookings, summarised.
    booking_summaries (attendance_id) {
        attendance_id -> PortableUuid,
        booked -> Bool,
        first_within_window -> Nullable<Bool>,
        latest_status -> Nullable<Text>,
        latest_lead_time -> Nullable<Text>,
        all_cancelled -> Nullable<Bool>,
        attempted -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::PortableTime;

    // Web page sessions (docs/design.md §12): only the SHA-256 of the cookie's token is kept.
    web_sessions (token_hash) {
        token_hash -> Text,
        subject -> Text,
        display_name -> Text,
        roles -> Text,
        csrf_token -> Text,
        created_at -> PortableTime,
        last_seen_at -> PortableTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::PortableTime;

    // OpenID Connect sign-ins in progress (docs/design.md §13): only the SHA-256 of the cookie's
    // handle is kept; each row is taken once.
    oidc_sign_ins (handle_hash) {
        handle_hash -> Text,
        pending -> Text,
        return_to -> Nullable<Text>,
        expires_at -> PortableTime,
    }
}

diesel::joinable!(referrals -> attendances (attendance_id));
diesel::joinable!(slots -> health_workers (health_worker_id));
diesel::joinable!(bookings -> slots (slot_id));
diesel::joinable!(bookings -> referrals (attendance_id));
diesel::joinable!(booking_attempts -> referrals (attendance_id));
diesel::joinable!(follow_ups -> attendances (attendance_id));
diesel::joinable!(referral_versions -> referrals (attendance_id));
diesel::joinable!(booking_outcome_versions -> bookings (booking_id));
diesel::allow_tables_to_appear_in_same_query!(
    attendances,
    screenings,
    audit_events,
    referrals,
    health_workers,
    slots,
    bookings,
    booking_attempts,
    follow_ups,
    referral_versions,
    booking_outcome_versions,
    patients,
    patient_links,
    booking_summaries
);
