//! loom models of the cross-thread paths (filled in below).
