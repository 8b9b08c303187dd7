//! keygen → decide → approve → verify → audit, through the real binary on real files.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{AT, text, tollgate};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const DEPLOY: &str = "examples/deploy-request.json";
const ENTITIES: &str = "examples/entities.json";

struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    fn new(people: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = String::new();
        for p in people {
            let out = tollgate(&[
                "keygen",
                "--approver",
                &format!("Human::\"{p}\""),
                "--out",
                s(&dir.path().join(format!("{p}.key"))),
            ]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            ring.push_str(&text(&out.stdout));
        }
        std::fs::write(dir.path().join("keyring.json"), ring).unwrap();
        std::fs::write(dir.path().join("approvals.jsonl"), "").unwrap();
        Self { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn approve(&self, who: &str, extra: &[&str]) -> Output {
        let key = self.path(&format!("{who}.key"));
        let approver = format!("Human::\"{who}\"");
        let mut args = vec![
            "approve",
            "--request",
            DEPLOY,
            "--approver",
            &approver,
            "--key",
            s(&key),
            "--at",
            "2026-06-01T11:50:00Z",
        ];
        args.extend_from_slice(extra);
        let out = tollgate(&args);
        if out.status.success() {
            let mut all = std::fs::read_to_string(self.path("approvals.jsonl")).unwrap();
            all.push_str(&text(&out.stdout));
            std::fs::write(self.path("approvals.jsonl"), all).unwrap();
        }
        out
    }
    fn verify(&self, extra: &[&str]) -> Output {
        let approvals = self.path("approvals.jsonl");
        let keyring = self.path("keyring.json");
        let mut args = vec![
            "verify",
            "--request",
            DEPLOY,
            "--approvals",
            s(&approvals),
            "--keyring",
            s(&keyring),
            "--entities",
            ENTITIES,
            "--at",
            AT,
        ];
        args.extend_from_slice(extra);
        tollgate(&args)
    }
}

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
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 1"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(desk.path("approvals.jsonl"), "").unwrap();
    let key = "ed25519:EoOJrrVagkKVzyIwLAhv9L40Lj46zm5bKrhdosUQaIg=";
    std::fs::write(
        desk.path("keyring.json"),
        format!("{{\"Human::\\\"alice\\\"\": \"{key}\", \"Human::\\\"bob\\\"\": \"{key}\"}}"),
    )
    .unwrap();
    let out = desk.verify(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("one key to two approvers"),
        "{}",
        text(&out.stderr)
    );
    // No schema: verify cannot tell people from agents.
    let out = desk.verify(&["--schema", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn hash_matches_decide_and_ignores_spelling() {
    let out = tollgate(&["hash", "--request", DEPLOY]);
    let hash = text(&out.stdout).trim().to_string();
    assert!(hash.starts_with("sha256:") && hash.len() == 71);
    let out = tollgate(&[
        "decide",
        "--request",
        DEPLOY,
        "--entities",
        ENTITIES,
        "--at",
        AT,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["request"], hash);
}

#[test]
fn audit_log_records_decide_and_verify_and_detects_tampering() {
    let desk = Desk::new(&["alice", "dave"]);
    let log = desk.path("audit.jsonl");
    let key_out = tollgate(&["keygen", "--out", s(&desk.path("audit.key"))]);
    let pubkey = text(&key_out.stdout).trim().to_string();
    let audit_key = desk.path("audit.key");
    let signed = ["--audit", s(&log), "--sign-key", s(&audit_key)];
    let mut args = vec![
        "decide",
        "--request",
        DEPLOY,
        "--entities",
        ENTITIES,
        "--at",
        AT,
    ];
    args.extend_from_slice(&signed);
    assert_eq!(tollgate(&args).status.code(), Some(0));
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
    let args = vec![
        "decide",
        "--request",
        DEPLOY,
        "--entities",
        ENTITIES,
        "--at",
        AT,
        "--audit",
        s(&log),
    ];
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
