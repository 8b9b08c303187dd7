//! Policy test cases: YAML files of requests and the decisions they must get.
//!
//! ```yaml
//! entities: ../../examples/entities.json   # optional: a path relative to this file, or inline
//! at: 2026-06-01T12:00:00Z                 # optional evaluation time (file or case level)
//! cases:
//!   - name: agent adds a prod token scope
//!     request: {principal: 'Agent::"triage-bot"', action: 'Action::"add_token_scope"', resource: 'Token::"ci"'}
//!     expect: {tier: single}               # optionally approvals_required, determining, error
//! ```

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use crate::model::decision::Decision;
use crate::model::request::ProposedAction;
use crate::model::tier::Tier;
use crate::pack::{Pack, PreparedEntities};
use crate::timestamp::Timestamp;

/// A parsed test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Entities for every case: a path relative to the file, or an inline entities array.
    #[serde(default)]
    pub entities: Option<Value>,
    /// Evaluation time for every case that gives none.
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// The cases.
    pub cases: Vec<TestCase>,
}

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case checks, in words.
    pub name: String,
    /// The request, in Cedar's JSON request shape.
    pub request: Value,
    /// Evaluation time for this case.
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// What must come out.
    pub expect: Expectation,
}

/// Expected outcome of a case. Only the fields given are checked.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The tier.
    #[serde(default)]
    pub tier: Option<Tier>,
    /// The approvals required (`null` for deny).
    #[serde(default, deserialize_with = "some")]
    pub approvals_required: Option<Option<u8>>,
    /// The determining policy ids, in any order.
    #[serde(default)]
    pub determining: Option<Vec<String>>,
    /// The request must be refused with an input error whose message contains this text.
    #[serde(default)]
    pub error: Option<String>,
}

fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u8>>, D::Error> {
    Option::<u8>::deserialize(d).map(Some)
}

/// A test file that does not parse.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{file}: {message}")]
pub struct TestFileError {
    /// The file.
    pub file: String,
    /// The YAML error, with its line and column.
    pub message: String,
}

impl TestFile {
    /// Parses the YAML text of file `name`.
    pub fn parse(name: &str, text: &str) -> Result<Self, TestFileError> {
        let file: Self = serde_norway::from_str(text).map_err(|e| TestFileError {
            file: name.to_string(),
            message: e.to_string(),
        })?;
        if file.cases.is_empty() {
            return Err(TestFileError {
                file: name.into(),
                message: "no cases".into(),
            });
        }
        Ok(file)
    }
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// The decision, or the input error's message.
    pub actual: Result<Decision, String>,
    /// What did not match; empty when the case passed.
    pub failures: Vec<String>,
}

impl CaseResult {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs one case. `entities` are the file's; `default_at` applies when neither case nor file
/// gives a time.
pub fn run_case(
    pack: &Pack,
    file: &TestFile,
    case: &TestCase,
    entities: &PreparedEntities,
    default_at: Timestamp,
) -> CaseResult {
    let at = case.at.or(file.at).unwrap_or(default_at);
    let actual = crate::json::recheck(&case.request)
        .map_err(|e| e.message())
        .and_then(|request| ProposedAction::from_json(&request).map_err(|e| e.to_string()))
        .and_then(|r| pack.decide(&r, entities, at).map_err(|e| e.to_string()));
    let failures = check(&case.expect, &actual);
    CaseResult {
        name: case.name.clone(),
        actual,
        failures,
    }
}

fn check(expect: &Expectation, actual: &Result<Decision, String>) -> Vec<String> {
    let mut failures = Vec::new();
    match (actual, &expect.error) {
        (Err(message), Some(want)) if message.contains(want.as_str()) => {}
        (Err(message), Some(want)) => failures.push(format!(
            "expected an error containing `{want}`, got error: {message}"
        )),
        (Ok(d), Some(want)) => failures.push(format!(
            "expected an error containing `{want}`, got tier {}",
            d.tier
        )),
        (Err(message), None) => failures.push(format!("error: {message}")),
        (Ok(d), None) => {
            if let Some(t) = expect.tier
                && t != d.tier
            {
                failures.push(format!("tier: expected {t}, got {}", d.tier));
            }
            if let Some(n) = expect.approvals_required
                && n != d.approvals_required
            {
                let show = |n: Option<u8>| n.map_or("null".to_string(), |n| n.to_string());
                failures.push(format!(
                    "approvals_required: expected {}, got {}",
                    show(n),
                    show(d.approvals_required)
                ));
            }
            if let Some(ids) = &expect.determining {
                let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
                let got: BTreeSet<&str> = d.determining.iter().map(|p| p.id.as_str()).collect();
                if want != got {
                    failures.push(format!("determining: expected {want:?}, got {got:?}"));
                }
            }
        }
    }
    failures
}

#[cfg(feature = "fs")]
pub use files::*;

#[cfg(feature = "fs")]
mod files {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::fs::{EntitiesFileError, ReadError, find_files, read_entities_beside, read_text};

