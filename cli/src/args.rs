//! Command-line arguments. Values with a type in the engine (times, entity references,
//! digests, dates) are parsed by clap, so a bad one is a usage error naming its flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tollgate_engine::{CalendarDate, EntityRef, Sha256Digest, Timestamp};

/// Human-in-the-loop policy engine for AI agents, on Cedar.
///
/// Every action an agent proposes gets one of four tiers: auto (runs), single (one human
/// approves), dual (two distinct humans approve) or deny.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 findings or failures, 2 could not run (bad input, \
unreadable files, a pack that does not load). See each command's --help."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Change an input limit, NAME=N (repeatable): file-bytes, json-depth, text-depth,
    /// entities, hierarchy-depth, workflow-steps, policies. Input over a limit is refused
    /// before it is parsed. Defaults and ceilings: docs/limits.md.
    #[arg(long = "limit", global = true, value_name = "NAME=N", value_parser = parse_limit)]
    pub limits: Vec<String>,
}

/// Checks a `--limit` setting, so clap reports a bad one as a usage error.
fn parse_limit(setting: &str) -> Result<String, String> {
    let mut limits = tollgate_engine::limits::Limits::default();
    limits.apply(setting).map_err(|e| e.to_string())?;
    Ok(setting.to_string())
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per run: boxing would only add noise"
)]
pub enum Command {
    /// Decide the tier of one proposed action.
    #[command(after_help = DECIDE_HELP)]
    Decide(DecideArgs),
    /// Print the hash of a request, the value approvals are bound to.
    Hash(HashArgs),
    /// Decide a batch of requests: what would require approval?
    #[command(after_help = SIMULATE_HELP)]
    Simulate(SimulateArgs),
    /// Compare two packs on the same requests: what did a change weaken?
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Measure decisions per second and latency, against plain Cedar on the same requests.
    #[command(after_help = BENCH_HELP)]
    Bench(BenchArgs),
    /// Run the pack's YAML test cases.
    #[command(after_help = TEST_HELP)]
    Test(TestArgs),
    /// Load and validate the pack (parse, tiers, ids, strict schema validation), deciding nothing.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Format Cedar policy files with Cedar's formatter (comments and annotations kept).
    #[command(after_help = FMT_HELP)]
    Fmt(FmtArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Make an Ed25519 key for an approver (or for signing the audit log).
    #[command(after_help = KEYGEN_HELP)]
    Keygen(KeygenArgs),
    /// Sign an approval (or rejection) of one request; prints one JSON line to append to a file.
    #[command(after_help = APPROVE_HELP)]
    Approve(ApproveArgs),
    /// Check approvals for a request: allowed, pending or denied.
    // Verify reads `@human` from the schema: it cannot run without one.
    #[command(after_help = VERIFY_HELP, mut_arg("no_schema", |a| a.hide(true)))]
    Verify(VerifyArgs),
    /// Check, show or anchor the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve decisions over HTTP, with a pending-approval inbox and single-use approvals.
    // The server decides with the schema: it cannot run without one.
    #[command(after_help = SERVE_HELP, mut_arg("no_schema", |a| a.hide(true)))]
    Serve(ServeArgs),
    /// Review and sign the pending approvals of a `tollgate serve` (the approver's client).
    #[command(after_help = APPROVALS_HELP)]
    Approvals(ApprovalsArgs),
    /// Put the tiers in front of an MCP server: a stdio proxy that holds tool calls for approval.
    #[command(after_help = MCP_HELP)]
    Mcp(McpArgs),
    /// Find human gates placed after a privilege expansion, and other policy problems.
    // Lint reads `@privilege_expansion` and `@human` from the schema: it cannot run without one.
    #[command(after_help = LINT_HELP, mut_arg("no_schema", |a| a.hide(true)))]
    Lint(LintArgs),
}

const SERVE_HELP: &str = "\
Prints one line, `listening on http://ADDR`, once it serves (with --listen 127.0.0.1:0, ADDR names
the port picked), then serves until SIGTERM or Ctrl-C and finishes the requests in flight.
Without --tokens it listens on loopback only.

Examples:
  tollgate serve --entities examples/entities.json --keyring keyring.json --db sqlite://tollgate.db
  tollgate serve --db postgres://tollgate:PASSWORD@db.internal/tollgate --tokens tokens.json --listen 0.0.0.0:8080

Exit codes: 0 stopped by a signal, 2 could not start (a pack that does not load, a database that
cannot be opened, an address in use).";

