//! The bad-input corpus (`tests/bad-inputs/`, one folder per input kind) through every command
//! that reads that kind. Each run must refuse: the documented exit code (2, or a command's own
//! failure code where it has one), a message that names the file and the problem (the fragment
//! `tests/bad-inputs/expected.txt` gives for the file), never a panic, never an allowing outcome.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{
    AT, ENTITIES, batch_with, decide, decide_args, flagged, keygen, repo, spelt, text, tollgate,
    verify_args,
};

/// How a command takes the bad file, and which exit codes count as a refusal.
struct Reader {
    /// Short name, used in `expected.txt` to restrict a file to some readers.
    name: &'static str,
    /// Arguments; `{}` is replaced by the bad file (or, for `--context`, its content).
    args: Vec<&'static str>,
    /// Exit codes that are a documented refusal for this command.
    codes: &'static [i32],
    /// How the bad file reaches the command.
    via: Via,
    /// Whether the message must name the file. `simulate` reports a bad line as an `ERROR`
    /// row numbered by its line, and decides the rest (exit 1).
    names_file: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The path, as given.
    Path,
    /// A fresh folder holding only the file (policy, workflow folders).
    Folder,
    /// A copy in a scratch folder (the command may write to it: audit appends).
    Copy,
    /// The file's content as the argument (`--context`).
    Content,
}

const REFUSED: &[i32] = &[2];
/// `lint`: findings at error severity exit 1, a pack or workflow it cannot read exits 2.
const LINT: &[i32] = &[1, 2];
/// `simulate`: a request line that cannot be decided is an `ERROR` row (exit 1); a file it
/// cannot read at all exits 2.
const ROWS: &[i32] = &[1, 2];
/// `audit verify` and `audit show`: a damaged log is a finding (exit 1); an unreadable one exits 2.
const AUDIT_VERIFY: &[i32] = &[1, 2];

