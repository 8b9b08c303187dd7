//! The bad-input corpus (`tests/bad-inputs/`, one folder per input kind) through every command
//! that reads that kind. Each run must refuse: the documented exit code (2, or a command's own
//! failure code where it has one), a message that names the file and the problem (the fragment
//! `tests/bad-inputs/expected.txt` gives for the file), never a panic, never an allowing outcome.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{AT, ENTITIES, batch_with, decide, decide_args, repo, text, tollgate};

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
    match kind {
        "request" => vec![
            r("decide", decide_args("{}", ENTITIES, &[]), REFUSED, Path),
            r("hash", vec!["hash", "--request", "{}"], REFUSED, Path),
            r("verify", verify_args("{}", ENTITIES), REFUSED, Path),
            r(
                "approve",
                vec![
                    "approve",
                    "--request",
                    "{}",
                    "--entities",
                    ENTITIES,
                    "--approver",
                    "Human::\"alice\"",
                    "--key",
                    "@key",
                    "--at",
                    AT,
                    "--yes",
                ],
                REFUSED,
                Path,
            ),
        ],
        "entities" => vec![
            r(
                "decide",
                decide_args("examples/request.json", "{}", &[]),
                REFUSED,
                Path,
            ),
            r(
                "verify",
                verify_args("examples/deploy-request.json", "{}"),
                REFUSED,
                Path,
            ),
            r(
                "simulate",
                batch_with("simulate", "examples/requests-small.jsonl", "{}", &[]),
                REFUSED,
                Path,
            ),
            r(
                "diff",
                batch_with("diff", "examples/requests-small.jsonl", "{}", &[]),
                REFUSED,
                Path,
            ),
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
            vec![
                "decide",
                "--principal",
                "Agent::\"triage-bot\"",
                "--action",
                "Action::\"add_token_scope\"",
                "--resource",
                "Token::\"ci\"",
                "--context",
                "{}",
                "--entities",
                ENTITIES,
                "--at",
                AT,
            ],
            REFUSED,
            Content,
        )],
        "policies" => vec![
            r(
                "decide",
                vec![
                    "decide",
                    "--policies",
                    "{}",
                    "--schema",
                    "schemas",
                    "--request",
                    "examples/request.json",
                    "--entities",
                    ENTITIES,
                    "--at",
                    AT,
                ],
                REFUSED,
                Folder,
            ),
            r(
                "test",
                vec![
                    "test",
                    "--policies",
                    "{}",
                    "--schema",
                    "schemas",
                    "policies/tests/inputs.yaml",
                    "--at",
                    AT,
                ],
                REFUSED,
                Folder,
            ),
            r(
                "simulate",
                vec![
                    "simulate",
                    "--policies",
                    "{}",
                    "--schema",
                    "schemas",
                    "--requests",
                    "examples/requests-small.jsonl",
                    "--entities",
                    ENTITIES,
                    "--at",
                    AT,
                ],
                REFUSED,
                Folder,
            ),
            r(
                "lint",
                vec![
                    "lint",
                    "--policies",
                    "{}",
                    "--schema",
                    "schemas",
                    "--today",
                    "2026-06-01",
                ],
                LINT,
                Folder,
            ),
        ],
        "schemas" => vec![
            r(
                "decide",
                vec![
                    "decide",
                    "--schema",
                    "{}",
                    "--request",
                    "examples/request.json",
                    "--entities",
                    ENTITIES,
                    "--at",
                    AT,
                ],
                REFUSED,
                Path,
            ),
            r(
                "verify",
                vec![
                    "verify",
                    "--schema",
                    "{}",
                    "--request",
                    "examples/deploy-request.json",
                    "--entities",
                    ENTITIES,
                    "--approvals",
                    "@approvals",
                    "--keyring",
                    "@keyring",
                    "--at",
                    AT,
                ],
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
            vec![
                "verify",
                "--request",
                "examples/deploy-request.json",
                "--entities",
                ENTITIES,
                "--approvals",
                "{}",
                "--keyring",
                "@keyring",
                "--at",
                AT,
            ],
            REFUSED,
            Path,
        )],
        "keyrings" => vec![r(
            "verify",
            vec![
                "verify",
                "--request",
                "examples/deploy-request.json",
                "--entities",
                ENTITIES,
                "--approvals",
                "@approvals",
                "--keyring",
                "{}",
                "--at",
                AT,
            ],
            REFUSED,
            Path,
        )],
        "keys" => vec![
            r(
                "approve",
                vec![
                    "approve",
                    "--request",
                    "examples/deploy-request.json",
                    "--entities",
                    ENTITIES,
                    "--approver",
                    "Human::\"alice\"",
                    "--key",
                    "{}",
                    "--at",
                    AT,
                    "--yes",
                ],
                REFUSED,
                Path,
            ),
            r(
                "audit-verify",
                vec!["audit", "verify", "@log", "--pubkey", "{}"],
                REFUSED,
                Path,
            ),
            r(
                "decide-audit",
                decide_args(
                    "examples/request.json",
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
                decide_args("examples/request.json", ENTITIES, &["--audit", "{}"]),
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

/// `verify` of `request` with `entities`, and the fixtures' approvals and keyring.
fn verify_args(request: &'static str, entities: &'static str) -> Vec<&'static str> {
    vec![
        "verify",
        "--request",
        request,
        "--entities",
        entities,
        "--approvals",
        "@approvals",
        "--keyring",
        "@keyring",
        "--at",
        AT,
    ]
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
        let out = tollgate(&[
            "keygen",
            "--approver",
            "Human::\"alice\"",
            "--out",
            &p("alice.key"),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        std::fs::write(dir.path().join("keyring.json"), &out.stdout).unwrap();
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
