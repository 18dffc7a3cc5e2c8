//! Shared helpers for the roost benchmarks.
