//! One module per subcommand.

pub mod approve;
pub mod audit;
pub mod bench;
pub mod decide;
pub mod diff;
pub mod hash;
pub mod keygen;
pub mod lint;
pub mod simulate;
pub mod test;
pub mod verify;
