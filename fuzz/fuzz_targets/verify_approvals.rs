//! cargo-fuzz target: see `tollgate::fuzzing::verify_approvals` for the input shape and the invariants.
//! (No `forbid(unsafe_code)`: libfuzzer-sys's entry point is an `unsafe(no_mangle)` export.)
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tollgate::fuzzing::verify_approvals(data));