/// Every command that reads each kind of input.
fn readers(kind: &str) -> Vec<Reader> {
    use Via::*;
    let r = |name, args: Vec<&'static str>, codes, via| Reader {
        name,
        args,
        codes,
        via,
        names_file: true,
    };
    const REQUEST: &str = "examples/request.json";
    const DEPLOY: &str = "examples/deploy-request.json";
    const SMALL: &str = "examples/requests-small.jsonl";
    // The policy folder under test, beside the reference schemas.
    let policies =
        |args: Vec<&'static str>| after_command(&["--policies", "{}", "--schema", "schemas"], args);
    let schema = |args: Vec<&'static str>| after_command(&["--schema", "{}"], args);
    match kind {
        "request" => vec![
            r("decide", decide_args("{}", ENTITIES, &[]), REFUSED, Path),
            r("hash", vec!["hash", "--request", "{}"], REFUSED, Path),
            r("verify", verify_fixtures("{}", ENTITIES), REFUSED, Path),
            r("approve", approve_args("{}", "@key"), REFUSED, Path),
        ],
        "entities" => vec![
            r("decide", decide_args(REQUEST, "{}", &[]), REFUSED, Path),
            r("verify", verify_fixtures(DEPLOY, "{}"), REFUSED, Path),
            r(
                "simulate",
                batch_with("simulate", SMALL, "{}", &[]),
                REFUSED,
                Path,
            ),
            r("diff", batch_with("diff", SMALL, "{}", &[]), REFUSED, Path),
        ],
        "requests" => vec![
            Reader {
                name: "simulate",
                args: batch_with("simulate", "{}", ENTITIES, &[]),
                codes: ROWS,
                via: Path,
                names_file: false,
            },
            r(
                "bench",
                batch_with("bench", "{}", ENTITIES, &["--time", "0.05"]),
                REFUSED,
                Path,
            ),
            r(
                "diff",
                batch_with("diff", "{}", ENTITIES, &[]),
                REFUSED,
                Path,
            ),
        ],
        "context" => vec![r(
            "decide",
            flagged(
                "decide",
                &spelt(
                    "Agent::\"triage-bot\"",
                    "Action::\"add_token_scope\"",
                    "Token::\"ci\"",
                ),
                &["--context", "{}", "--entities", ENTITIES, "--at", AT],
            ),
            REFUSED,
            Content,
        )],
        "policies" => vec![
            r(
                "decide",
                policies(decide_args(REQUEST, ENTITIES, &[])),
                REFUSED,
                Folder,
            ),
            r(
                "test",
                policies(vec!["test", "policies/tests/inputs.yaml", "--at", AT]),
                REFUSED,
                Folder,
            ),
            r(
                "simulate",
                policies(batch_with("simulate", SMALL, ENTITIES, &[])),
                REFUSED,
                Folder,
            ),
            r(
                "lint",
                policies(vec!["lint", "--today", "2026-06-01"]),
                LINT,
                Folder,
            ),
        ],
        "schemas" => vec![
            r(
                "decide",
                schema(decide_args(REQUEST, ENTITIES, &[])),
                REFUSED,
                Path,
            ),
            r(
                "verify",
                schema(verify_fixtures(DEPLOY, ENTITIES)),
                REFUSED,
                Path,
            ),
            r(
                "lint",
                vec!["lint", "--schema", "{}", "--today", "2026-06-01"],
                LINT,
                Path,
            ),
        ],
        "approvals" => vec![r(
            "verify",
            verify_args(DEPLOY, ENTITIES, "{}", "@keyring"),
            REFUSED,
            Path,
        )],
        "keyrings" => vec![r(
            "verify",
            verify_args(DEPLOY, ENTITIES, "@approvals", "{}"),
            REFUSED,
            Path,
        )],
        "keys" => vec![
            r("approve", approve_args(DEPLOY, "{}"), REFUSED, Path),
            r(
                "audit-verify",
                vec!["audit", "verify", "@log", "--pubkey", "{}"],
                REFUSED,
                Path,
            ),
            r(
                "decide-audit",
                decide_args(
                    REQUEST,
                    ENTITIES,
                    &["--audit", "@scratch-log", "--sign-key", "{}"],
                ),
                REFUSED,
                Path,
            ),
        ],
        "audit" => vec![
            r(
                "audit-verify",
                vec!["audit", "verify", "{}"],
                AUDIT_VERIFY,
                Path,
            ),
            r(
                "audit-show",
                vec!["audit", "show", "{}"],
                AUDIT_VERIFY,
                Path,
            ),
            r("audit-head", vec!["audit", "head", "{}"], REFUSED, Path),
            r(
                "decide-audit",
                decide_args(REQUEST, ENTITIES, &["--audit", "{}"]),
                REFUSED,
                Copy,
            ),
        ],
        "workflows" => vec![r(
            "lint",
            vec!["lint", "--workflows", "{}", "--today", "2026-06-01"],
            REFUSED,
            Folder,
        )],
        "testcases" => vec![r("test", vec!["test", "{}", "--at", AT], REFUSED, Path)],
        other => panic!("tests/bad-inputs/{other}: no command is known to read this kind"),
    }
}

/// `args` with `flags` put right after the command's name.
fn after_command(flags: &[&'static str], args: Vec<&'static str>) -> Vec<&'static str> {
    [&args[..1], flags, &args[1..]].concat()
}

/// `verify` of `request` with `entities`, and the fixtures' approvals and keyring.
fn verify_fixtures(request: &'static str, entities: &'static str) -> Vec<&'static str> {
    verify_args(request, entities, "@approvals", "@keyring")
}

/// `approve --yes` of `request` by alice with `key`.
fn approve_args(request: &'static str, key: &'static str) -> Vec<&'static str> {
    let flags = [
        ("--request", request),
        ("--entities", ENTITIES),
        ("--approver", "Human::\"alice\""),
        ("--key", key),
        ("--at", AT),
    ];
    flagged("approve", &flags, &["--yes"])
}

/// `kind/file<TAB>readers<TAB>fragment` lines: `readers` is `*` or a comma list of reader names.
fn expectations() -> BTreeMap<String, (Option<Vec<String>>, String)> {
    let path = corpus().join("expected.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(file), Some(readers), Some(fragment)) =
            (parts.next(), parts.next(), parts.next())
        else {
            panic!(
                "expected.txt:{}: want `file<TAB>readers<TAB>fragment`",
                n + 1
            );
        };
        let readers = (readers != "*").then(|| readers.split(',').map(String::from).collect());
        assert!(
            out.insert(file.to_string(), (readers, fragment.to_string()))
                .is_none(),
            "expected.txt:{}: {file} listed twice",
            n + 1
        );
    }
    out
}

fn corpus() -> PathBuf {
    repo().join("tests/bad-inputs")
}

/// Valid companions the bad file is read beside: a keyring and key for alice, an empty
/// approvals file, a valid audit log.
struct Fixtures {
    dir: tempfile::TempDir,
}

