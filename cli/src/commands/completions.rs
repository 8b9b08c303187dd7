//! `tollgate completions SHELL`: a completion script, generated from the argument definitions.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::exit;
use crate::io::print;

pub fn run(args: CompletionsArgs) -> miette::Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "tollgate", &mut script);
    print(&String::from_utf8_lossy(&script))?;
    Ok(exit::OK)
}
