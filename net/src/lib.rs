//! roost-net will hold TCP on the per-core runtime: per-core `SO_REUSEPORT`
//! listeners and streams with a one-entry reuse slot per direction.