const APPROVALS_HELP: &str = "\
The server is --server, else $TOLLGATE_SERVER, else http://127.0.0.1:8080. A bearer token is read
from --token-file, else $TOLLGATE_TOKEN (a server started without --tokens needs none).

`approve` and `reject` fetch the approval, recompute the request's hash here and refuse (nothing
signed) when it differs from the hash the server names: the signature is over the request shown.
The request, its tier, the policies that set it and the recommendation go to stderr first.

Examples:
  tollgate approvals list
  tollgate approvals show apr_0123456789abcdef0123456789abcdef
  tollgate approvals approve apr_0123456789abcdef0123456789abcdef --approver 'Human::\"alice\"' --key alice.key

Exit codes: 0 done (for approve/reject: posted and counted), 1 posted but not counted (or not
confirmed), 2 could not run (network, a server error with its message, a request whose hash does
not match, a request that is not pending).";

const MCP_HELP: &str = "\
The MCP client (Claude Desktop, an IDE, an agent framework) starts tollgate instead of the server;
tollgate starts COMMAND and relays JSON-RPC both ways over stdio. Each tools/call is decided by the
`tollgate serve` the configuration names: auto is forwarded, deny is answered with the reasons,
single and dual wait for approvers (up to approval_wait) and run once, after the approval is used.
Logs go to stderr; stdout carries only MCP messages.

Examples:
  tollgate mcp --config examples/mcp/mcp.yaml -- npx -y @modelcontextprotocol/server-filesystem /srv/data

Exit codes: 0 the client closed the session, 1 the MCP server exited first, 2 could not start (a
configuration that does not load, a command that cannot be started).";

const LINT_HELP: &str = "\
Rules (ids are stable; `docs/lint.md` has an example of each):
  gate-after-expansion  error    a workflow's privilege-expanding step runs auto before a gated step
  ungated-expansion     error    an auto permit may allow a @privilege_expansion action
  self-approval         error    a non-human principal may satisfy an approval permit
  invalid-tier          error    a @tier outside the tier table
  schema                error    Cedar strict validation (warnings at warning severity)
  exception-expired     error    an exception past its @review_by date
  missing-tier          warning  a permit without @tier (treated as single)
  missing-id            warning  a policy without @id
  may-error             warning  a policy that validates but can error at run time
  shadowed-permit       warning  a permit a lower-tier permit always shadows
  exception-unowned     warning  an exception without @owner and @review_by
  standing-delegation   warning  an auto permit relying on delegation without an expiry check

Examples:
  tollgate lint
  tollgate lint --policies examples/bad-pack/policies --schema examples/bad-pack/schemas --today 2026-06-01
  tollgate lint --format sarif > tollgate.sarif

Exit codes: 0 clean, 1 findings at error severity (or warnings with --deny warnings), 2 could not
run (no schema, a file that does not parse, a workflow step that does not fit the schema).";

const TEST_HELP: &str = "\
Examples:
  tollgate test                          # every case under policies/tests
  tollgate test policies/tests/changes.yaml --coverage --junit report.xml

Ends with `N passed, N failed` (with --format json, one object with every case instead). Exit codes: 0 all cases pass, 1 any case fails, 2 could not run
(a pack that does not load, an unreadable or malformed test file).";

const SIMULATE_HELP: &str = "\
Examples:
  tollgate simulate --requests examples/requests.jsonl --entities examples/entities.json
  tollgate simulate --requests - --group-by action --format csv < requests.jsonl > decisions.csv

text (also spelt table) streams the requests that need approval or are denied, then a summary
per tier (and per group); csv streams every decision (summary on stderr); json buffers one object
with every decision and the summary. A line that cannot be read or decided is an ERROR row (error
in csv and json) numbered by its line, and the rest still run. Exit codes: 0 all lines decided, 1
some line could not be decided, 2 could not run.";

const DIFF_HELP: &str = "\
Example (a pull request's base against its head):
  git worktree add ../base origin/main
  tollgate diff --base ../base --head . --requests examples/requests.jsonl --entities examples/entities.json

A request line that cannot be read is reported on stderr as FILE:LINE and the rest still run.
Exit codes: 0 nothing weakened or errored, 1 some request's tier went down (WEAKENED) or errors on
one side only (ERROR), 2 could not run or some request line could not be read.";

const KEYGEN_HELP: &str = "\
Examples:
  tollgate keygen --approver 'Human::\"alice\"' --out alice.key >> keyring.json.d/alice.json
  tollgate keygen --out audit.key          # a service key for --sign-key; prints its public key

