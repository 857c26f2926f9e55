//! CSV output for the statistics endpoints (being written).