    /// A test file read from disk with its entities resolved.
    #[derive(Debug, Clone)]
    pub struct LoadedTestFile {
        /// Where it was read from.
        pub path: PathBuf,
        /// Its content.
        pub file: TestFile,
        /// Its entities, as JSON (an empty array when it names none).
        pub entities: Value,
    }

    /// Why a test file could not be used.
    #[derive(Debug, thiserror::Error, miette::Diagnostic)]
    #[non_exhaustive]
    pub enum TestLoadError {
        /// Unreadable.
        #[error(transparent)]
        Read(#[from] ReadError),
        /// Not a valid test file.
        #[error(transparent)]
        Parse(#[from] TestFileError),
        /// Its entities are not JSON, or do not fit the pack.
        #[error("{path}: entities: {message}")]
        Entities {
            /// The entities file.
            path: PathBuf,
            /// The JSON error.
            message: String,
        },
    }

    /// Reads a test file and the entities it names.
    pub fn load_test_file(path: &Path) -> Result<LoadedTestFile, TestLoadError> {
        let text = read_text(path)?;
        let file = TestFile::parse(&path.display().to_string(), &text)?;
        let entities = match &file.entities {
            None => Value::Array(vec![]),
            Some(Value::String(rel)) => read_entities_beside(path, rel).map_err(|e| match e {
                EntitiesFileError::Read(e) => TestLoadError::Read(e),
                EntitiesFileError::Json { path, message } => {
                    TestLoadError::Entities { path, message }
                }
            })?,
            Some(inline) => crate::json::recheck(inline).map_err(|e| TestLoadError::Entities {
                path: path.to_path_buf(),
                message: e.message(),
            })?,
        };
        Ok(LoadedTestFile {
            path: path.to_path_buf(),
            file,
            entities,
        })
    }

    /// The results of one test file.
    #[derive(Debug, Clone)]
    pub struct FileReport {
        /// The file.
        pub path: PathBuf,
        /// One result per case, in file order.
        pub cases: Vec<CaseResult>,
    }

    /// The results of a whole suite.
    #[derive(Debug, Clone, Default)]
    pub struct SuiteReport {
        /// Per file, in path order.
        pub files: Vec<FileReport>,
    }

    impl SuiteReport {
        /// Cases that passed.
        pub fn passed(&self) -> usize {
            self.files
                .iter()
                .flat_map(|f| &f.cases)
                .filter(|c| c.passed())
                .count()
        }
        /// Cases that failed.
        pub fn failed(&self) -> usize {
            self.files
                .iter()
                .flat_map(|f| &f.cases)
                .filter(|c| !c.passed())
                .count()
        }
        /// Policies that determined no case's decision, in pack order, and the share that did.
        pub fn coverage(&self, pack: &Pack) -> (Vec<String>, f64) {
            let mut hit: BTreeSet<&str> = BTreeSet::new();
            for case in self.files.iter().flat_map(|f| &f.cases) {
                if let Ok(d) = &case.actual {
                    hit.extend(d.determining.iter().map(|p| p.id.as_str()));
                }
            }
            let all = pack.policies();
            let never: Vec<String> = all
                .iter()
                .map(|p| p.id().to_string())
                .filter(|id| !hit.contains(id.as_str()))
                .collect();
            let percent = if all.is_empty() {
                100.0
            } else {
                (all.len() - never.len()) as f64 * 100.0 / all.len() as f64
            };
            (never, percent)
        }
    }

    /// Runs every case of every file at `paths` (files, or folders searched recursively).
    /// Fails only when a file cannot be read or parsed, or its entities do not fit the pack.
    pub fn run_suite(
        pack: &Pack,
        paths: &[PathBuf],
        default_at: Timestamp,
    ) -> Result<SuiteReport, TestLoadError> {
        let mut files = Vec::new();
        for p in paths {
            files.extend(find_test_files(p)?);
        }
        files.sort();
        files.dedup();
        let mut report = SuiteReport::default();
        for path in files {
            let loaded = load_test_file(&path)?;
            let entities =
                pack.entities_from_json(&loaded.entities)
                    .map_err(|e| TestLoadError::Entities {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
            let cases = loaded
                .file
                .cases
                .iter()
                .map(|case| run_case(pack, &loaded.file, case, &entities, default_at))
                .collect();
            report.files.push(FileReport { path, cases });
        }
        Ok(report)
    }

    /// The `.yaml`/`.yml` files at `path` (a file, or a folder searched recursively as
    /// [`crate::fs`] searches the policies folder: hidden entries skipped), sorted.
    pub fn find_test_files(path: &Path) -> Result<Vec<PathBuf>, ReadError> {
        let meta = std::fs::metadata(path).map_err(|source| ReadError::Io {
            path: path.into(),
            source,
        })?;
        if !meta.is_dir() {
            return Ok(vec![path.to_path_buf()]);
        }
        find_files(path, &|name| {
            name.ends_with(".yaml") || name.ends_with(".yml")
        })
    }
}
