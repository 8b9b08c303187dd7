//! One module per subcommand.

pub mod approve;
pub mod audit;
pub mod decide;
pub mod hash;
pub mod keygen;
pub mod verify;
