//! Statistics for audit teams (DOMAIN.md §7 and §8): the funnel, the referral trend and the
//! reattendance measures, computed by the database; NHS disclosure control; CSV output.

pub mod csv;
pub mod disclosure;
pub mod reports;
