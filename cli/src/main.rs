//! `tollgate`: decide, lint, test, simulate, diff, bench, approve, verify and audit
//! human-in-the-loop policies for AI agents. The binary parses arguments, calls the engine and
//! formats; every exit code is chosen in one place, here.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod input;
mod lint_output;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit codes, documented in `tollgate --help` and the README.
pub mod exit {
    /// Success: a decision was made / all clean.
    pub const OK: u8 = 0;
    /// Findings or failures (lint errors, failing tests, weakened diff).
    pub const FAILED: u8 = 1;
    /// Could not run: bad input, unreadable files, a pack that does not load.
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run(cli: Cli) -> miette::Result<u8> {
    match cli.command {
        Command::Decide(args) => commands::decide::run(args),
        Command::Lint(args) => commands::lint::run(args),
    }
}
