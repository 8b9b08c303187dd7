//! The browser playground (`playground/`), built with the module under test and run in real
//! Chromium by its `node --test` suite. Skipped, with the reason printed, when Node, the
//! playground's npm packages (`npm ci --prefix playground`), Chromium or the `tollgate` binary
//! are missing, unless `TOLLGATE_REQUIRE_BROWSER` is set (CI): then those are failures.

use std::path::PathBuf;
use std::process::Command;

use crate::hosts::{self, tollgate_binary};
use crate::support::wasm_module::{module_path, root};

fn skip_or_fail(reason: &str) {
    hosts::skip_or_fail("TOLLGATE_REQUIRE_BROWSER", reason);
}

#[test]
fn the_playground_works_in_chromium() {
    let dir = root().join("playground");
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        return skip_or_fail("`node` is not installed");
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return skip_or_fail(
            "the playground's npm packages are not installed (npm ci --prefix playground)",
        );
    }
    if !chromium.is_file() {
        return skip_or_fail(&format!(
            "no Chromium at {} (apt-get install chromium, or set CHROMIUM)",
            chromium.display()
        ));
    }
    let Some(bin) = tollgate_binary() else {
        return skip_or_fail(
            "the tollgate binary is not built beside this test (cargo test --workspace builds it, or set TOLLGATE_BIN)",
        );
    };
    let Some(wasm) = module_path() else {
        return;
    };
    let build = Command::new("node")
        .arg("build.mjs")
        .current_dir(&dir)
        .env("TOLLGATE_WASM", wasm)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "building the playground failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let out = Command::new("node")
        .args(["--test", "tests/"])
        .current_dir(&dir)
        .env("TOLLGATE_BIN", &bin)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the playground's browser tests failed"
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(stdout.contains("# skipped 0"), "{stdout}");
    eprintln!(
        "screenshot: {}",
        dir.join("test-results/playground.png").display()
    );
}
