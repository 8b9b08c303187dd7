//! Finding and starting the cvc5 solver.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cedar_policy_symcc::solver::LocalSolver;

use crate::SmtError;

/// A cvc5 executable that answered `--version`.
#[derive(Debug, Clone)]
pub struct Cvc5 {
    path: PathBuf,
    version: String,
}

impl Cvc5 {
    /// The solver named by the `CVC5` environment variable, or `cvc5` on `PATH` (the lookup
    /// Cedar's symbolic compiler documents).
    pub fn find() -> Result<Self, SmtError> {
        let path = match std::env::var_os("CVC5") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => on_path("cvc5").ok_or_else(|| SmtError::NoSolver {
                reason: "`cvc5` is not on PATH and CVC5 is not set".into(),
            })?,
        };
        Self::at(&path)
    }

    /// The solver at `path`, if it runs and reports a version.
    pub fn at(path: &Path) -> Result<Self, SmtError> {
        let output = std::process::Command::new(path)
            .arg("--version")
            .output()
            .map_err(|e| SmtError::NoSolver {
                reason: format!("{}: {e}", path.display()),
            })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("This is cvc5 version "))
            .map(|v| v.trim().to_string())
            .filter(|_| output.status.success())
            .ok_or_else(|| SmtError::NoSolver {
                reason: format!("{} --version did not report a cvc5 version", path.display()),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            version,
        })
    }

    /// The version it reports, e.g. `1.0.3`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh solver process that gives up on a query after `timeout` (answering
    /// `unknown`). It is killed when dropped.
    pub(crate) fn spawn(&self, timeout: Duration) -> Result<LocalSolver, String> {
        let millis = timeout.as_millis().max(1);
        let mut command = tokio::process::Command::new(&self.path);
        command
            .args(["--lang", "smt"])
            .arg(format!("--tlimit-per={millis}"))
            .kill_on_drop(true);
        LocalSolver::from_command(&mut command).map_err(|e| e.to_string())
    }
}

/// `name` in a folder of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
