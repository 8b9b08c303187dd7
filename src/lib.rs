//! Shared helpers for the cross-crate tests and benches: synthetic packs, and the example
//! request corpus.
#![forbid(unsafe_code)]

pub mod corpus;
pub mod synthetic;
