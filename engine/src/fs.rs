//! Reading a pack and its companion files from disk (feature `fs`; absent on wasm32).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::limits::{Limit, LimitExceeded, Limits};

use crate::source::{PackSource, SourceFile};

/// A file or folder that could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum ReadError {
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The policies folder holds no `.cedar` files: almost certainly a wrong `--policies`.
    #[error("{0}: no .cedar policy files found")]
    #[diagnostic(help("point --policies at the folder that holds your .cedar files"))]
    NoPolicies(PathBuf),
    /// The schema path holds no schema files.
    #[error("{0}: no .cedarschema (or .cedarschema.json) files found")]
    NoSchema(PathBuf),
    /// A file is not UTF-8.
    #[error("{0}: not valid UTF-8")]
    NotUtf8(PathBuf),
    /// A FIFO, socket or device where a file was expected: reading it could block forever or
    /// never end.
    #[error("{0}: not a regular file")]
    NotAFile(PathBuf),
    /// A file over [`Limit::FileBytes`].
    #[error("{path}: {exceeded}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        exceeded: LimitExceeded,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a UTF-8 text file: a regular file (or a link to one) no larger than
/// [`Limit::FileBytes`].
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let bytes = read_bytes(path, Limits::current().file_bytes)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8(path.to_path_buf()))
}

/// The bytes of the regular file at `path`, refused over `max` bytes.
///
/// The type is checked before opening, since opening a FIFO blocks until a writer comes, and
/// the size is checked on the open file and again while reading (a file may grow).
pub fn read_bytes(path: &Path, max: usize) -> Result<Vec<u8>, ReadError> {
    let not_a_file = || ReadError::NotAFile(path.to_path_buf());
    if !std::fs::metadata(path).map_err(io(path))?.is_file() {
        return Err(not_a_file());
    }
    let file = std::fs::File::open(path).map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(not_a_file());
    }
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        exceeded: LimitExceeded {
            limit: Limit::FileBytes,
            max,
        },
    };
    if usize::try_from(meta.len()).map_or(true, |len| len > max) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap).read_to_end(&mut bytes).map_err(io(path))?;
    if bytes.len() > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The paths of every file under the folder `root` (recursively, skipping hidden entries and
/// not following links to folders) whose name satisfies `keep`, sorted: the one folder walk
/// for policies, schemas, policy tests and workflows.
pub(crate) fn find_files(
    root: &Path,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, ReadError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                stack.push(path);
            } else if keep(&name) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `path` relative to `root`, with `/` separators: how files are named in messages.
pub(crate) fn relative_name(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file under `root` whose name satisfies `keep` (see [`find_files`]), read and named
/// relative to `root`, sorted by name.
fn collect(root: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Vec<SourceFile>, ReadError> {
    let mut out = Vec::new();
    for path in find_files(root, keep)? {
        out.push(SourceFile::new(
            relative_name(root, &path),
            read_text(&path)?,
        ));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Entities read from an entities file a test or workflow file names: `rel`, relative to the
/// folder of the naming file `beside`, as strict JSON.
pub(crate) fn read_entities_beside(beside: &Path, rel: &str) -> Result<Value, EntitiesFileError> {
    let path = beside.parent().unwrap_or(Path::new(".")).join(rel);
    let text = read_text(&path)?;
    crate::json::parse(&text).map_err(|e| EntitiesFileError::Json {
        message: e.to_string(),
        path,
    })
}

/// An entities file that could not be read, or is not JSON.
#[derive(Debug)]
pub(crate) enum EntitiesFileError {
    /// Unreadable.
    Read(ReadError),
    /// Not JSON.
    Json {
        /// The entities file.
        path: PathBuf,
        /// The JSON error.
        message: String,
    },
}

impl From<ReadError> for EntitiesFileError {
    fn from(e: ReadError) -> Self {
        Self::Read(e)
    }
}

fn is_schema_file(name: &str) -> bool {
    name.ends_with(".cedarschema") || name.ends_with(".cedarschema.json")
}

/// Reads every `*.cedar` file under `policies` and the schema at `schema`: a file, or a folder
/// whose `*.cedarschema` / `*.cedarschema.json` files are all read. `None` means no schema.
pub fn read_pack(policies: &Path, schema: Option<&Path>) -> Result<PackSource, ReadError> {
    let files = collect(policies, &|n| n.ends_with(".cedar"))?;
    if files.is_empty() {
        return Err(ReadError::NoPolicies(policies.to_path_buf()));
    }
    let schemas = match schema {
        None => Vec::new(),
        Some(path) => read_schema(path)?,
    };
    Ok(PackSource {
        policies: files,
        schemas,
    })
}

/// Reads schema files from a file or folder path.
pub fn read_schema(path: &Path) -> Result<Vec<SourceFile>, ReadError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let files = if meta.is_dir() {
        collect(path, &is_schema_file)?
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        vec![SourceFile::new(name, read_text(path)?)]
    };
    if files.is_empty() {
        return Err(ReadError::NoSchema(path.to_path_buf()));
    }
    Ok(files)
}
