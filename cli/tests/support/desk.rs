//! Approvers at a desk: keys, a keyring and an approvals file in a temporary folder, and the
//! `approve` and `verify` calls on the example deploy request.

use std::path::PathBuf;
use std::process::Output;

use super::{AT, ENTITIES, s, text, tollgate};

pub const DEPLOY: &str = "examples/deploy-request.json";

pub struct Desk {
    pub dir: tempfile::TempDir,
}

impl Desk {
    pub fn new(people: &[&str]) -> Self {
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
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn approve(&self, who: &str, extra: &[&str]) -> Output {
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
            "--entities",
            ENTITIES,
            "--yes",
        ];
        if !extra.contains(&"--at") {
            args.extend_from_slice(&["--at", "2026-06-01T11:50:00Z"]);
        }
        args.extend_from_slice(extra);
        let out = tollgate(&args);
        if out.status.success() {
            let mut all = std::fs::read_to_string(self.path("approvals.jsonl")).unwrap();
            all.push_str(&text(&out.stdout));
            std::fs::write(self.path("approvals.jsonl"), all).unwrap();
        }
        out
    }
    /// Drops the approvals lines that contain `needle` (as `grep -v` would).
    pub fn drop_lines(&self, needle: &str) {
        let all = std::fs::read_to_string(self.path("approvals.jsonl")).unwrap();
        let kept: String = all
            .lines()
            .filter(|l| !l.contains(needle))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(self.path("approvals.jsonl"), kept).unwrap();
    }
    pub fn verify(&self, extra: &[&str]) -> Output {
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
        ];
        if !extra.contains(&"--at") {
            args.extend_from_slice(&["--at", AT]);
        }
        args.extend_from_slice(extra);
        tollgate(&args)
    }
}
