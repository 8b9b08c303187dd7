//! `tollgate diff`: the same requests under a base and a head pack; what got weaker?

use std::collections::BTreeMap;
use std::path::PathBuf;

use miette::miette;
use tollgate_engine::{Pack, ProposedAction};

use crate::args::{DiffArgs, Format, PackArgs};
use crate::exit;
use crate::io::{
    RequestLines, evaluation_time, load_entities, load_pack, no_schema_error, note_no_entities,
    print, print_json,
};
use crate::render;
use crate::render::diff::{Change, PolicyChanges, Report, RequestChange, Summary};

/// Request lines read at a time.
const CHUNK: usize = 4096;

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
    let at = evaluation_time(args.time.at)?;
    #[cfg(feature = "smt")]
    let mut session = match args.smt.smt {
        true if args.no_schema => {
            return Err(miette!(
                "--smt compares packs over the requests their schema allows: it needs the schemas (drop --no-schema)"
            ));
        }
        true => Some(super::smt::session(&args.smt)?),
        false => None,
    };
    #[cfg(not(feature = "smt"))]
    if args.smt.smt {
        return Err(miette!(
            "--smt: this tollgate was built without the `smt` feature"
        ));
    }
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
    #[cfg(feature = "smt")]
    if let Some(session) = session.as_mut() {
        let report =
            super::smt::diff(session, &base, &head, tollgate_engine::CalendarDate::of(at))?;
        match args.format {
            Format::Json => print_json(&report)?,
            Format::Text => print(&report.text())?,
        }
        return Ok(if report.fails() {
            exit::FAILED
        } else {
            exit::OK
        });
    }
    let Some(requests) = &args.requests else {
        return Err(miette!("give --requests FILE.jsonl, or --smt"));
    };
    let base_entities =
        load_entities(&base, args.entities.as_deref()).map_err(|e| e.wrap_err("base pack"))?;
    let head_entities =
        load_entities(&head, args.entities.as_deref()).map_err(|e| e.wrap_err("head pack"))?;
    note_no_entities(args.entities.is_some());

    let mut report = Report {
        policies: policy_changes(&base, &head),
        changes: Vec::new(),
        summary: Summary::default(),
    };
    let mut lines = RequestLines::open(requests)?;
    loop {
        let chunk = lines.requests(CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        for (line, request) in chunk {
            let sides = [(&base, &base_entities), (&head, &head_entities)];
            let [b, h] = sides.map(|(pack, entities)| {
                pack.decide(&request, entities, at)
                    .map(|d| d.tier)
                    .map_err(|e| e.to_string())
            });
            compare(&mut report, line, &request, b, h);
        }
    }

    match args.format {
        Format::Json => print_json(&report)?,
        Format::Text => print(&render::diff::text(&report))?,
    }
    let summary = &report.summary;
    let code = if summary.weakened > 0 || summary.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    };
    Ok(lines.exit_code(code))
}

/// Counts one request and records it when its outcome moved.
fn compare(
    report: &mut Report,
    line: usize,
    request: &ProposedAction,
    b: Result<tollgate_engine::Tier, String>,
    h: Result<tollgate_engine::Tier, String>,
) {
    let summary = &mut report.summary;
    summary.requests += 1;
    let change = match (&b, &h) {
        (Ok(b), Ok(h)) if h < b => Change::Weakened,
        (Ok(b), Ok(h)) if h > b => Change::Strengthened,
        (Ok(_), Ok(_)) | (Err(_), Err(_)) => {
            summary.unchanged += 1;
            return;
        }
        _ => Change::Error,
    };
    match change {
        Change::Weakened => summary.weakened += 1,
        Change::Strengthened => summary.strengthened += 1,
        Change::Error => summary.errors += 1,
    }
    report.changes.push(RequestChange {
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
