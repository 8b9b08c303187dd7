//! keygen → decide → approve → verify → audit, through the real binary on real files.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::desk::{DEPLOY, Desk};
use support::{
    AT, ENTITIES, assert_stderr, decide, decide_args, flagged, refused, s, text, tollgate,
};
use tollgate_engine::audit::record_hash;

#[test]
fn keygen_writes_a_private_key_once_with_mode_0600() {
    let desk = Desk::new(&["alice"]);
    let ring: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(desk.path("keyring.json")).unwrap()).unwrap();
    assert!(
        ring["Human::\"alice\""]
            .as_str()
            .unwrap()
            .starts_with("ed25519:")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(desk.path("alice.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = tollgate(&[
        "keygen",
        "--approver",
        "Human::\"alice\"",
        "--out",
        s(&desk.path("alice.key")),
    ]);
    assert_eq!(again.status.code(), Some(2));
    let service = tollgate(&["keygen", "--out", s(&desk.path("audit.key"))]);
    assert!(text(&service.stdout).trim().starts_with("ed25519:"));
}

#[test]
fn walkthrough_exit_codes_pending_allowed_denied() {
    let desk = Desk::new(&["alice", "bob", "dave"]);
    // Nothing yet: pending, 2 missing.
    let out = desk.verify(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["outcome"].as_str(),
            v["tier"].as_str(),
            v["missing"].as_u64()
        ),
        (Some("pending"), Some("dual"), Some(2))
    );
    assert_eq!(desk.approve("alice", &[]).status.code(), Some(0));
    assert_eq!(desk.verify(&[]).status.code(), Some(3));
    // bob is the human deploy-bot acts for: his approval does not count.
    desk.approve("bob", &[]);
    let out = desk.verify(&[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).contains("acts for"),
        "{}",
        text(&out.stdout)
    );
    desk.approve("dave", &["--ttl", "30m"]);
    let out = desk.verify(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["outcome", "tier", "missing", "request", "records"]);
    assert_eq!(v["records"].as_array().unwrap().len(), 3);
    // A reject from an eligible human denies.
    assert_eq!(
        desk.approve("alice", &["--reject"]).status.code(),
        Some(2),
        "reject needs evidence"
    );
    desk.approve("alice", &["--reject", "--evidence", "change freeze"]);
    assert_eq!(desk.verify(&[]).status.code(), Some(4));
}

