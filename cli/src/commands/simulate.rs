//! `tollgate simulate`: decide a batch of requests — what would require approval?

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;

use miette::miette;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use tollgate_engine::{Decision, Pack, PreparedEntities, ProposedAction, Tier, Timestamp};

use crate::cli::{GroupBy, SimulateArgs, SimulateFormat};
use crate::exit;
use crate::input::{evaluation_time, load_entities, load_pack};
use crate::jsonl::{Lines, csv_field, thousands};
use crate::output::{Out, eprint, note_no_entities, shown, shown_display};

/// Lines decided per parallel batch: large enough to keep both cores busy, small enough that
/// memory stays flat however long the input is.
const CHUNK: usize = 4096;

/// Tier counts.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub total: usize,
    pub auto: usize,
    pub single: usize,
    pub dual: usize,
    pub deny: usize,
    pub errors: usize,
}

impl Counts {
    fn add(&mut self, outcome: Result<Tier, ()>) {
        self.total += 1;
        match outcome {
            Ok(Tier::Auto) => self.auto += 1,
            Ok(Tier::Single) => self.single += 1,
            Ok(Tier::Dual) => self.dual += 1,
            Ok(Tier::Deny) => self.deny += 1,
            Err(()) => self.errors += 1,
        }
    }

    fn line(&self) -> String {
        let mut s = format!(
            "{} auto, {} single, {} dual, {} deny",
            thousands(self.auto),
            thousands(self.single),
            thousands(self.dual),
            thousands(self.deny)
        );
        if self.errors > 0 {
            let _ = write!(
                s,
                ", {} error{}",
                thousands(self.errors),
                if self.errors == 1 { "" } else { "s" }
            );
        }
        s
    }
}

struct Decided {
    line: usize,
    result: Result<(ProposedAction, Decision), String>,
}

fn decide_line(
    pack: &Pack,
    entities: &PreparedEntities,
    at: Timestamp,
    line: usize,
    text: &str,
) -> Decided {
    let result = tollgate_engine::json::parse(text)
        .map_err(|e| e.message())
        .and_then(|v| ProposedAction::from_json(&v).map_err(|e| e.to_string()))
        .and_then(|r| match pack.decide(&r, entities, at) {
            Ok(d) => Ok((r, d)),
            Err(e) => Err(e.to_string()),
        });
    Decided { line, result }
}

fn group_key(by: GroupBy, r: &ProposedAction) -> String {
    match by {
        GroupBy::Action => r.action.to_string(),
        GroupBy::Principal => r.principal.to_string(),
        GroupBy::Resource => r.resource.to_string(),
    }
}

pub fn run(args: SimulateArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.at.as_deref())?;
    let pack = load_pack(&args.pack)?;
    let entities = load_entities(&pack, args.entities.as_deref())?;
    note_no_entities(args.entities.is_some());
    let mut lines = Lines::open(&args.requests)?;
    let progress = match lines.size {
        Some(size) if std::io::stderr().is_terminal() => {
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {per_sec} eta {eta}",
                )
                .map_err(|e| miette!("{e}"))?,
            );
            Some(bar)
        }
        _ => None,
    };

    let mut out = Out::new();
    let mut overall = Counts::default();
    let mut groups: BTreeMap<String, Counts> = BTreeMap::new();
    let mut json_decisions: Vec<Value> = Vec::new();
    if args.format == SimulateFormat::Csv {
        out.write(
            "line,principal,action,resource,tier,approvals_required,determining,request,error\n",
        )?;
    }
    loop {
        let chunk = lines.chunk(CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        // Indexed parallel iterators keep input order in `collect`.
        let decided: Vec<Decided> = chunk
            .par_iter()
            .map(|(n, text)| decide_line(&pack, &entities, at, *n, text))
            .collect();
        let mut text = String::new();
        for d in &decided {
            let tier = d.result.as_ref().map(|(_, dec)| dec.tier).map_err(|_| ());
            overall.add(tier);
            if let (Some(by), Ok((r, _))) = (args.group_by, &d.result) {
                groups.entry(group_key(by, r)).or_default().add(tier);
            }
            // Once the reader has gone, rows are not formatted, but every line is still decided:
            // the exit code must not depend on how much of the output someone read.
            match args.format {
                SimulateFormat::Table if out.is_open() => table_row(&mut text, d),
                SimulateFormat::Csv if out.is_open() => csv_row(&mut text, d),
                SimulateFormat::Table | SimulateFormat::Csv => {}
                SimulateFormat::Json => json_decisions.push(match &d.result {
                    Ok((r, dec)) => json!({"line": d.line, "request": r.hash(), "decision": dec}),
                    Err(e) => json!({"line": d.line, "error": e}),
                }),
            }
        }
        if let Some(bar) = &progress {
            bar.set_position(lines.consumed);
        }
        out.write(&text)?;
        out.flush()?;
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    match args.format {
        SimulateFormat::Json => {
            let summary = json!({"overall": overall, "groups": groups});
            let doc = json!({"decisions": json_decisions, "summary": summary});
            out.write(&(serde_json::to_string_pretty(&doc).map_err(|e| miette!("{e}"))? + "\n"))?;
        }
        SimulateFormat::Table => {
            out.write(&summary_text(&overall, &groups, args.group_by))?;
        }
        SimulateFormat::Csv => eprint(&summary_text(&overall, &groups, args.group_by)),
    }
    out.flush()?;
    Ok(if overall.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

fn table_row(out: &mut String, d: &Decided) {
    match &d.result {
        Ok((_, dec)) if dec.tier == Tier::Auto => {}
        Ok((r, dec)) => {
            let why: Vec<&str> = dec.determining.iter().map(|p| p.id.as_str()).collect();
            let why = if why.is_empty() {
                "no permit matches".to_string()
            } else {
                shown(&why.join(", ")).into_owned()
            };
            let _ = writeln!(
                out,
                "{:>7}  {:<6}  {} {} {}  ({why})",
                d.line,
                dec.tier.as_str(),
                shown_display(&r.principal),
                shown_display(&r.action),
                shown_display(&r.resource)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "{:>7}  ERROR   {}", d.line, shown(e));
        }
    }
}

fn csv_row(out: &mut String, d: &Decided) {
    match &d.result {
        Ok((r, dec)) => {
            let ids: Vec<&str> = dec.determining.iter().map(|p| p.id.as_str()).collect();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},",
                d.line,
                csv_field(&r.principal.to_string()),
                csv_field(&r.action.to_string()),
                csv_field(&r.resource.to_string()),
                dec.tier,
                dec.approvals_required
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                csv_field(&ids.join(" ")),
                r.hash(),
            );
        }
        Err(e) => {
            let _ = writeln!(out, "{},,,,error,,,,{}", d.line, csv_field(e));
        }
    }
}

fn summary_text(
    overall: &Counts,
    groups: &BTreeMap<String, Counts>,
    by: Option<GroupBy>,
) -> String {
    let mut s = format!(
        "summary: {} ({} requests)\n",
        overall.line(),
        thousands(overall.total)
    );
    if let Some(by) = by {
        let label = match by {
            GroupBy::Action => "action",
            GroupBy::Principal => "principal",
            GroupBy::Resource => "resource",
        };
        for (key, counts) in groups {
            let _ = writeln!(s, "  {label} {}: {}", shown(key), counts.line());
        }
    }
    s
}
