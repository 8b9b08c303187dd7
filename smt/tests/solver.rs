//! What a slow, missing or lying solver, and a tampered cache, can do to a result: never turn
//! it into a proof.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;
use std::time::Duration;

use tollgate_smt::{Cache, Cvc5, Session, SmtError, Verdict, ungated_expansion};

const UNGATED: &str = r#"
@id("scope-auto") @tier("auto") @reason("tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
"#;

/// Writes an executable script from a child `sh`, not from this process: a test thread that
/// forks while this process holds the file open for writing would make exec fail with
/// ETXTBSY ("Text file busy"), which flaked the suite.
fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"printf '%s\n' "$2" > "$1" && chmod 755 "$1""#)
        .arg("sh")
        .arg(&path)
        .arg(format!("#!/bin/sh\n{body}"))
        .status()
        .unwrap();
    assert!(status.success());
    path
}

#[test]
fn a_program_that_is_not_cvc5_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = script(dir.path(), "cvc5", "echo 'Z3 version 4.12'");
    assert!(matches!(Cvc5::at(&fake), Err(SmtError::NoSolver { .. })));
    assert!(matches!(
        Cvc5::at(&dir.path().join("missing")),
        Err(SmtError::NoSolver { .. })
    ));
}

/// A solver that never answers is stopped, and every environment it was asked about is
/// unknown: never proved.
#[test]
fn a_solver_that_never_answers_gives_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let stuck = script(
        dir.path(),
        "cvc5",
        r#"if [ "$1" = "--version" ]; then echo "This is cvc5 version 1.0.3"; exit 0; fi
exec sleep 600"#,
    );
    let cvc5 = Cvc5::at(&stuck).unwrap();
    let mut session = Session::new(cvc5, Duration::from_millis(100), None).unwrap();
    let pack = support::pack(support::SCHEMA, UNGATED);
    let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    // No permit reaches Document: symcc settles that without the solver. Token needs it.
    let token = results.iter().find(|r| r.resource_type == "Token").unwrap();
    let Verdict::Unknown(why) = &token.verdict else {
        panic!("{token:?}")
    };
    assert!(why.contains("did not answer"), "{why}");
    assert_eq!(session.stats().unknown, 1);
}

/// Answers are cached, and a counterexample read back from the cache is decided again by the
/// engine: one changed on disk is not reported as found. (A forged proof cannot be checked
/// that way, which is why the cache lives outside the repository.)
#[test]
fn answers_are_cached_and_a_tampered_counterexample_is_not_believed() {
    let Some(first) = support::session() else {
        return;
    };
    let cvc5 = first.cvc5().clone();
    let dir = tempfile::tempdir().unwrap();
    let pack = support::pack(support::SCHEMA, UNGATED);

    let mut session = Session::new(
        cvc5.clone(),
        Duration::from_secs(20),
        Some(Cache::at(dir.path()).unwrap()),
    )
    .unwrap();
    let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    assert!(
        results
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Found(_)))
    );
    assert_eq!(session.stats().cached, 0);

    // A second run answers from the cache, with the same verdicts.
    let mut again = Session::new(
        cvc5.clone(),
        Duration::from_secs(20),
        Some(Cache::at(dir.path()).unwrap()),
    )
    .unwrap();
    let cached = ungated_expansion(&mut again, &pack, support::today()).unwrap();
    assert_eq!(again.stats().cached, again.stats().queries);
    for (a, b) in results.iter().zip(&cached) {
        assert_eq!(
            std::mem::discriminant(&a.verdict),
            std::mem::discriminant(&b.verdict)
        );
    }

    // Rewrite the stored counterexample so its request is for another action: the engine
    // does not decide it `auto` for this environment, so it is not reported as found.
    let mut tampered = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("add_token_scope") && text.contains("\"fails\"") {
            std::fs::write(&path, text.replace("add_token_scope", "read")).unwrap();
            tampered += 1;
        }
    }
    assert_eq!(tampered, 1);
    let mut third = Session::new(
        cvc5,
        Duration::from_secs(20),
        Some(Cache::at(dir.path()).unwrap()),
    )
    .unwrap();
    let results = ungated_expansion(&mut third, &pack, support::today()).unwrap();
    assert!(
        results
            .iter()
            .all(|r| !matches!(r.verdict, Verdict::Found(_))),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Unknown(_)))
    );
}