#[test]
fn approve_refuses_long_ttls_and_someone_elses_key() {
    let desk = Desk::new(&["alice", "dave"]);
    assert_eq!(
        desk.approve("alice", &["--ttl", "48h"]).status.code(),
        Some(2)
    );
    let key = desk.path("alice.key");
    let out = tollgate(&[
        "approve",
        "--request",
        DEPLOY,
        "--approver",
        "Human::\"dave\"",
        "--key",
        s(&key),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("belongs to"));
}

#[test]
fn verify_errors_exit_2() {
    let desk = Desk::new(&["alice"]);
    std::fs::write(
        desk.path("approvals.jsonl"),
        "{\"request\": \"sha256:00\"}\n",
    )
    .unwrap();
    let out = desk.verify(&[]);
    assert_stderr(&out, 2, "line 1");
    std::fs::write(desk.path("approvals.jsonl"), "").unwrap();
    let key = "ed25519:EoOJrrVagkKVzyIwLAhv9L40Lj46zm5bKrhdosUQaIg=";
    std::fs::write(
        desk.path("keyring.json"),
        format!("{{\"Human::\\\"alice\\\"\": \"{key}\", \"Human::\\\"bob\\\"\": \"{key}\"}}"),
    )
    .unwrap();
    let out = desk.verify(&[]);
    assert_stderr(&out, 2, "one key to two approvers");
    // No schema: verify cannot tell people from agents.
    let out = desk.verify(&["--schema", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn hash_matches_decide_and_ignores_spelling() {
    let out = tollgate(&["hash", "--request", DEPLOY]);
    let hash = text(&out.stdout).trim().to_string();
    assert!(hash.starts_with("sha256:") && hash.len() == 71);
    let out = decide(DEPLOY, ENTITIES, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["request"], hash);
}

/// A desk for alice and dave that also holds an audit signing key: the desk, its audit log, the
/// key's path and its public key.
fn audit_desk() -> (Desk, PathBuf, PathBuf, String) {
    let desk = Desk::new(&["alice", "dave"]);
    let log = desk.path("audit.jsonl");
    let key_out = tollgate(&["keygen", "--out", s(&desk.path("audit.key"))]);
    let pubkey = text(&key_out.stdout).trim().to_string();
    let audit_key = desk.path("audit.key");
    (desk, log, audit_key, pubkey)
}

/// `decide` of the deploy request at `at`, appended to `log` signed with `key`.
fn signed_decide(log: &Path, key: &Path, at: &str) -> Output {
    let flags = [
        ("--request", DEPLOY),
        ("--entities", ENTITIES),
        ("--at", at),
        ("--audit", s(log)),
        ("--sign-key", s(key)),
    ];
    tollgate(&flagged("decide", &flags, &[]))
}

#[test]
fn audit_log_records_decide_and_verify_and_detects_tampering() {
    let (desk, log, audit_key, pubkey) = audit_desk();
    let signed = ["--audit", s(&log), "--sign-key", s(&audit_key)];
    assert_eq!(signed_decide(&log, &audit_key, AT).status.code(), Some(0));
    desk.approve("alice", &[]);
    desk.approve("dave", &[]);
    assert_eq!(desk.verify(&signed).status.code(), Some(0));

    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2);
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(second["kind"], "verification");
    assert_eq!(second["outcome"], "allowed");
    assert_eq!(
        second["recommendation"]["summary"],
        "deploy release 4.2.1 to production"
    );
    assert_eq!(second["approvals"][0]["approver"], "Human::\"alice\"");
    assert_eq!(second["decision"]["tier"], "dual");

    let out = tollgate(&["audit", "verify", s(&log), "--pubkey", &pubkey]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let head = text(&tollgate(&["audit", "head", s(&log)]).stdout);
    let (count, hash) = head.trim().split_once(' ').unwrap();
    assert_eq!(count, "2");
    let show = tollgate(&["audit", "show", s(&log), "--format", "json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&show.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Edit the first record: line 2 no longer chains.
    std::fs::write(
        &log,
        format!(
            "{}\n{}\n",
            lines[0].replace("\"dual\"", "\"auto\""),
            lines[1]
        ),
    )
    .unwrap();
    let out = tollgate(&["audit", "verify", s(&log)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains(":2: TAMPERED"),
        "{}",
        text(&out.stdout)
    );
    // Appends refuse a damaged tail.
    std::fs::write(&log, format!("{}\n{}", lines[0], &lines[1][..20])).unwrap();
    let args = decide_args(DEPLOY, ENTITIES, &["--audit", s(&log)]);
    assert_eq!(tollgate(&args).status.code(), Some(2));
    // Drop the newest record: only the stored head/count shows it.
    std::fs::write(&log, format!("{}\n", lines[0])).unwrap();
    assert_eq!(
        tollgate(&["audit", "verify", s(&log)]).status.code(),
        Some(0)
    );
    assert_eq!(
        tollgate(&["audit", "verify", s(&log), "--head", hash, "--count", count])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn audit_verify_after_checks_a_slice_of_a_longer_log() {
    let (_desk, log, audit_key, pubkey) = audit_desk();
    for at in [
        "2026-06-01T12:00:00Z",
        "2026-06-01T12:01:00Z",
        "2026-06-01T12:02:00Z",
    ] {
        assert_eq!(signed_decide(&log, &audit_key, at).status.code(), Some(0));
    }
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 3);
    let hash_of = |line: &str| {
        record_hash(&serde_json::from_str(line).unwrap())
            .unwrap()
            .to_string()
    };
    let slice = log.with_file_name("slice.jsonl");
    std::fs::write(
        &slice,
        format!(
            "{}
{}
",
            lines[1], lines[2]
        ),
    )
    .unwrap();
    let before = hash_of(&lines[0]);
    let verify = |extra: &[&str]| {
        let mut args = vec!["audit", "verify", s(&slice)];
        args.extend_from_slice(extra);
        tollgate(&args)
    };

    // The right --after: intact, the slice's own count and head; --head/--count/--pubkey apply
    // to the slice.
    let out = verify(&["--after", &before, "--pubkey", &pubkey]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let head = hash_of(&lines[2]);
    assert!(
        text(&out.stdout).contains(&format!("intact, 2 records, head {head}")),
        "{}",
        text(&out.stdout)
    );
    let anchored = verify(&["--after", &before, "--head", &head, "--count", "2"]);
    assert_eq!(
        anchored.status.code(),
        Some(0),
        "{}",
        text(&anchored.stdout)
    );
    assert_eq!(
        verify(&["--after", &before, "--count", "3"]).status.code(),
        Some(1)
    );

    // Without --after, or with the wrong one: the first line does not chain.
    for extra in [vec![], vec!["--after", head.as_str()]] {
        let out = verify(&extra);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            text(&out.stdout).contains(":1: TAMPERED"),
            "{}",
            text(&out.stdout)
        );
    }
    // Not a digest: a usage error naming the flag.
    let bad = verify(&["--after", "sha256:zz"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("--after"),
        "{}",
        text(&bad.stderr)
    );

    // An edited record in the slice breaks the next link.
    std::fs::write(
        &slice,
        format!(
            "{}
{}
",
            lines[1].replace("\"dual\"", "\"auto\""),
            lines[2]
        ),
    )
    .unwrap();
    assert!(lines[1].contains("\"dual\""));
    let out = verify(&["--after", &before]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains(":2: TAMPERED"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn concurrent_appenders_keep_one_valid_chain() {
    // A tiny schema-less pack keeps each process cheap; the lock is what is under test.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/p.cedar"),
        "@tier(\"auto\") permit(principal, action, resource);",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("r.json"),
        r#"{"principal": "A::\"a\"", "action": "Action::\"x\"", "resource": "R::\"r\""}"#,
    )
    .unwrap();
    let log = dir.path().join("audit.jsonl");
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
                        .current_dir(&dir)
                        .args([
                            "decide",
                            "--no-schema",
                            "--request",
                            "r.json",
                            "--at",
                            AT,
                            "--audit",
                            "audit.jsonl",
                        ])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let out = tollgate(&["audit", "verify", s(&log)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("intact, 2000 records"),
        "{}",
        text(&out.stdout)
    );
}

fn lines_of(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn approvals_are_single_use_with_an_audit_log() {
    let desk = Desk::new(&["alice", "dave"]);
    let log = desk.path("audit.jsonl");
    desk.approve("alice", &[]);
    desk.approve("dave", &[]);
    let audit = ["--audit", s(&log)];
    assert_eq!(desk.verify(&audit).status.code(), Some(0));
    // The same approvals, the same request, later but within their validity.
    for at in ["2026-06-01T12:10:00Z", "2026-06-01T12:30:00Z"] {
        let mut args = vec!["--at", at];
        args.extend_from_slice(&audit);
        let out = desk.verify(&args);
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains("already used") && text(&out.stdout).contains("line 1"),
            "{}",
            text(&out.stdout)
        );
    }
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(&audit);
    let v: serde_json::Value = serde_json::from_slice(&desk.verify(&args).stdout).unwrap();
    assert_eq!(
        (&v["outcome"], &v["denied_by_log"]),
        (
            &serde_json::json!("denied"),
            &serde_json::json!("already_used")
        )
    );
    // Every refusal is on record; the log holds one `allowed` and stays intact.
    let records = lines_of(&log);
    let outcomes: Vec<&str> = records
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["allowed", "denied", "denied", "denied"]);
    assert_eq!(records[1]["denied_by_log"], "already_used");
    let out = tollgate(&["audit", "verify", s(&log)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // Without an audit log there is nothing to remember a use by (documented).
    assert_eq!(desk.verify(&[]).status.code(), Some(0));
}

#[test]
fn audit_verify_fails_a_log_that_allows_one_request_twice() {
    let desk = Desk::new(&["alice", "dave"]);
    let log = desk.path("audit.jsonl");
    desk.approve("alice", &[]);
    desk.approve("dave", &[]);
    assert_eq!(desk.verify(&["--audit", s(&log)]).status.code(), Some(0));
    // A second `allowed` for the same request, correctly chained (as a log written without the
    // single-use check would hold).
    let first = lines_of(&log).remove(0);
    let mut again = first.clone();
    again["time"] = serde_json::json!("2026-06-01T12:30:00Z");
    again["prev"] = serde_json::json!(record_hash(&first).unwrap().to_string());
    std::fs::write(&log, format!("{first}\n{again}\n")).unwrap();
    let out = tollgate(&["audit", "verify", s(&log)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(":2: REUSED") && text(&out.stdout).contains("line 1"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_reject_deleted_from_the_approvals_file_still_denies_with_an_audit_log() {
    let desk = Desk::new(&["alice", "dave"]);
    let log = desk.path("audit.jsonl");
    let audit = ["--audit", s(&log)];
    desk.approve("alice", &[]);
    desk.approve("dave", &[]);
    desk.approve("alice", &["--reject", "--evidence", "change freeze"]);
    assert_eq!(desk.verify(&audit).status.code(), Some(4));
    // Whoever can write the approvals file drops the reject (`grep -v reject`).
    desk.drop_lines("\"reject\"");
    let out = desk.verify(&audit);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("rejected before"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(lines_of(&log)[1]["denied_by_log"], "rejected_before");
}

#[test]
fn rejects_count_from_the_human_the_agent_acts_for_and_whatever_their_dates() {
    let desk = Desk::new(&["alice", "bob", "dave"]);
    desk.approve("alice", &[]);
    desk.approve("dave", &[]);
    assert_eq!(desk.verify(&[]).status.code(), Some(0));
    // bob (deploy-bot acts for him) rejects, after the evaluation time.
    let out = desk.approve(
        "bob",
        &[
            "--reject",
            "--evidence",
            "not my release",
            "--at",
            "2026-06-01T12:05:00Z",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = desk.verify(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
}

#[test]
fn a_stored_head_catches_a_cut_or_emptied_log() {
    let (desk, log, audit_key, pubkey) = audit_desk();
    for at in ["2026-06-01T12:00:00Z", "2026-06-01T12:01:00Z"] {
        let out = signed_decide(&log, &audit_key, at);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let head = tollgate(&["audit", "head", s(&log), "--sign-key", s(&audit_key)]);
    assert_eq!(head.status.code(), Some(0), "{}", text(&head.stderr));
    let head_file = desk.path("head.json");
    std::fs::write(&head_file, &head.stdout).unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["audit", "verify", s(&log)];
        args.extend_from_slice(extra);
        tollgate(&args)
    };
    let with_head = ["--head-file", s(&head_file), "--pubkey", &pubkey];
    assert_eq!(check(&with_head).status.code(), Some(0));
    let full = std::fs::read_to_string(&log).unwrap();
    let first_line = format!("{}\n", full.lines().next().unwrap());
    for (what, cut) in [("head -1", first_line.as_str()), ("emptied", "")] {
        std::fs::write(&log, cut).unwrap();
        // Every remaining record is validly signed: the key alone cannot see what is missing.
        assert_eq!(
            check(&["--pubkey", &pubkey]).status.code(),
            Some(0),
            "{what}"
        );
        let out = check(&with_head);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out.stdout));
        assert!(text(&out.stdout).contains("TAMPERED"), "{what}");
    }
    // The unsigned JSON head works the same way without a key.
    std::fs::write(&log, &full).unwrap();
    let plain = tollgate(&["audit", "head", s(&log), "--format", "json"]);
    std::fs::write(desk.path("plain.json"), &plain.stdout).unwrap();
    assert_eq!(
        check(&["--head-file", s(&desk.path("plain.json"))])
            .status
            .code(),
        Some(0)
    );
    std::fs::write(&log, "").unwrap();
    assert_eq!(
        check(&["--head-file", s(&desk.path("plain.json"))])
            .status
            .code(),
        Some(1)
    );
    // A head edited to match the cut log does not verify; a signed head needs the key.
    let forged = text(&head.stdout).replace("\"count\":2", "\"count\":0");
    assert_ne!(forged, text(&head.stdout));
    std::fs::write(&head_file, forged).unwrap();
    let out = check(&with_head);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    std::fs::write(&head_file, &head.stdout).unwrap();
    let out = check(&["--head-file", s(&head_file)]);
    assert_stderr(&out, 2, "--pubkey");
}

#[test]
fn appends_read_only_the_tail_and_refuse_non_regular_files() {
    let desk = Desk::new(&[]);
    let log = desk.path("audit.jsonl");
    let decide = |path: &Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .current_dir(support::repo())
            .args(decide_args(DEPLOY, ENTITIES, &["--audit", s(path)]))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("tollgate hung on {}", path.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    };
    for _ in 0..3 {
        assert_eq!(decide(&log).status.code(), Some(0));
    }
    // Damage before the last two records is for `audit verify` to find; an append never reads
    // it (before, the whole log was read into one string and this byte made it fail).
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[5] = 0xff;
    std::fs::write(&log, &bytes).unwrap();
    let out = decide(&log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(lines_of_bytes(&log), 4);
    // A torn tail is still refused.
    let mut torn = std::fs::read(&log).unwrap();
    torn.truncate(torn.len() - 5);
    std::fs::write(&log, &torn).unwrap();
    let out = decide(&log);
    assert_stderr(&out, 2, "refusing to append");
    // A folder, and a FIFO that would block a reader forever.
    let out = decide(desk.dir.path());
    assert_stderr(&out, 2, "not a regular file");
    #[cfg(unix)]
    {
        let fifo = desk.path("audit.fifo");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let out = decide(&fifo);
        assert_stderr(&out, 2, "not a regular file");
    }
}

fn lines_of_bytes(path: &Path) -> usize {
    std::fs::read(path)
        .unwrap()
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

fn approve_deploy(desk: &Desk, request: &str, extra: &[&str]) -> Output {
    let key = desk.path("alice.key");
    let flags = [
        ("--request", request),
        ("--approver", "Human::\"alice\""),
        ("--key", s(&key)),
        ("--entities", ENTITIES),
        ("--at", AT),
    ];
    tollgate(&flagged("approve", &flags, extra))
}

#[test]
fn approve_shows_what_it_signs_and_needs_yes_off_a_terminal() {
    let desk = Desk::new(&["alice"]);
    // stdin is not a terminal here: without --yes nothing is signed.
    let out = approve_deploy(&desk, DEPLOY, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.contains("--yes"), "{err}");
    let out = approve_deploy(&desk, DEPLOY, &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for shown in [
        "About to sign: approve as Human::\"alice\"",
        "Agent::\"deploy-bot\"",
        "Action::\"deploy\"",
        "Environment::\"prod\"",
        "Tier dual",
        "deploy release 4.2.1 to production",
        "canary in staging",
    ] {
        assert!(err.contains(shown), "{shown} missing from:\n{err}");
    }
    // The determining policy, with its reason.
    let decision = decide(DEPLOY, ENTITIES, &[]);
    let policy_line = text(&decision.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        err.contains(&policy_line),
        "{policy_line} missing from:\n{err}"
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["decision"], "approve");
}

#[test]
fn approve_refuses_requests_that_do_not_decide_or_are_denied() {
    let desk = Desk::new(&["alice"]);
    let unknown = desk.path("unknown.json");
    std::fs::write(
        &unknown,
        r#"{"principal": "Agent::\"deploy-bot\"", "action": "Action::\"launch_missiles\"", "resource": "Environment::\"prod\""}"#,
    )
    .unwrap();
    let out = approve_deploy(&desk, s(&unknown), &["--yes"]);
    refused(&out, &["nothing signed"]);
    assert!(out.stdout.is_empty());

    let denied = desk.path("denied.json");
    std::fs::write(
        &denied,
        r#"{"principal": "Agent::\"ir-bot\"", "action": "Action::\"grant_access\"", "resource": "LogStream::\"prod-audit\"", "context": {"request_id": "g1", "grantee": {"type": "Agent", "id": "ir-bot"}}}"#,
    )
    .unwrap();
    let out = approve_deploy(&desk, s(&denied), &["--yes"]);
    refused(&out, &["tier deny"]);
    assert!(out.stdout.is_empty());
    // Rejecting it is still possible.
    let out = approve_deploy(
        &desk,
        s(&denied),
        &[
            "--yes",
            "--reject",
            "--evidence",
            "agents do not grant access",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!out.stdout.is_empty());
}
