//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide the tier of one proposed action.
    #[command(after_help = DECIDE_HELP)]
    Decide(DecideArgs),
    /// Find human gates placed after a privilege expansion, and other policy problems.
    #[command(after_help = LINT_HELP)]
    Lint(LintArgs),
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Findings with source snippets, like rustc.
    Text,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Warnings fail the run too.
    Warnings,
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
    pub today: Option<String>,
    /// `--deny warnings`: exit 1 on warnings as well as errors.
    #[arg(long, value_enum, value_name = "warnings")]
    pub deny: Option<Deny>,
}

const DECIDE_HELP: &str = "\
Examples:
  tollgate decide --request examples/request.json --entities examples/entities.json
  tollgate decide --principal 'Agent::\"triage-bot\"' --action 'Action::\"summarize\"' \\
      --resource 'Document::\"incident-123\"' --context '{\"request_id\": \"r1\"}' --format json

Exit codes: 0 a decision was made (any tier, deny included), 2 the pack or the input could not be
used (the message names the file, line and field).";

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// The request as Cedar JSON ({"principal", "action", "resource", "context"}); `-` reads stdin.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["principal", "action", "resource", "context"])]
    pub request: Option<PathBuf>,
    /// Principal, e.g. 'Agent::"triage-bot"' (instead of --request).
    #[arg(long, requires_all = ["action", "resource"])]
    pub principal: Option<String>,
    /// Action, e.g. 'Action::"deploy"'.
    #[arg(long, requires_all = ["principal", "resource"])]
    pub action: Option<String>,
    /// Resource, e.g. 'Environment::"prod"'.
    #[arg(long, requires_all = ["principal", "action"])]
    pub resource: Option<String>,
    /// Context as a JSON object.
    #[arg(long, value_name = "JSON", requires = "principal")]
    pub context: Option<String>,
    /// Entities in Cedar's entities JSON format.
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Evaluation time (RFC 3339, any offset); defaults to now. Fills `context.now`.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
}
