//! `pat-service demo-data`: realistic synthetic data in bulk (being written).
