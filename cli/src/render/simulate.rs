//! `simulate` results: rows as they are decided, then the summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};
use tollgate_engine::{Decision, ProposedAction, Tier};

use super::{shown, shown_display, thousands};
use crate::args::GroupBy;

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
    /// Counts one line: its tier, or `None` when it could not be decided.
    pub fn add(&mut self, tier: Option<Tier>) {
        self.total += 1;
        match tier {
            Some(Tier::Auto) => self.auto += 1,
            Some(Tier::Single) => self.single += 1,
            Some(Tier::Dual) => self.dual += 1,
            Some(Tier::Deny) => self.deny += 1,
            None => self.errors += 1,
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

/// One input line, decided or not.
pub struct Decided {
    pub line: usize,
    pub result: Result<(ProposedAction, Decision), String>,
}

impl Decided {
    /// The tier, when the line was decided.
    pub fn tier(&self) -> Option<Tier> {
        self.result.as_ref().ok().map(|(_, d)| d.tier)
    }
}

/// The CSV header, matching [`csv_rows`].
pub const CSV_HEADER: &str =
    "line,principal,action,resource,tier,approvals_required,determining,request,error\n";

/// A text row for each line that needs approval, is denied or could not be decided.
pub fn text_rows(rows: &[Decided]) -> String {
    let mut out = String::new();
    for d in rows {
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
    out
}

/// A CSV row for every line.
///
/// Fields go to the CSV writer (which quotes them per RFC 4180) one by one from a reused
/// buffer, so a row costs no allocation of its own.
pub fn csv_rows(rows: &[Decided]) -> miette::Result<String> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(rows.len() * 192));
    let mut field = String::new();
    let written = |e: csv::Error| miette::miette!("writing CSV: {e}");
    for d in rows {
        let mut put = |csv: &mut csv::Writer<Vec<u8>>, text: &dyn std::fmt::Display| {
            field.clear();
            let _ = write!(field, "{text}");
            csv.write_field(&field).map_err(written)
        };
        put(&mut csv, &d.line)?;
        match &d.result {
            Ok((r, dec)) => {
                put(&mut csv, &r.principal)?;
                put(&mut csv, &r.action)?;
                put(&mut csv, &r.resource)?;
                csv.write_field(dec.tier.as_str()).map_err(written)?;
                match dec.approvals_required {
                    Some(n) => put(&mut csv, &n)?,
                    None => csv.write_field("").map_err(written)?,
                }
                put(&mut csv, &Joined(&dec.determining))?;
                put(&mut csv, &r.hash())?;
                csv.write_field("").map_err(written)?;
            }
            Err(e) => {
                for _ in 0..3 {
                    csv.write_field("").map_err(written)?;
                }
                csv.write_field("error").map_err(written)?;
                for _ in 0..3 {
                    csv.write_field("").map_err(written)?;
                }
                csv.write_field(e).map_err(written)?;
            }
        }
        // An empty record after the fields ends the row.
        csv.write_record(None::<&[u8]>).map_err(written)?;
    }
    let bytes = csv
        .into_inner()
        .map_err(|e| miette::miette!("writing CSV: {e}"))?;
    String::from_utf8(bytes).map_err(|e| miette::miette!("writing CSV: {e}"))
}

/// The determining policies' ids, separated by spaces.
struct Joined<'a>(&'a [tollgate_engine::DeterminingPolicy]);

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(p.id.as_str())?;
        }
        Ok(())
    }
}

/// The JSON entry of one line.
pub fn json_entry(d: &Decided) -> Value {
    match &d.result {
        Ok((r, dec)) => json!({"line": d.line, "request": r.hash(), "decision": dec}),
        Err(e) => json!({"line": d.line, "error": e}),
    }
}

/// The whole JSON document.
pub fn json_doc(
    decisions: Vec<Value>,
    overall: &Counts,
    groups: &BTreeMap<String, Counts>,
) -> Value {
    let summary = json!({"overall": overall, "groups": groups});
    json!({"decisions": decisions, "summary": summary})
}

/// `summary: …`, then a line per group.
pub fn summary_text(
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
