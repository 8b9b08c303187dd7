//! The Python package (`python/`) run by pytest: its decisions compared with the CLI's on every
//! `policies/tests` case, its serve client and agent-framework gates against a real `tollgate
//! serve`. Skipped, with the reason printed, when no Python with the package's test dependencies
//! is found or the module cannot be built here (unless `TOLLGATE_REQUIRE_PYTHON` /
//! `TOLLGATE_REQUIRE_WASM` are set, as in CI: then those are failures).
//!
//! `TOLLGATE_TEST_PYTHON` names the interpreter (CI: a virtualenv with `pip install
//! './python[test,openai-agents,langgraph]'`); otherwise `python3` is tried.

use std::process::Command;

use crate::hosts::{self, tollgate_binary};
use crate::support::wasm_module::{module_path, root};

fn skip_or_fail(reason: &str) {
    hosts::skip_or_fail("TOLLGATE_REQUIRE_PYTHON", reason);
}

#[test]
fn the_python_package_tests_pass() {
    let python = std::env::var_os("TOLLGATE_TEST_PYTHON").unwrap_or_else(|| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import wasmtime, pytest, yaml"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        _ => {
            return skip_or_fail(&format!(
                "{} cannot import wasmtime, pytest and yaml (pip install './python[test,openai-agents,langgraph]', then set TOLLGATE_TEST_PYTHON)",
                python.to_string_lossy()
            ));
        }
    }
    let Some(bin) = tollgate_binary() else {
        return skip_or_fail(
            "the tollgate binary is not built beside this test (cargo test --workspace builds it, or set TOLLGATE_BIN)",
        );
    };
    let Some(wasm) = module_path() else {
        return;
    };
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(root().join("python/tests"))
        .current_dir(root().join("python"))
        .env("TOLLGATE_WASM", wasm)
        .env("TOLLGATE_BIN", &bin);
    let out = pytest.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pytest failed");
    // In CI every test must run: a skip there hides a missing part.
    if std::env::var_os("TOLLGATE_REQUIRE_PYTHON").is_some() {
        assert!(!stdout.contains("skipped"), "{stdout}");
    }
}