The private key file is created with mode 0600 and never overwritten. With --approver, the output
is the approver's keyring entry {\"Human::\\\"alice\\\"\": \"ed25519:...\"}; merge entries into one
JSON object for --keyring.";

const APPROVE_HELP: &str = "\
Examples:
  tollgate approve --request req.json --approver 'Human::\"alice\"' --key alice.key \\
      --entities entities.json >> approvals.jsonl
  tollgate approve --request req.json --approver 'Human::\"alice\"' --key alice.key --yes \\
      --reject --evidence 'scope broader than the incident needs' >> approvals.jsonl

Before signing, the request is decided against the pack and shown on stderr: the request, its
tier, the policies that set it (with their reasons) and the agent's recommendation
(`context.recommendation`). On a terminal it then asks to confirm (y/N); when stdin is not a
terminal, --yes is required. A request that cannot be decided (an action not in the schema, a
context that does not fit) is refused, and so is approving a deny-tier request (rejecting it is
allowed). The record binds the request's hash, so it cannot be replayed on another request.

Exit codes: 0 signed (the record is on stdout), 1 not confirmed (nothing signed), 2 refused or
could not run (nothing signed).";

const VERIFY_HELP: &str = "\
Example:
  tollgate verify --request req.json --approvals approvals.jsonl --keyring keyring.json \\
      --entities examples/entities.json --audit audit.jsonl

With --audit, approvals are single use: a request the audit log already shows allowed is denied
(\"already used\"), and so is one the log shows rejected before (even if the reject has since
been removed from the approvals file); the denial is recorded too.

Exit codes: 0 allowed, 3 pending (more approvals needed), 4 denied (deny tier, a counted reject,
or denied by the audit log), 2 could not verify (malformed records, unreadable files, no schema,
the principal or an approver missing from the entities, a damaged audit log).";

const DECIDE_HELP: &str = "\
Examples:
  tollgate decide --request examples/request.json --entities examples/entities.json
  tollgate decide --principal 'Agent::\"triage-bot\"' --action 'Action::\"summarize\"' \\
      --resource 'Document::\"incident-123\"' --context '{\"request_id\": \"r1\"}' --format json

Exit codes: 0 a decision was made (any tier, deny included), 2 the pack or the input could not be
used (the message names the file, line and field), or no schema was found and --no-schema was not
given. Without --entities, a note on stderr says that every entity is unknown.";

const BENCH_HELP: &str = "\
Example:
  tollgate bench --requests examples/requests.jsonl --entities examples/entities.json --time 1

Only requests both engines can decide are timed; the others are counted as skipped. A request line
that cannot be read is reported on stderr as FILE:LINE and the rest still run. Exit codes: 0
measured, 2 could not run, nothing could be timed, or some request line could not be read.";

const CHECK_HELP: &str = "\
Example:
  tollgate check --policies policies --schema schemas

Loads the pack as every deciding command does: each policy parses, has a valid @tier and a
unique id, and validates strictly against the schema. Cedar validation warnings are printed on
stderr and do not fail the check. Exit codes: 0 the pack loads, 2 it does not (every problem is
listed with its file and line).";

const FMT_HELP: &str = "\
Examples:
  tollgate fmt                           # rewrite every .cedar file under policies/
  tollgate fmt --check policies          # for CI: list unformatted files, exit 1 if any
  tollgate fmt - < policy.cedar          # format stdin to stdout

Uses Cedar's own formatter, which keeps comments and annotations and checks that the formatted
policies mean the same. Exit codes: 0 formatted (or, with --check, nothing to change), 1 with
--check, some file would change, 2 a file that does not parse or cannot be written.";

const COMPLETIONS_HELP: &str = "\
Examples:
  tollgate completions bash > /etc/bash_completion.d/tollgate
  tollgate completions zsh > \"${fpath[1]}/_tollgate\"
  tollgate completions fish > ~/.config/fish/completions/tollgate.fish";

/// `--format` of most commands. `table` is accepted for `text`, its name in earlier versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    #[value(alias = "table")]
    Text,
    /// For programs.
    Json,
}

/// `lint --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Findings with source snippets, like rustc.
    #[value(alias = "table")]
    Text,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// `simulate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimulateFormat {
    /// The requests that need approval or are denied, then a summary.
    #[value(alias = "table")]
    Text,
    /// One object with every decision and the summary.
    Json,
    /// Every decision, one row each (summary on stderr).
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Warnings fail the run too.
    Warnings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    Action,
    Principal,
    Resource,
}

