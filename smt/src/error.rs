use std::path::PathBuf;

/// Why exact analysis could not run at all. A single query that fails is an `unknown`
/// result instead, never an error that hides the others.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtError {
    /// No cvc5 executable was found or it did not run.
    #[error(
        "no usable cvc5 solver ({reason}): install it (e.g. `apt-get install cvc5`) or set CVC5 to its path"
    )]
    NoSolver {
        /// What went wrong.
        reason: String,
    },
    /// The pack has no schema: the analysis enumerates the requests the schema allows.
    #[error("exact analysis needs the pack's schema")]
    NoSchema,
    /// The async runtime that drives the solver could not start.
    #[error("cannot start the solver runtime: {0}")]
    Runtime(String),
    /// The cache folder cannot be used.
    #[error("cannot use the SMT cache folder {path}: {reason}")]
    Cache {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
