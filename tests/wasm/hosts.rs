//! What the tests of the other hosts (the Python package, the browser playground) share: the
//! `tollgate` binary they compare with, and skipping or failing on a missing part.

use std::path::PathBuf;

/// Prints why a test is skipped, or fails it when `require` (an environment variable such as
/// `TOLLGATE_REQUIRE_PYTHON`) is set, as CI sets it.
pub fn skip_or_fail(require: &str, reason: &str) {
    assert!(
        std::env::var_os(require).is_none(),
        "{require} is set, but {reason}"
    );
    eprintln!("skipping: {reason}");
}

/// `$TOLLGATE_BIN`, or `target/<profile>/tollgate` built by the same `cargo test --workspace`
/// (beside `deps/`, where this test binary runs).
pub fn tollgate_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TOLLGATE_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("tollgate");
    bin.is_file().then_some(bin)
}
