//! `tollgate`: decide, lint, test, simulate, diff, bench, approve, verify and audit
//! human-in-the-loop policies for AI agents. The binary parses arguments ([`args`]), reads its
//! inputs ([`io`]), calls the engine ([`commands`]) and formats the result ([`render`]); every
//! exit code is chosen in one place, here.
#![forbid(unsafe_code)]

mod args;
mod audit_log;
mod client;
mod commands;
mod io;
mod render;
mod signing;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, documented in `tollgate --help` and the README.
pub mod exit {
    /// Success: a decision was made / all clean.
    pub const OK: u8 = 0;
    /// Findings or failures (lint errors, failing tests, weakened diff).
    pub const FAILED: u8 = 1;
    /// Could not run: bad input, unreadable files, a pack that does not load.
    pub const ERROR: u8 = 2;
    /// `verify`: more approvals are needed.
    pub const PENDING: u8 = 3;
    /// `verify`: denied (deny tier, or a counted reject).
    pub const DENIED: u8 = 4;
}

/// Parses the arguments (a usage error exits 2, from clap) and runs the command. A closed
/// stdout is not an error: output stops, and the exit code is still the result's (see
/// [`io::Out`]).
fn main() -> ExitCode {
    let cli = Cli::parse();
    // On a terminal, diagnostics wrap to its width; elsewhere (CI logs, a file, another
    // program) each message stays on one line, so a file name or a message can be searched for.
    let wrap = std::io::stderr().is_terminal();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(wrap).build())
    }));
    match on_sized_stack(cli) {
        Ok(code) => ExitCode::from(code),
        Err(report) => {
            io::eprint(&format!("{report:?}\n"));
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Installs the `--limit` settings and runs the command on a thread whose stack is sized for
/// them: Cedar's parser and evaluator and serde recurse once per level of nesting, and the
/// main thread's stack (8 MiB, fixed by the OS) is not sized for any particular limit.
fn on_sized_stack(cli: Cli) -> miette::Result<u8> {
    let mut limits = tollgate_engine::limits::Limits::default();
    for setting in &cli.limits {
        limits
            .apply(setting)
            .map_err(|e| miette::miette!("--limit {setting}: {e}"))?;
    }
    limits
        .install()
        .map_err(|e| miette::miette!("--limit: {e}"))?;
    let worker = std::thread::Builder::new()
        .name("tollgate".into())
        .stack_size(limits.stack_bytes())
        .spawn(move || run(cli.command))
        .map_err(|e| miette::miette!("could not start the worker thread: {e}"))?;
    match worker.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The command's exit code, or why it could not run.
fn run(command: Command) -> miette::Result<u8> {
    match command {
        Command::Decide(args) => commands::decide::run(args),
        Command::Hash(args) => commands::hash::run(args),
        Command::Test(args) => commands::test::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Fmt(args) => commands::fmt::run(args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Keygen(args) => commands::keygen::run(args),
        Command::Approve(args) => commands::approve::run(args),
        Command::Approvals(args) => commands::approvals::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Mcp(args) => commands::mcp::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Audit(cmd) => commands::audit::run(cmd),
        Command::Lint(args) => commands::lint::run(args),
    }
}
