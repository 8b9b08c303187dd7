//! Shared code of the integration tests and benches.

pub mod wasm_module;
