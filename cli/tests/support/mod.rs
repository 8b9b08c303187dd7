//! What every CLI test needs: the repository, the built binary, and its output as text.

#![allow(dead_code, reason = "each test file uses part of it")]

pub mod desk;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The evaluation time the examples are written for.
pub const AT: &str = "2026-06-01T12:00:00Z";

/// The repository root, where the reference pack and examples live.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `tollgate` in `dir` (without colours, so diagnostics compare as plain text).
pub fn tollgate_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

/// Runs `tollgate` in the repository root.
pub fn tollgate(args: &[&str]) -> Output {
    tollgate_in(&repo(), args)
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
