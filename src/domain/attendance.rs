//! What kind of ED attendance this is (docs/domain.md §7: the 7-day indicator counts unplanned
//! returns only).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Refusal;

/// Whether the attendance was unplanned (the default) or a booked return.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceCategory {
    #[default]
    Unplanned,
    Planned,
}

impl AttendanceCategory {
    pub fn code(self) -> &'static str {
        match self {
            AttendanceCategory::Unplanned => "unplanned",
            AttendanceCategory::Planned => "planned",
        }
    }
}

/// The answer when the attendance a request names does not exist.
pub fn no_attendance() -> Refusal {
    Refusal::not_found("no attendance with that id")
}

/// An attendance whose appointment was attended cannot be marked entered-in-error: the AHW saw a
/// patient. The outcome is corrected first (or the attendance is not in error).
pub fn attended_booking_blocks_error_mark() -> Refusal {
    Refusal::conflict(
        "outcome-recorded",
        "an appointment of this attendance was attended: correct the booking's outcome before marking \
         the attendance entered in error",
    )
}

/// The attendance was entered in error: nothing more is recorded against it.
pub fn attendance_entered_in_error() -> Refusal {
    Refusal::conflict(
        "entered-in-error",
        "the attendance was marked entered-in-error: nothing more can be recorded against it",
    )
}

/// The reason a booking of an attendance marked entered-in-error is cancelled with.
pub const ENTERED_IN_ERROR_CANCEL_REASON: &str = "attendance entered in error";