/// Where the policy pack is.
#[derive(Debug, Args, Clone)]
pub struct PackArgs {
    /// Folder of .cedar policy files (searched recursively).
    #[arg(long, value_name = "DIR", default_value = "policies")]
    pub policies: PathBuf,
    /// Cedar schema: a .cedarschema file, or a folder of them. Defaults to `schemas` when that
    /// folder exists; an explicitly given path must exist.
    #[arg(long, value_name = "PATH")]
    pub schema: Option<PathBuf>,
    /// Decide without a schema. Without this flag, no schema is an error (exit 2): without one,
    /// requests, context and entities are not checked and nothing is `@human` or
    /// `@privilege_expansion`.
    #[arg(long, conflicts_with = "schema")]
    pub no_schema: bool,
}

/// When a decision is made.
#[derive(Debug, Args, Clone)]
pub struct TimeArgs {
    /// Evaluation time (RFC 3339, any offset), which fills `context.now`; defaults to now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<Timestamp>,
}

/// Writing an audit record.
#[derive(Debug, Args, Clone)]
pub struct AuditArgs {
    /// Append an audit record to this JSON Lines file (locked, one write, fsync).
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// Sign the audit record with this key file (see `tollgate keygen`).
    #[arg(long, value_name = "KEY", requires = "audit")]
    pub sign_key: Option<PathBuf>,
    /// The AI's recommendation or rationale to record (default: the request's
    /// `context.recommendation`, if any).
    #[arg(long, value_name = "TEXT", requires = "audit")]
    pub recommendation: Option<String>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Folder of workflow YAML files. Defaults to `<policies>/workflows` when that folder
    /// exists; an explicitly given folder must exist.
    #[arg(long, value_name = "DIR")]
    pub workflows: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// The day review dates are checked against (YYYY-MM-DD); defaults to today's UTC date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<CalendarDate>,
    /// `--deny warnings`: exit 1 on warnings as well as errors.
    #[arg(long, value_enum, value_name = "warnings")]
    pub deny: Option<Deny>,
    #[command(flatten)]
    pub smt: SmtArgs,
}

/// Exact analysis with the cvc5 SMT solver (see docs/smt.md).
#[derive(Debug, Args, Clone)]
pub struct SmtArgs {
    /// Answer the question exactly, over every request the schema allows, with Cedar's
    /// symbolic compiler and cvc5 (found through `CVC5` or `PATH`; exit 2 without one).
    #[arg(long)]
    pub smt: bool,
    /// Time limit per solver query, in milliseconds; a query that runs out is `unknown`,
    /// which fails the run (never "safe").
    #[arg(long, value_name = "MS", default_value_t = 10_000, requires = "smt")]
    pub smt_timeout: u64,
    /// Neither read nor write the result cache (`$XDG_CACHE_HOME/tollgate/smt`).
    #[arg(long, requires = "smt")]
    pub no_smt_cache: bool,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// The request as Cedar JSON ({"principal", "action", "resource", "context"}); `-` reads stdin.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["principal", "action", "resource", "context"])]
    pub request: Option<PathBuf>,
    /// Principal, e.g. 'Agent::"triage-bot"' (instead of --request).
    #[arg(long, value_name = "ENTITY", requires_all = ["action", "resource"])]
    pub principal: Option<EntityRef>,
    /// Action, e.g. 'Action::"deploy"'.
    #[arg(long, value_name = "ENTITY", requires_all = ["principal", "resource"])]
    pub action: Option<EntityRef>,
    /// Resource, e.g. 'Environment::"prod"'.
    #[arg(long, value_name = "ENTITY", requires_all = ["principal", "action"])]
    pub resource: Option<EntityRef>,
    /// Context as a JSON object; `-` reads it from stdin.
    #[arg(long, value_name = "JSON|-", requires = "principal")]
    pub context: Option<String>,
    /// Entities in Cedar's entities JSON format; `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub entities: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Requests, one Cedar JSON request per line; `-` reads stdin.
    #[arg(long, value_name = "FILE.jsonl|-")]
    pub requests: PathBuf,
    /// Entities in Cedar's entities JSON format; `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub entities: Option<PathBuf>,
    #[command(flatten)]
    pub time: TimeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SimulateFormat::Text)]
    pub format: SimulateFormat,
    /// Also count tiers per action, principal or resource.
    #[arg(long, value_enum)]
    pub group_by: Option<GroupBy>,
    /// Project the human workload at this many requests a day, as if the requests file were a
    /// sample of them: approvals a day per tier, and the 5 policies that drive the most.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub per_day: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The base checkout root (holds policies/ and schemas/).
    #[arg(long, value_name = "DIR")]
    pub base: Option<PathBuf>,
    /// The head checkout root.
    #[arg(long, value_name = "DIR")]
    pub head: Option<PathBuf>,
    /// Base policies folder (instead of --base).
    #[arg(long, value_name = "DIR", conflicts_with = "base")]
    pub base_policies: Option<PathBuf>,
    /// Head policies folder (instead of --head).
    #[arg(long, value_name = "DIR", conflicts_with = "head")]
    pub head_policies: Option<PathBuf>,
    /// Base schema (file or folder).
    #[arg(long, value_name = "PATH")]
    pub base_schema: Option<PathBuf>,
    /// Head schema (file or folder).
    #[arg(long, value_name = "PATH")]
    pub head_schema: Option<PathBuf>,
    /// Compare the packs without a schema (see `decide --help`); otherwise each side needs one.
    #[arg(long, conflicts_with_all = ["base_schema", "head_schema"])]
    pub no_schema: bool,
    /// Requests, one Cedar JSON request per line; `-` reads stdin. Not with `--smt`, which
    /// compares the packs over every request the schema allows.
    #[arg(
        long,
        value_name = "FILE.jsonl|-",
        required_unless_present = "smt",
        conflicts_with = "smt"
    )]
    pub requests: Option<PathBuf>,
    /// Entities in Cedar's entities JSON format (used for both packs); `-` reads stdin.
    #[arg(long, value_name = "FILE|-", conflicts_with = "smt")]
    pub entities: Option<PathBuf>,
    #[command(flatten)]
    pub time: TimeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub smt: SmtArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Requests, one Cedar JSON request per line; `-` reads stdin.
    #[arg(long, value_name = "FILE.jsonl|-")]
    pub requests: PathBuf,
    /// Entities in Cedar's entities JSON format; `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub entities: Option<PathBuf>,
    /// Seconds to measure each engine for (more than 0, at most 600).
    #[arg(long, value_name = "SECS", default_value_t = 3.0, value_parser = parse_bench_time)]
    pub time: f64,
    #[command(flatten)]
    pub at: TimeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `bench --time`: a measurement budget that ends, and not so long that a typo hangs CI.
