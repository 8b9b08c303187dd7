//! Decides the README's example request with tollgate's WebAssembly module on wasmtime:
//!
//! ```sh
//! wasm/build.sh
//! cargo run -p tollgate-wasm-host --example decide -- target/wasm/tollgate.wasm
//! ```
//!
//! Arguments: the module, then optionally the evaluation time (RFC 3339; default: this
//! machine's clock, which the host reads — the module has none). Run from the repository root.

use std::error::Error;

use serde_json::{Value, json};
use tollgate_engine::Timestamp;
use tollgate_engine::fs::read_pack;
use tollgate_wasm_host::{Limits, WasmEngine};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let wasm_path = args.next().ok_or("usage: decide MODULE.wasm [AT]")?;
    let at = match args.next() {
        Some(at) => at,
        None => now_rfc3339()?,
    };

    let mut engine = WasmEngine::new(&std::fs::read(&wasm_path)?, Limits::default())?;
    // The pack's files, named as the CLI names them, so both report the same policy_set.
    let source = read_pack("policies".as_ref(), Some("schemas".as_ref()))?;
    let pack = engine.load(&serde_json::to_string(&source)?)?;

    let read = |path: &str| -> Result<Value, Box<dyn Error>> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    };
    let input = json!({
        "request": read("examples/request.json")?,
        "entities": read("examples/entities.json")?,
        "at": at,
    });
    // Load once, decide many times: each decision reuses the loaded pack.
    let decision = engine.decide(pack.handle, &input.to_string())?;
    println!("{decision}");
    Ok(())
}

/// The host's clock as RFC 3339.
fn now_rfc3339() -> Result<String, Box<dyn Error>> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    Ok(Timestamp::from_unix_nanos(i128::try_from(nanos)?)?.to_rfc3339())
}
