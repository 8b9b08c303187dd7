//! `tollgate diff`: the same requests under a base and a head pack; what got weaker?

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use miette::miette;
use serde::Serialize;
use serde_json::Value;
use tollgate_engine::{Pack, ProposedAction, Tier};

use crate::cli::{DiffArgs, PackArgs, TableFormat};
use crate::exit;
use crate::input::{evaluation_time, load_entities, load_pack, no_schema_error};
use crate::jsonl::Lines;
use crate::output::{note_no_entities, print, println, shown};

#[derive(Debug, Serialize, Default)]
struct PolicyChanges {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Change {
    Weakened,
    Strengthened,
    Error,
}

#[derive(Debug, Serialize)]
struct RequestChange {
    line: usize,
    request: String,
    action: String,
    base: Option<Tier>,
    head: Option<Tier>,
    change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_error: Option<String>,
}

#[derive(Debug, Serialize, Default)]
struct Summary {
    requests: usize,
    unchanged: usize,
    weakened: usize,
    strengthened: usize,
    errors: usize,
}

/// One side's pack. A checkout root's schema is its own `schemas/` (never the working
/// directory's): a side without one stops the diff unless `--no-schema` is given.
fn side(
    root: &Option<PathBuf>,
    policies: &Option<PathBuf>,
    schema: &Option<PathBuf>,
    no_schema: bool,
    which: &str,
) -> miette::Result<PackArgs> {
    match (root, policies) {
        (_, Some(p)) => Ok(PackArgs {
            policies: p.clone(),
            schema: schema.clone(),
            no_schema,
        }),
        (Some(r), None) => {
            let default_schema = r.join("schemas");
            let schema = schema
                .clone()
                .or_else(|| default_schema.is_dir().then_some(default_schema));
            if schema.is_none() && !no_schema {
                return Err(no_schema_error()
                    .wrap_err(format!("--{which} {}: no schemas/ folder", r.display())));
            }
            Ok(PackArgs {
                policies: r.join("policies"),
                schema,
                no_schema,
            })
        }
        (None, None) => Err(miette!(
            "give --{which} DIR (a checkout root) or --{which}-policies DIR"
        )),
    }
}

pub fn run(args: DiffArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.at.as_deref())?;
    let base = load_pack(&side(
        &args.base,
        &args.base_policies,
        &args.base_schema,
        args.no_schema,
        "base",
    )?)
    .map_err(|e| e.wrap_err("base pack"))?;
    let head = load_pack(&side(
        &args.head,
        &args.head_policies,
        &args.head_schema,
        args.no_schema,
        "head",
    )?)
    .map_err(|e| e.wrap_err("head pack"))?;
    let base_entities =
        load_entities(&base, args.entities.as_deref()).map_err(|e| e.wrap_err("base pack"))?;
    let head_entities =
        load_entities(&head, args.entities.as_deref()).map_err(|e| e.wrap_err("head pack"))?;
    note_no_entities(args.entities.is_some());

    let policies = policy_changes(&base, &head);
    let mut summary = Summary::default();
    let mut changes = Vec::new();
    let mut lines = Lines::open(&args.requests)?;
    loop {
        let chunk = lines.chunk(4096)?;
        if chunk.is_empty() {
            break;
        }
        for (line, text) in chunk {
            let value: Value = tollgate_engine::json::parse(&text)
                .map_err(|e| miette!("{}:{line}: {}", args.requests.display(), e.message()))?;
            let request = ProposedAction::from_json(&value)
                .map_err(|e| miette!("{}:{line}: {e}", args.requests.display()))?;
            summary.requests += 1;
            let b = base
                .decide(&request, &base_entities, at)
                .map(|d| d.tier)
                .map_err(|e| e.to_string());
            let h = head
                .decide(&request, &head_entities, at)
                .map(|d| d.tier)
                .map_err(|e| e.to_string());
            let change = match (&b, &h) {
                (Ok(b), Ok(h)) if h < b => Some(Change::Weakened),
                (Ok(b), Ok(h)) if h > b => Some(Change::Strengthened),
                (Ok(_), Ok(_)) | (Err(_), Err(_)) => None,
                _ => Some(Change::Error),
            };
            let Some(change) = change else {
                summary.unchanged += 1;
                continue;
            };
            match change {
                Change::Weakened => summary.weakened += 1,
                Change::Strengthened => summary.strengthened += 1,
                Change::Error => summary.errors += 1,
            }
            changes.push(RequestChange {
                line,
                request: request.hash().to_string(),
                action: format!(
                    "{} {} {}",
                    request.principal, request.action, request.resource
                ),
                base: b.as_ref().ok().copied(),
                head: h.as_ref().ok().copied(),
                change,
                base_error: b.err(),
                head_error: h.err(),
            });
        }
    }

    match args.format {
        TableFormat::Json => {
            let doc =
                serde_json::json!({"policies": policies, "changes": changes, "summary": summary});
            println(&serde_json::to_string_pretty(&doc).map_err(|e| miette!("{e}"))?)?;
        }
        TableFormat::Table => print(&table(&policies, &changes, &summary))?,
    }
    Ok(if summary.weakened > 0 || summary.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

fn policy_changes(base: &Pack, head: &Pack) -> PolicyChanges {
    let text = |p: &Pack| -> BTreeMap<String, String> {
        p.policies()
            .iter()
            .map(|i| (i.id().to_string(), i.text().trim().to_string()))
            .collect()
    };
    let (b, h) = (text(base), text(head));
    let mut out = PolicyChanges::default();
    for (id, t) in &h {
        match b.get(id) {
            None => out.added.push(id.clone()),
            Some(old) if old != t => out.changed.push(id.clone()),
            Some(_) => {}
        }
    }
    out.removed = b
        .keys()
        .filter(|id| !h.contains_key(*id))
        .cloned()
        .collect();
    out
}

fn table(policies: &PolicyChanges, changes: &[RequestChange], summary: &Summary) -> String {
    let mut s = String::new();
    for id in &policies.added {
        let _ = writeln!(s, "+ policy {}", shown(id));
    }
    for id in &policies.removed {
        let _ = writeln!(s, "- policy {}", shown(id));
    }
    for id in &policies.changed {
        let _ = writeln!(s, "~ policy {}", shown(id));
    }
    let show = |t: Option<Tier>| t.map_or("error".to_string(), |t| t.to_string());
    for c in changes {
        let label = match c.change {
            Change::Weakened => "WEAKENED",
            Change::Strengthened => "stricter",
            Change::Error => "ERROR",
        };
        let _ = write!(
            s,
            "{:>7}  {:<8}  {} -> {}  {}",
            c.line,
            label,
            show(c.base),
            show(c.head),
            shown(&c.action)
        );
        if let Some(e) = c.base_error.as_ref().or(c.head_error.as_ref()) {
            let _ = write!(s, "  ({})", shown(e));
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "summary: {} requests, {} unchanged, {} weakened, {} stricter, {} errors on one side",
        summary.requests, summary.unchanged, summary.weakened, summary.strengthened, summary.errors
    );
    s
}