impl Fixtures {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).display().to_string();
        let ring = keygen("alice", &dir.path().join("alice.key"));
        std::fs::write(dir.path().join("keyring.json"), ring).unwrap();
        std::fs::write(dir.path().join("approvals.jsonl"), "").unwrap();
        let out = decide(
            "examples/request.json",
            ENTITIES,
            &["--audit", &p("audit.jsonl")],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Runs `reader` on `file`; returns the output and what the command was told.
fn run(reader: &Reader, file: &Path, fixtures: &Fixtures, scratch: &Path) -> (Output, String) {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let arg = match reader.via {
        Via::Path => file.display().to_string(),
        Via::Folder => {
            let dir = scratch.join(format!("folder-{}", reader.name));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(file, dir.join(&name)).unwrap();
            dir.display().to_string()
        }
        Via::Copy => {
            let copy = scratch.join(format!("copy-{}-{name}", reader.name));
            std::fs::copy(file, &copy).unwrap();
            copy.display().to_string()
        }
        Via::Content => String::from_utf8(std::fs::read(file).unwrap()).unwrap(),
    };
    let scratch_log = scratch.join("scratch-audit.jsonl").display().to_string();
    let args: Vec<String> = reader
        .args
        .iter()
        .map(|a| match *a {
            "{}" => arg.clone(),
            "@approvals" => fixtures.path("approvals.jsonl"),
            "@keyring" => fixtures.path("keyring.json"),
            "@key" => fixtures.path("alice.key"),
            "@log" => fixtures.path("audit.jsonl"),
            "@scratch-log" => scratch_log.clone(),
            other => other.to_string(),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let shown = args
        .iter()
        .map(|a| if a.len() > 80 { "<long>" } else { a })
        .collect::<Vec<_>>()
        .join(" ");
    (tollgate(&args), shown)
}

#[test]
fn every_bad_input_is_refused_by_every_command_that_reads_it() {
    let expected = expectations();
    let fixtures = Fixtures::new();
    let mut seen = 0;
    let mut failures = Vec::new();
    let mut kinds: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    kinds.sort();
    for kind_dir in kinds {
        let kind = kind_dir.file_name().unwrap().to_string_lossy().into_owned();
        let readers = readers(&kind);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&kind_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let key = format!("{kind}/{name}");
            let Some((only, fragment)) = expected.get(&key) else {
                failures.push(format!(
                    "{key}: not listed in tests/bad-inputs/expected.txt"
                ));
                continue;
            };
            seen += 1;
            for reader in &readers {
                if only
                    .as_ref()
                    .is_some_and(|o| !o.iter().any(|n| n == reader.name))
                {
                    continue;
                }
                let scratch = tempfile::tempdir().unwrap();
                let (out, shown) = run(reader, &file, &fixtures, scratch.path());
                let stdout = text(&out.stdout);
                let stderr = text(&out.stderr);
                let all = format!("{stdout}{stderr}");
                let code = out.status.code();
                let mut wrong = Vec::new();
                if all.contains("panicked") || code.is_none() {
                    wrong.push(format!("crashed ({code:?})"));
                } else if !code.is_some_and(|c| reader.codes.contains(&c)) {
                    wrong.push(format!("exit {code:?}, want one of {:?}", reader.codes));
                }
                let names_it = !reader.names_file
                    || reader.via == Via::Content && all.contains("--context")
                    || all.contains(&name);
                if !names_it {
                    wrong.push(format!("the message does not name `{name}`"));
                }
                if !all.contains(fragment.as_str()) {
                    wrong.push(format!("the message lacks `{fragment}`"));
                }
                if ["auto:", "single:", "dual:", "allowed"]
                    .iter()
                    .any(|w| stdout.lines().any(|l| l.starts_with(w)))
                {
                    wrong.push("an allowing outcome was printed".into());
                }
                if !wrong.is_empty() {
                    let tail: String = all.chars().take(600).collect();
                    failures.push(format!(
                        "{key} via `{}`: {}\n    tollgate {shown}\n    {}",
                        reader.name,
                        wrong.join("; "),
                        tail.replace('\n', "\n    ")
                    ));
                }
            }
        }
    }
    for key in expected.keys() {
        if !corpus().join(key).exists() {
            failures.push(format!("expected.txt lists {key}, which does not exist"));
        }
    }
    assert!(
        seen >= 60,
        "the corpus has {seen} files; it should cover at least 60"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
