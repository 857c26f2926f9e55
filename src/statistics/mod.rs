//! Statistics for audit teams (DOMAIN.md §7 and §8): the funnel, the referral trend and the
//! reattendance measures, computed by the database; the reports as published (NHS disclosure control applied, from
//! `domain::disclosure`); CSV output.

pub mod csv;
pub mod reports;
