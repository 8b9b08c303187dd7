//! tollgate's engine as a WebAssembly module with a small C-style ABI: JSON in, JSON out.
//!
//! Build it for `wasm32-unknown-unknown` (`wasm/build.sh`) and call it from any runtime —
//! wasmtime (`tollgate-wasm-host`), Node's or a browser's `WebAssembly`, wazero — without
//! generated glue. A pack is loaded once into a handle and reused for every decision, so the
//! policies are not re-sent or re-parsed per call. `wasm/ABI.md` is the reference: the exports,
//! the JSON shapes, the limits and who frees which buffer.
//!
//! The crate has two layers:
//! - [`Guest`], [`lint`] and [`version`]: safe Rust over byte slices, returning the JSON the
//!   module returns. Everything about inputs (size and nesting caps, UTF-8, shapes, errors as
//!   `{"error": ...}`) lives here and is unit-tested natively.
//! - `abi` (wasm32 only): the exported `extern "C"` functions, which move bytes between the
//!   host and [`Guest`]. It is the only place with `unsafe` code.
#![deny(missing_docs)]
#![deny(unsafe_code)]
// Nothing in the module may panic on input: a panic is a trap, which costs the host the
// instance and every pack loaded into it. Tests are exempt through clippy.toml.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod api;
mod error;
mod limits;

#[cfg(target_arch = "wasm32")]
#[allow(
    unsafe_code,
    reason = "the exports read and write memory shared with the host"
)]
mod abi;

pub use api::{Guest, lint, version};
pub use error::AbiError;
pub use limits::{MAX_HIERARCHY_DEPTH, MAX_INPUT_BYTES, MAX_JSON_DEPTH, MAX_TEXT_DEPTH};
pub use tollgate_wasm_contract::{ABI_VERSION, ErrorKind, Problem};
