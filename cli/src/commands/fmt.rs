//! `tollgate fmt`: Cedar's formatter over policy files, in place or as a CI check.

use std::path::{Path, PathBuf};

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::json;
use tollgate_engine::limits::Limits;

use crate::args::{FmtArgs, Format};
use crate::exit;
use crate::io::{is_stdin, print, print_json, println, read_input};
use crate::render::shown;

pub fn run(args: FmtArgs) -> miette::Result<u8> {
    if args.paths.iter().any(|p| is_stdin(p)) {
        if args.paths.len() > 1 {
            return Err(miette!(
                "`-` formats stdin alone: give no other path with it"
            ));
        }
        let (name, text) = read_input(Path::new("-"))?;
        let formatted = format_policies(&name, &text)?;
        if args.check {
            return Ok(if formatted == text {
                exit::OK
            } else {
                exit::FAILED
            });
        }
        print(&formatted)?;
        return Ok(exit::OK);
    }
    let mut files = Vec::new();
    for path in &args.paths {
        cedar_files(path, &mut files)?;
    }
    files.sort();
    files.dedup();
    let mut changed = Vec::new();
    for file in &files {
        let (name, text) = read_input(file)?;
        let formatted = format_policies(&name, &text)?;
        if formatted == text {
            continue;
        }
        if !args.check {
            write_in_place(file, &formatted)?;
        }
        changed.push(name);
    }
    match args.format {
        Format::Json => print_json(&json!({
            "files": files.len(),
            "changed": changed,
            "check": args.check,
        }))?,
        Format::Text => {
            for name in &changed {
                println(&shown(name))?;
            }
        }
    }
    Ok(if args.check && !changed.is_empty() {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// `text` as Cedar's formatter writes it. The formatter keeps comments and annotations, and
/// refuses to return a result that parses to different policies.
fn format_policies(name: &str, text: &str) -> miette::Result<String> {
    // Cedar's parser recurses once per level of nesting: refuse what the stack is not sized for.
    let limits = Limits::current();
    if let Some(offset) = limits.text_too_deep_at(text) {
        let at = tollgate_engine::line_col(text, offset);
        return Err(miette!(
            "{name}:{}:{}: nested deeper than the text-depth limit ({}); see --limit",
            at.line,
            at.column,
            limits.text_depth
        ));
    }
    let config = cedar_policy_formatter::Config::default();
    cedar_policy_formatter::policies_str_to_pretty(text, &config)
        .map_err(|e| miette!("{name}: cannot format: {e:?}"))
}

/// `path` if it is a file, else every `.cedar` file under it (links are not followed, so a
/// link cannot lead the rewrite outside the folder given).
fn cedar_files(path: &Path, out: &mut Vec<PathBuf>) -> miette::Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("reading {}", path.display()))?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("reading {}", path.display()))?;
    for entry in entries {
        let entry = entry
            .into_diagnostic()
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        let child = entry.path();
        let kind = entry
            .file_type()
            .into_diagnostic()
            .wrap_err_with(|| format!("reading {}", child.display()))?;
        if kind.is_dir() {
            cedar_files(&child, out)?;
        } else if kind.is_file() && child.extension().is_some_and(|e| e == "cedar") {
            out.push(child);
        }
    }
    Ok(())
}

/// Replaces `path` by a whole new file (written beside it, then renamed over it), so that a
/// failure half way never leaves a policy file cut short.
fn write_in_place(path: &Path, text: &str) -> miette::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tollgate-fmt");
    let temp = PathBuf::from(temp);
    let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
        .into_diagnostic()
        .wrap_err_with(|| format!("writing {}", path.display()))
}