fn parse_bench_time(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if secs > 0.0 && secs <= 600.0 {
        Ok(secs)
    } else {
        Err("must be between 0 and 600 seconds".into())
    }
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Test files or folders (default: <policies>/tests).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// List the policies that determined no case's decision.
    #[arg(long)]
    pub coverage: bool,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Evaluation time for cases that give no `at:` (RFC 3339); defaults to now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<Timestamp>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// .cedar files or folders of them (searched recursively); `-` formats stdin to stdout.
    #[arg(value_name = "PATHS", default_value = "policies")]
    pub paths: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
    /// Output format (of the list of files).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// The request (Cedar JSON); `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub request: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The approver the key belongs to, e.g. 'Human::"alice"'. Omit for an audit-signing key.
    #[arg(long, value_name = "ENTITY")]
    pub approver: Option<EntityRef>,
    /// Where to write the private key (created with mode 0600; never overwritten).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How long an approval stays valid, in whole seconds: more than none, at most 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(pub i64);

impl std::str::FromStr for Ttl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        use tollgate_engine::approvals::MAX_APPROVAL_TTL_SECONDS;
        let bad = || format!("`{text}`: expected a duration like 30m, 1h or 2h30m");
        let duration = humantime::parse_duration(text.trim()).map_err(|_| bad())?;
        if duration.subsec_nanos() != 0 || duration.is_zero() {
            return Err(bad());
        }
        match i64::try_from(duration.as_secs()) {
            Ok(secs) if secs <= MAX_APPROVAL_TTL_SECONDS => Ok(Self(secs)),
            _ => Err(format!(
                "`{text}` is longer than 24h: approvals must not become standing privilege"
            )),
        }
    }
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// The request approved (Cedar JSON); `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub request: PathBuf,
    /// Entities, to decide the request's tier as `verify` will; `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub entities: Option<PathBuf>,
    /// Sign without asking for confirmation (for scripts; needed when stdin is not a terminal).
    /// The request, its tier and why are still shown on stderr.
    #[arg(long)]
    pub yes: bool,
    /// Who approves, e.g. 'Human::"alice"'; must match the key file.
    #[arg(long, value_name = "ENTITY")]
    pub approver: EntityRef,
    /// The approver's private key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Reject instead of approve (needs --evidence).
    #[arg(long, requires = "evidence")]
    pub reject: bool,
    /// How long the approval stays valid: e.g. 30m, 1h, 2h30m (at most 24h).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub ttl: Ttl,
    /// Why: the evidence the decision rests on (required for --reject).
    #[arg(long, value_name = "TEXT")]
    pub evidence: Option<String>,
    /// Issue time (RFC 3339); defaults to now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<Timestamp>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// The request (Cedar JSON); `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub request: PathBuf,
    /// Approval records, one JSON object per line; `-` reads stdin.
    #[arg(long, value_name = "FILE.jsonl|-")]
    pub approvals: PathBuf,
    /// Approvers' public keys: {"Human::\"alice\"": "ed25519:...", ...}; `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub keyring: PathBuf,
    /// Entities: the principal and every approver must be in them; `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub entities: PathBuf,
    #[command(flatten)]
    pub time: TimeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub audit: AuditArgs,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// The gateway's configuration (YAML): agent, server name, serve URL, tool mappings.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The MCP server to start, after `--`.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// The server's entities: the principal of every request must be one of them.
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// Approvers' public keys ({"Human::\"alice\"": "ed25519:...", ...}); without it no approval
    /// counts.
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// The database: sqlite://PATH or postgres://USER:PASSWORD@HOST[:PORT]/DB.
    #[arg(long, value_name = "URL", default_value = tollgate_server::DEFAULT_DB)]
    pub db: DbUrl,
    /// Where to listen; port 0 picks a free port (printed on start).
    #[arg(long, value_name = "ADDR", default_value = tollgate_server::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// Bearer tokens and their roles; without it the server accepts loopback clients only.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// The key that signs every audit record (a `tollgate keygen` file).
    #[arg(long, value_name = "FILE")]
    pub audit_key: Option<PathBuf>,
    /// How long an approval request waits for humans before it expires: e.g. 30m, 4h, 24h.
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub pending_ttl: PendingTtl,
    /// Post CloudEvents about approval requests to this URL (needs --webhook-secret).
    #[arg(long, value_name = "URL", requires = "webhook_secret")]
    pub webhook: Option<WebhookUrl>,
    /// The file holding the webhook's HMAC-SHA256 secret.
    #[arg(long, value_name = "FILE", requires = "webhook")]
    pub webhook_secret: Option<PathBuf>,
}

