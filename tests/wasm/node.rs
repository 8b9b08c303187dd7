//! The Node example (`wasm/examples/node/`) run by `node --test`, its decision compared byte for
//! byte with the native engine's. Skipped, with the reason printed, when `node` is not installed
//! or the module cannot be built here (unless `TOLLGATE_REQUIRE_NODE` / `TOLLGATE_REQUIRE_WASM`
//! are set, as in CI: then those are failures).

use std::process::Command;

use crate::support::wasm_module::{module_path, root};
use serde_json::{Value, json};
use tollgate_engine::fs::read_pack;
use tollgate_engine::testcase::{find_test_files, load_test_file};
use tollgate_engine::{Pack, ProposedAction, Timestamp};

fn read_json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join(rel)).unwrap()).unwrap()
}

/// Every case of `policies/tests` as JSON for the Node tests (Node reads no YAML):
/// `[{file, entities, cases: [{name, request, at}]}]`, written to a file under the target dir.
fn cases_file() -> std::path::PathBuf {
    let default_at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    let files: Vec<Value> = find_test_files(&root().join("policies/tests"))
        .unwrap()
        .iter()
        .map(|path| {
            let file = load_test_file(path).unwrap();
            let cases: Vec<Value> = file
                .file
                .cases
                .iter()
                .map(|case| {
                    let at = case.at.or(file.file.at).unwrap_or(default_at);
                    json!({"name": case.name, "request": case.request, "at": at.to_rfc3339()})
                })
                .collect();
            json!({"file": path.display().to_string(), "entities": file.entities, "cases": cases})
        })
        .collect();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-policy-cases.json");
    std::fs::write(&path, Value::Array(files).to_string()).unwrap();
    path
}

#[test]
fn the_node_example_and_its_tests_pass() {
    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    match Command::new(&node).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => {
            assert!(
                std::env::var_os("TOLLGATE_REQUIRE_NODE").is_none(),
                "TOLLGATE_REQUIRE_NODE is set, but `node` does not run"
            );
            eprintln!(
                "skipping: `node` is not installed (install Node.js 18 or later to run the Node example's tests)"
            );
            return;
        }
    }
    let Some(wasm) = module_path() else {
        return;
    };
    let pack =
        Pack::load(read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap())
            .unwrap();
    let decision = pack
        .decide(
            &ProposedAction::from_json(&read_json("examples/request.json")).unwrap(),
            &pack
                .entities_from_json(&read_json("examples/entities.json"))
                .unwrap(),
            "2026-06-01T12:00:00Z".parse().unwrap(),
        )
        .unwrap();
    let out = Command::new(&node)
        .arg("--test")
        .arg(root().join("wasm/examples/node/decide.test.mjs"))
        .env("TOLLGATE_WASM", wasm)
        .env("TOLLGATE_REQUIRE_WASM", "1")
        .env("TOLLGATE_CASES", cases_file())
        .env(
            "TOLLGATE_EXPECTED_DECISION",
            serde_json::to_string(&decision).unwrap(),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "node --test failed");
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(stdout.contains("# skipped 0"), "{stdout}");
}
