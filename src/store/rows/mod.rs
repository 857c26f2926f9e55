//! Rows that more than one aggregate reads, with the reads they share: an attendance with its
//! current screening (before a screening, a referral decision or a booking), a screening's
//! versions. The aggregates' stores use these; these use nothing of the stores, so no store
//! imports another that imports it back.

pub mod attendances;
pub mod screenings;