/// `--db`: a `sqlite:` or `postgres://` URL. A bad one is refused without echoing it, since a
/// PostgreSQL URL holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl(pub String);

impl std::str::FromStr for DbUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if known
            .iter()
            .any(|k| text.starts_with(k) && text.len() > k.len())
        {
            Ok(Self(text.to_string()))
        } else {
            Err("expected sqlite://PATH or postgres://USER:PASSWORD@HOST[:PORT]/DB".into())
        }
    }
}

/// `--pending-ttl`: a whole, non-zero number of seconds (humantime: 30m, 4h, 1d).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingTtl(pub std::time::Duration);

impl std::str::FromStr for PendingTtl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() && d.subsec_nanos() == 0 => Ok(Self(d)),
            _ => Err(format!("`{text}`: expected a duration like 30m, 4h or 24h")),
        }
    }
}

/// `--webhook`: an http:// or https:// URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(pub String);

impl std::str::FromStr for WebhookUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match reqwest::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Ok(Self(url.to_string()))
            }
            _ => Err("expected an http:// or https:// URL".into()),
        }
    }
}

/// A `tollgate serve` approval id: `apr_` and 32 lowercase hex digits. Checked before it goes
/// into a URL, so an id can never change the path asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalId(String);

impl ApprovalId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ApprovalId {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let hex = text.strip_prefix("apr_").unwrap_or_default();
        if hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(text.to_string()))
        } else {
            Err(format!(
                "`{}`: expected an approval id, apr_ and 32 hex digits",
                crate::render::shown(text)
            ))
        }
    }
}

impl std::fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server's base URL: `http` or `https`, with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(pub reqwest::Url);

