//! `POST /api/v1/bookings`, `GET /api/v1/bookings`, `GET /api/v1/bookings/{id}`,
//! `POST /api/v1/bookings/{id}/outcome`: AHW appointments within the window, never double-booked.
//! One file per concern: booking (`book`), reading (`reads`), outcomes (`outcomes`), each with its
//! request types.

mod book;
mod outcomes;
mod reads;

pub use book::{create, CreateBooking, MakeBookings};
pub use outcomes::{outcome, RecordOutcome, RecordOutcomes};
pub use reads::{get, list, BookingList, BookingQuery, ReadBookings};
