//! The WebAssembly module, run by wasmtime and by Node, against the native engine. One test
//! binary, so that the module is compiled once per `cargo test`.

#[path = "../support/mod.rs"]
mod support;

mod abi;
mod differential;
mod hosts;
mod node;
mod playground;
mod python;