impl std::str::FromStr for ServerUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("`{text}`: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("`{text}`: expected an http:// or https:// URL"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(format!(
                "`{text}`: expected a base URL, without a query, fragment or user"
            ));
        }
        Ok(Self(url))
    }
}

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// The server's URL [default: $TOLLGATE_SERVER, else http://127.0.0.1:8080].
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<ServerUrl>,
    /// A file holding the bearer token [default: $TOLLGATE_TOKEN, else none].
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// One line per approval: id, state, tier, approvals missing, principal, action, resource,
    /// age.
    List(ApprovalsListArgs),
    /// One approval: the request, its decision, the recommendation and the records so far.
    Show(ApprovalsShowArgs),
    /// Sign an approval of a pending request and send it to the server.
    Approve(ApprovalsSignArgs),
    /// Sign a rejection of a pending (or allowed) request and send it to the server.
    Reject(ApprovalsRejectArgs),
}

/// An approval's state on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApprovalState {
    Pending,
    Allowed,
    Denied,
    Expired,
    Consumed,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Allowed => "allowed",
            ApprovalState::Denied => "denied",
            ApprovalState::Expired => "expired",
            ApprovalState::Consumed => "consumed",
        }
    }
}

#[derive(Debug, Args)]
pub struct ApprovalsListArgs {
    /// Only approvals in this state (the server's default when not given).
    #[arg(long, value_enum)]
    pub state: Option<ApprovalState>,
    /// Output format (json: the server's answer as it sent it).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ApprovalsShowArgs {
    /// The approval id (apr_...).
    #[arg(value_name = "ID")]
    pub id: ApprovalId,
    /// Output format (json: the server's answer as it sent it).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Who signs, with which key, and whether to ask first.
#[derive(Debug, Args)]
pub struct SignerArgs {
    /// Who signs, e.g. 'Human::"alice"'; must match the key file.
    #[arg(long, value_name = "ENTITY")]
    pub approver: EntityRef,
    /// The approver's private key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Sign without asking for confirmation (for scripts; needed when stdin is not a terminal).
    /// What is signed is still shown on stderr.
    #[arg(long)]
    pub yes: bool,
    /// Output format of the server's answer.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ApprovalsSignArgs {
    /// The approval id (apr_...).
    #[arg(value_name = "ID")]
    pub id: ApprovalId,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// How long the approval stays valid: e.g. 30m, 1h, 2h30m (at most 24h).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub ttl: Ttl,
    /// Why: the evidence the approval rests on.
    #[arg(long, value_name = "TEXT")]
    pub evidence: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApprovalsRejectArgs {
    /// The approval id (apr_...).
    #[arg(value_name = "ID")]
    pub id: ApprovalId,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Why the request is rejected.
    #[arg(long, value_name = "TEXT")]
    pub evidence: String,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no record was edited, removed, inserted or reordered, and that no request
    /// was allowed twice (approvals are single use).
    ///
    /// Exit 0 intact, 1 tampered (naming the first bad line) or a request allowed twice (naming
    /// both lines), 2 could not read (or a stored head that cannot be used).
    Verify(AuditVerifyArgs),
    /// Print the records (exit 1, with a warning, when the log does not verify).
    Show(AuditShowArgs),
    /// Print the record count and head hash, to store elsewhere (a ticket, a CI artifact).
    ///
    /// Keep the output away from whoever can write the log: `audit verify --head-file` (or
    /// --head/--count) then catches records cut off the end, or an emptied log.
    Head(AuditHeadArgs),
    /// Approval fatigue: who approves what, how fast, how often anyone says no, and which
    /// gates cause the load (reads the CLI's log and `tollgate serve`'s `GET /v1/audit`).
    ///
    /// Flags approvers who look like rubber stamps (approve everything over many requests, or
    /// approve faster than anyone can read) or approve in bursts, gates never rejected over
    /// many requests (candidates to re-scope or automate), and pairs of approvers whose dual
    /// approvals come within a minute of each other again and again. Exit 0, or 2 on a log it
    /// cannot read. It does not check the chain: run `tollgate audit verify` for that.
    Stats(AuditStatsArgs),
}

/// `audit stats --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// Tables for a terminal.
    Table,
    /// One JSON object.
    Json,
    /// One self-contained HTML page with charts (no script, nothing fetched).
    Html,
}

#[derive(Debug, Args)]
pub struct AuditStatsArgs {
    /// The audit log (the CLI's, or `tollgate serve`'s export); `-` reads stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// Only decisions and approvals at or after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<Timestamp>,
    /// Only decisions and approvals before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<Timestamp>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
    /// Rubber stamp: a median time to approve under this many seconds (over 5 or more timed
    /// approvals).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub rubber_stamp_seconds: u64,
    /// Rubber stamp: approving every one of at least this many requests.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub rubber_stamp_records: usize,
    /// Burst: this many approvals by one approver within a minute.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub burst: usize,
    /// Dual collapse: the second approval of a dual request within this many seconds of the
    /// first (flagged for a pair after 3 such requests, and half of their dual requests).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub dual_collapse_seconds: u64,
    /// A gate never rejected over at least this many approval requests is a candidate to
    /// re-scope or automate.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub candidate_requests: usize,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The audit log; `-` reads stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// A head hash recorded earlier (`tollgate audit head`): detects records cut off or edited
    /// after it.
    #[arg(long, value_name = "sha256:...", conflicts_with = "head_file")]
    pub head: Option<Sha256Digest>,
    /// A record count recorded earlier: detects records cut off after it (an emptied log too).
    #[arg(long, value_name = "N", conflicts_with = "head_file")]
    pub count: Option<usize>,
    /// A head recorded earlier as JSON (`tollgate audit head --format json`, or signed with
    /// `--sign-key`): its count and head hash are checked as --count and --head. A signed head
    /// needs --pubkey, and with --pubkey the head must be signed by it. `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub head_file: Option<PathBuf>,
    /// The file is a slice of a longer log (as `tollgate serve` exports it with
    /// `GET /v1/audit?after=HASH`) following the record with this hash: the slice's first record
    /// must chain to it instead of starting the log. Record numbers, the count, and
    /// --head/--count/--head-file then speak of the slice alone.
    #[arg(long, value_name = "sha256:...")]
    pub after: Option<Sha256Digest>,
    /// The audit key's public key (`ed25519:...`, or a file holding it or the key file): every
    /// record must be signed by it. This catches an edited newest record, not a cut-off tail:
    /// for that, check against a stored head (--head-file, or --head/--count).
    #[arg(long, value_name = "KEY")]
    pub pubkey: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditShowArgs {
    /// The audit log; `-` reads stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct AuditHeadArgs {
    /// The audit log; `-` reads stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Sign the head with the audit key file: prints a signed JSON head record (for
    /// `audit verify --head-file FILE --pubkey KEY`).
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::{ApprovalId, DbUrl, PendingTtl, ServerUrl, Ttl};

    #[test]
    fn serve_defaults_are_the_servers() {
        assert_eq!(
            "24h".parse::<PendingTtl>().map(|t| t.0),
            Ok(tollgate_server::DEFAULT_PENDING_TTL)
        );
        for bad in ["0s", "1500ms", "", "soon"] {
            assert!(bad.parse::<PendingTtl>().is_err(), "{bad}");
        }
        assert!(tollgate_server::DEFAULT_DB.parse::<DbUrl>().is_ok());
        assert!(
            tollgate_server::DEFAULT_LISTEN
                .parse::<std::net::SocketAddr>()
                .is_ok()
        );
        // A refused database URL is not echoed: it may hold a password.
        let e = "mysql://u:s3cret@h/db".parse::<DbUrl>().unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        assert!("postgres://".parse::<DbUrl>().is_err());
    }

    #[test]
    fn approval_ids_and_server_urls_are_checked() {
        assert!(
            "apr_0123456789abcdef0123456789abcdef"
                .parse::<ApprovalId>()
                .is_ok()
        );
        for bad in [
            "apr_0123456789ABCDEF0123456789abcdef",
            "apr_0123456789abcdef0123456789abcde",
            "apr_0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcdef",
            "apr_../../v1/admin/reload0000000000",
        ] {
            assert!(bad.parse::<ApprovalId>().is_err(), "{bad}");
        }
        assert!("http://127.0.0.1:8080".parse::<ServerUrl>().is_ok());
        assert!(
            "https://tollgate.example/base/"
                .parse::<ServerUrl>()
                .is_ok()
        );
        for bad in [
            "ftp://h",
            "127.0.0.1:8080",
            "http://u:p@h",
            "http://h/?q=1",
            "file:///x",
        ] {
            assert!(bad.parse::<ServerUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ttl_forms_and_cap() {
        let secs = |s: &str| s.parse::<Ttl>().ok().map(|t| t.0);
        assert_eq!(secs("90s"), Some(90));
        assert_eq!(secs("1h"), Some(3600));
        assert_eq!(secs("2h30m"), Some(9000));
        assert_eq!(secs("2h 30m"), Some(9000));
        assert_eq!(secs("24h"), Some(86400));
        for bad in [
            "",
            "0s",
            "25h",
            "2d",
            "h",
            "10",
            "1h-5m",
            "1500ms",
            "99999999999999999999h",
        ] {
            assert!(bad.parse::<Ttl>().is_err(), "{bad}");
        }
    }
}
