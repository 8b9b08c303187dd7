//! One module per subcommand: each parses nothing itself (clap did), calls the engine and hands
//! the result to a renderer.

pub mod approvals;
pub mod approve;
pub mod audit;
pub mod bench;
pub mod check;
pub mod completions;
pub mod decide;
pub mod diff;
pub mod fmt;
pub mod hash;
pub mod keygen;
pub mod lint;
pub mod mcp;
pub mod serve;
pub mod simulate;
#[cfg(feature = "smt")]
pub mod smt;
pub mod test;
pub mod verify;
