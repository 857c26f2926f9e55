//! NHS small-number disclosure control, DOMAIN.md §8 (being written).
