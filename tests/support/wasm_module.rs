//! Finds or builds tollgate's WebAssembly module for the tests and benches that run it.
//!
//! `TOLLGATE_WASM=path` uses a module built beforehand (CI builds it once with `wasm/build.sh`).
//! Otherwise the module is built here with `wasm/build.sh`, in a target directory of its own so
//! that it does not wait on the `cargo test` that runs us; after the first build this is a
//! freshness check of a second or two. Without the wasm32-unknown-unknown target the tests
//! print why and skip — unless `TOLLGATE_REQUIRE_WASM` is set (CI), when they fail.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tollgate_wasm_host::{Limits, WasmEngine, WasmModule};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The module's path, or `None` (the reason printed) when it cannot be had on this machine.
pub fn module_path() -> Option<&'static Path> {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PATH.get_or_init(find_or_build) {
        Ok(path) => Some(path),
        Err(reason) => {
            assert!(
                std::env::var_os("TOLLGATE_REQUIRE_WASM").is_none(),
                "TOLLGATE_REQUIRE_WASM is set, but {reason}"
            );
            eprintln!("skipping: {reason}");
            None
        }
    }
}

/// The module's bytes (see [`module_path`]).
pub fn module_bytes() -> Option<&'static [u8]> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    let path = module_path()?;
    Some(BYTES.get_or_init(|| {
        std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }))
}

/// The compiled module, compiled once per test binary.
pub fn module() -> Option<&'static WasmModule> {
    static MODULE: OnceLock<WasmModule> = OnceLock::new();
    let bytes = module_bytes()?;
    Some(MODULE.get_or_init(|| WasmModule::compile(bytes).unwrap()))
}

/// A fresh engine with default limits.
pub fn engine() -> Option<WasmEngine> {
    engine_with(Limits::default())
}

/// A fresh engine with `limits`.
pub fn engine_with(limits: Limits) -> Option<WasmEngine> {
    Some(WasmEngine::from_module(module()?, limits).unwrap())
}

fn find_or_build() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("TOLLGATE_WASM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "TOLLGATE_WASM={} is not a file",
            path.display()
        );
        return Ok(path);
    }
    // CARGO_TARGET_TMPDIR is <target dir>/tmp.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root().join("target"));
    eprintln!(
        "building the WebAssembly module with wasm/build.sh (minutes the first time, then a freshness check)"
    );
    let output = Command::new("bash")
        .arg(root().join("wasm/build.sh"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .map_err(|e| format!("cannot run bash wasm/build.sh: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {
            let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            assert!(
                path.is_file(),
                "wasm/build.sh printed {}, which is not a file",
                path.display()
            );
            Ok(path)
        }
        Some(3) => Err(format!(
            "the WebAssembly module cannot be built here: {}",
            stderr.trim()
        )),
        _ => panic!("wasm/build.sh failed ({}):\n{stderr}", output.status),
    }
}
