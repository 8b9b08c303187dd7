//! One module per subcommand.

pub mod decide;
