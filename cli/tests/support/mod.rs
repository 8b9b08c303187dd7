//! What every CLI test needs: the repository, the built binary and its output as text, scratch
//! folders and packs to break on purpose, and the checks most tests make.

#![allow(dead_code, reason = "each test file uses part of it")]

pub mod desk;
pub mod fake_server;
pub mod mcp;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The evaluation time the examples are written for.
pub const AT: &str = "2026-06-01T12:00:00Z";
/// The example request, relative to the repository root.
pub const REQUEST: &str = "examples/request.json";
/// The example entities, relative to the repository root.
pub const ENTITIES: &str = "examples/entities.json";

/// The URL `tollgate serve` prints on its first stdout line (`listening on http://ADDR`), or
/// the line it printed instead. The child's stdout must be piped.
pub fn listening_url(child: &mut std::process::Child) -> Result<String, String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().ok_or("stdout is not piped")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    line.trim()
        .strip_prefix("listening on ")
        .map(String::from)
        .ok_or(line)
}

/// The repository root, where the reference pack and examples live.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tollgate` with `args`, in `dir`, without colours (so diagnostics compare as plain text).
pub fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command.current_dir(dir).env("NO_COLOR", "1").args(args);
    command
}

/// Runs `tollgate` in `dir`.
pub fn tollgate_in(dir: &Path, args: &[&str]) -> Output {
    command_in(dir, args).output().unwrap()
}

/// Runs `tollgate` in the repository root.
pub fn tollgate(args: &[&str]) -> Output {
    tollgate_in(&repo(), args)
}

/// Runs `tollgate` in `dir` with `input` on its stdin.
pub fn tollgate_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = command_in(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from another thread: a command that stops reading early must not deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    out
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Asserts the exit code (showing stderr when it differs) and that stderr contains `needle`.
#[track_caller]
pub fn assert_stderr(out: &Output, code: i32, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "{err}");
}

/// Exit 2 with every `needle` in stderr, and no panic.
pub fn refused(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_exit(out, 2);
    assert!(!err.contains("panicked"), "{err}");
    // miette wraps long messages: compare with the wrapping undone.
    let flat = |t: &str| {
        t.split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ")
    };
    for needle in needles {
        assert!(
            flat(&err).contains(&flat(needle)),
            "expected `{needle}` in:\n{err}"
        );
    }
}

/// A scratch folder holding files written by the test.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    /// Writes `content` to `name` (creating folders), returning its path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    pub fn root(&self) -> &Path {
        self.0.path()
    }
}

/// A folder with `policies/p.cedar` (and `schemas/s.cedarschema` when given).
pub fn pack(policies: &str, schema: Option<&str>) -> Scratch {
    let dir = Scratch::new();
    dir.write("policies/p.cedar", policies);
    if let Some(schema) = schema {
        dir.write("schemas/s.cedarschema", schema);
    }
    dir
}

/// A copy of the reference pack (policies, their tests, schemas, examples), to break on purpose.
pub fn copy_pack() -> Scratch {
    let dir = Scratch::new();
    for sub in ["policies", "policies/tests", "schemas", "examples"] {
        std::fs::create_dir_all(dir.path(sub)).unwrap();
        for entry in std::fs::read_dir(repo().join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.path(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    dir
}

/// `command`, then each flag followed by its value, then `extra`.
pub fn flagged<'a>(
    command: &'a str,
    flags: &[(&'a str, &'a str)],
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![command];
    for (flag, value) in flags {
        args.extend_from_slice(&[flag, value]);
    }
    args.extend_from_slice(extra);
    args
}

/// The arguments of `tollgate decide --request REQUEST --entities ENTITIES --at AT`, then `extra`.
pub fn decide_args<'a>(request: &'a str, entities: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let flags = [
        ("--request", request),
        ("--entities", entities),
        ("--at", AT),
    ];
    flagged("decide", &flags, extra)
}

/// Runs [`decide_args`] in the repository root.
pub fn decide(request: &str, entities: &str, extra: &[&str]) -> Output {
    tollgate(&decide_args(request, entities, extra))
}

/// The arguments of a batch command on `requests` with `entities` at [`AT`], then `extra`:
/// `simulate`, `bench`, or `diff` of the pack in the working directory against itself.
pub fn batch_with<'a>(
    command: &'a str,
    requests: &'a str,
    entities: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut flags = vec![];
    if command == "diff" {
        flags.extend([("--base", "."), ("--head", ".")]);
    }
    flags.extend([
        ("--requests", requests),
        ("--entities", entities),
        ("--at", AT),
    ]);
    flagged(command, &flags, extra)
}

/// [`batch_with`] the example entities.
pub fn batch_args<'a>(command: &'a str, requests: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    batch_with(command, requests, ENTITIES, extra)
}

/// Runs [`batch_args`] in the repository root.
pub fn batch(command: &str, requests: &str, extra: &[&str]) -> Output {
    tollgate(&batch_args(command, requests, extra))
}

/// Runs `tollgate decide` of the request [`spelt`] out, then `extra`, in the repository root.
pub fn decide_spelt(principal: &str, action: &str, resource: &str, extra: &[&str]) -> Output {
    tollgate(&flagged(
        "decide",
        &spelt(principal, action, resource),
        extra,
    ))
}

/// The flags that spell a request out: `--principal P --action A --resource R`.
pub fn spelt<'a>(
    principal: &'a str,
    action: &'a str,
    resource: &'a str,
) -> [(&'a str, &'a str); 3] {
    [
        ("--principal", principal),
        ("--action", action),
        ("--resource", resource),
    ]
}

/// The arguments of `tollgate verify --request R --entities E --approvals A --keyring K --at AT`.
pub fn verify_args<'a>(
    request: &'a str,
    entities: &'a str,
    approvals: &'a str,
    keyring: &'a str,
) -> Vec<&'a str> {
    let flags = [
        ("--request", request),
        ("--entities", entities),
        ("--approvals", approvals),
        ("--keyring", keyring),
        ("--at", AT),
    ];
    flagged("verify", &flags, &[])
}

/// Runs `tollgate keygen` for `Human::"who"` with the key written to `key`; asserts it succeeded
/// and returns its stdout (the keyring entry).
pub fn keygen(who: &str, key: &Path) -> Vec<u8> {
    let approver = format!("Human::\"{who}\"");
    let out = tollgate(&["keygen", "--approver", &approver, "--out", s(key)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    out.stdout
}

/// The lines of `examples/requests.jsonl`.
pub fn example_requests() -> Vec<String> {
    std::fs::read_to_string(repo().join("examples/requests.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Decides `line` (a request as JSON) on the reference pack with the example entities at [`AT`],
/// through the engine directly: what the commands must agree with.
pub struct ReferenceDecider {
    pack: tollgate_engine::Pack,
    entities: tollgate_engine::PreparedEntities,
}

impl ReferenceDecider {
    pub fn new() -> Self {
        let pack = tollgate_engine::Pack::load(
            tollgate_engine::fs::read_pack(&repo().join("policies"), Some(&repo().join("schemas")))
                .unwrap(),
        )
        .unwrap();
        let entities = pack
            .entities_from_json(
                &serde_json::from_str(&std::fs::read_to_string(repo().join(ENTITIES)).unwrap())
                    .unwrap(),
            )
            .unwrap();
        Self { pack, entities }
    }

    pub fn decide(&self, line: &str) -> tollgate_engine::Decision {
        let request = tollgate_engine::ProposedAction::from_json_str(line).unwrap();
        self.pack
            .decide(&request, &self.entities, AT.parse().unwrap())
            .unwrap()
    }
}
