//! `tollgate simulate`: decide a batch of requests — what would require approval?

use std::collections::BTreeMap;
use std::io::IsTerminal;

use miette::miette;
use rayon::prelude::*;
use serde_json::Value;
use tollgate_engine::Tier;

use crate::args::{GroupBy, SimulateArgs, SimulateFormat};
use crate::exit;
use crate::io::{
    Out, RequestLines, eprint, evaluation_time, load_entities, load_pack, note_no_entities,
};
use crate::render::projection::Projection;
use crate::render::simulate::{
    CSV_HEADER, Counts, Decided, csv_rows, json_doc, json_entry, summary_text, text_rows,
};

/// Lines decided per parallel batch: large enough to keep both cores busy, small enough that
/// memory stays flat however long the input is.
const CHUNK: usize = 4096;

/// Lines decided and formatted as one task: enough to make a task's overhead small, few enough
/// that both cores finish a chunk together.
const SLICE: usize = 128;

pub fn run(args: SimulateArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.time.at)?;
    let pack = load_pack(&args.pack)?;
    let entities = load_entities(&pack, args.entities.as_deref())?;
    note_no_entities(args.entities.is_some());
    let mut lines = RequestLines::open(&args.requests)?;
    let progress = progress_bar(lines.size)?;

    let mut out = Out::new();
    let mut overall = Counts::default();
    let mut groups: BTreeMap<String, Counts> = BTreeMap::new();
    let mut json_decisions: Vec<Value> = Vec::new();
    let mut projection = args.per_day.map(|_| Projection::default());
    if args.format == SimulateFormat::Csv {
        out.write(CSV_HEADER)?;
    }
    loop {
        let chunk = lines.chunk(CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        // A line that is not a request is an ERROR row like one that cannot be decided: the rows
        // are numbered by line, and the tests pin this (exit 1, not the batch commands' 2).
        // Each slice of lines is decided and its CSV rows formatted on a worker; indexed
        // parallel iterators keep input order in `collect`.
        let csv = args.format == SimulateFormat::Csv && out.is_open();
        // CSV needs only the counts and the rows from a worker: its decisions are dropped there.
        let keep = args.format != SimulateFormat::Csv;
        let batches: Vec<Batch> = chunk
            .par_chunks(SLICE)
            .map(|lines| {
                let decided: Vec<Decided> = lines
                    .iter()
                    .map(|raw| Decided {
                        line: raw.number,
                        result: raw
                            .request()
                            .and_then(|r| match pack.decide(&r, &entities, at) {
                                Ok(d) => Ok((r, d)),
                                Err(e) => Err(e.to_string()),
                            }),
                    })
                    .collect();
                let counted = decided
                    .iter()
                    .map(|d| (d.tier(), args.group_by.and_then(|by| group_key(by, d))))
                    .collect();
                let projected = args.per_day.map(|_| {
                    let mut p = Projection::default();
                    for d in &decided {
                        p.add(d.result.as_ref().ok().map(|(_, decision)| decision));
                    }
                    p
                });
                Batch {
                    rows: csv.then(|| csv_rows(&decided)),
                    counted,
                    projected,
                    decided: if keep { decided } else { Vec::new() },
                }
            })
            .collect();
        for batch in batches {
            if let (Some(all), Some(part)) = (projection.as_mut(), batch.projected) {
                all.merge(part);
            }
            for (tier, key) in batch.counted {
                overall.add(tier);
                if let Some(key) = key {
                    groups.entry(key).or_default().add(tier);
                }
            }
            // Once the reader has gone, rows are not formatted, but every line is still
            // decided: the exit code must not depend on how much of the output someone read.
            match args.format {
                SimulateFormat::Text if out.is_open() => {
                    out.write(&text_rows(&batch.decided))?;
                }
                SimulateFormat::Csv if out.is_open() => {
                    if let Some(rows) = batch.rows {
                        out.write(&rows?)?;
                    }
                }
                SimulateFormat::Text | SimulateFormat::Csv => {}
                SimulateFormat::Json => {
                    json_decisions.extend(batch.decided.iter().map(json_entry));
                }
            }
        }
        if let Some(bar) = &progress {
            bar.set_position(lines.consumed);
        }
        out.flush()?;
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    let mut summary = summary_text(&overall, &groups, args.group_by);
    if let (Some(p), Some(n)) = (&projection, args.per_day) {
        summary.push_str(&p.text(n as f64));
    }
    match args.format {
        SimulateFormat::Json => {
            let mut doc = json_doc(json_decisions, &overall, &groups);
            if let (Some(p), Some(n), Some(s)) = (
                &projection,
                args.per_day,
                doc.get_mut("summary").and_then(Value::as_object_mut),
            ) {
                s.insert("projection".into(), p.json(n as f64));
            }
            out.write(&(serde_json::to_string_pretty(&doc).map_err(|e| miette!("{e}"))? + "\n"))?;
        }
        SimulateFormat::Text => {
            out.write(&summary)?;
        }
        SimulateFormat::Csv => eprint(&summary),
    }
    out.flush()?;
    Ok(if overall.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// What a worker gives back for a slice of lines.
struct Batch {
    /// Each line's tier (`None`: not decided) and group, in order.
    counted: Vec<(Option<Tier>, Option<String>)>,
    /// The CSV rows, when the output is CSV and someone reads it.
    rows: Option<miette::Result<String>>,
    /// The decisions, for text and JSON output (empty for CSV).
    decided: Vec<Decided>,
    /// The slice's workload, with `--per-day`.
    projected: Option<Projection>,
}

/// The group of a decided line; lines that could not be decided are in no group.
fn group_key(by: GroupBy, d: &Decided) -> Option<String> {
    let (r, _) = d.result.as_ref().ok()?;
    Some(match by {
        GroupBy::Action => r.action.to_string(),
        GroupBy::Principal => r.principal.to_string(),
        GroupBy::Resource => r.resource.to_string(),
    })
}

/// A progress bar on a terminal, for a file whose size is known.
fn progress_bar(size: Option<u64>) -> miette::Result<Option<indicatif::ProgressBar>> {
    let Some(size) = size.filter(|_| std::io::stderr().is_terminal()) else {
        return Ok(None);
    };
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {per_sec} eta {eta}",
        )
        .map_err(|e| miette!("{e}"))?,
    );
    Ok(Some(bar))
}
