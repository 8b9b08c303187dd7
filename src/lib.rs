//! Shared helpers for the cross-crate tests, benches and fuzz targets: synthetic packs, the
//! example request corpus, and the fuzz targets' invariants.
#![forbid(unsafe_code)]

pub mod corpus;
pub mod fuzzing;
pub mod requests;
pub mod synthetic;
