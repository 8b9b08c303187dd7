//! Shared code of the integration tests and benches.

pub mod scopes;
pub mod wasm_module;
