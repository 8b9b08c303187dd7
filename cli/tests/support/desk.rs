//! Approvers at a desk: keys, a keyring and an approvals file in a temporary folder, and the
//! `approve` and `verify` calls on the example deploy request.

use std::path::PathBuf;
use std::process::Output;

use super::{AT, ENTITIES, flagged, keygen, s, text, tollgate};

pub const DEPLOY: &str = "examples/deploy-request.json";

pub struct Desk {
    pub dir: tempfile::TempDir,
}

impl Desk {
    pub fn new(people: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = String::new();
        for p in people {
            ring.push_str(&text(&keygen(p, &dir.path().join(format!("{p}.key")))));
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
        let flags = [
            ("--request", DEPLOY),
            ("--approver", &approver),
            ("--key", s(&key)),
            ("--entities", ENTITIES),
        ];
        let mut args = flagged("approve", &flags, &["--yes"]);
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
        let flags = [
            ("--request", DEPLOY),
            ("--approvals", s(&approvals)),
            ("--keyring", s(&keyring)),
            ("--entities", ENTITIES),
        ];
        let mut args = flagged("verify", &flags, &[]);
        if !extra.contains(&"--at") {
            args.extend_from_slice(&["--at", AT]);
        }
        args.extend_from_slice(extra);
        tollgate(&args)
    }
}
