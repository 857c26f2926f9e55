//! What kind of ED attendance this is (DOMAIN.md §7: the 7-day indicator counts unplanned
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
