//! `tollgate audit verify|show|head|stats`.

use std::path::Path;

use miette::miette;
use serde_json::Value;
use tollgate_engine::audit::{
    ChainCheck, ChainHead, StatsOptions, audit_chain, audit_stats, verify_chain,
};
use tollgate_engine::keys::{KeyFile, PublicKey};

use crate::args::{AuditCommand, AuditStatsArgs, Format, StatsFormat};
use crate::exit;
use crate::io::{eprint, print, println, read_input, read_key_file};
use crate::render::shown;

pub fn run(cmd: AuditCommand) -> miette::Result<u8> {
    match cmd {
        AuditCommand::Stats(args) => stats(&args),
        AuditCommand::Verify(args) => {
            let (name, text) = read_input(&args.file)?;
            let pubkey = args.pubkey.as_deref().map(read_pubkey).transpose()?;
            let (head, count) = match &args.head_file {
                Some(path) => {
                    let (head_name, head_text) = read_input(path)?;
                    let stored = ChainHead::parse(&head_text, pubkey.as_ref())
                        .map_err(|e| miette!("{head_name}: {e}"))?;
                    (stored.head, Some(stored.count))
                }
                None => (args.head, args.count),
            };
            let check = ChainCheck {
                after: args.after,
                head,
                count,
                pubkey,
            };
            match audit_chain(&text, &check) {
                Ok(report) if report.repeats.is_empty() => {
                    let head = report.head;
                    let at = head.head.map(|h| format!(", head {h}")).unwrap_or_default();
                    println(&format!(
                        "{}: intact, {} records{at}",
                        shown(&name),
                        head.count
                    ))?;
                    Ok(exit::OK)
                }
                Ok(report) => {
                    let name = shown(&name);
                    for r in &report.repeats {
                        println(&format!(
                            "{name}:{}: REUSED: request {} was already allowed at line {}: its approvals were used twice",
                            r.line, r.request, r.first
                        ))?;
                    }
                    println(&format!(
                        "{name}: chain intact, {} records, but {} allowed verification{} of an already allowed request",
                        report.head.count,
                        report.repeats.len(),
                        if report.repeats.len() == 1 { "" } else { "s" }
                    ))?;
                    Ok(exit::FAILED)
                }
                Err(problem) => {
                    println(&format!(
                        "{}:{}: TAMPERED: {}",
                        shown(&name),
                        problem.line,
                        shown(&problem.message)
                    ))?;
                    Ok(exit::FAILED)
                }
            }
        }
        AuditCommand::Head(args) => {
            let (name, text) = read_input(&args.file)?;
            let head = verify_chain(&text, &ChainCheck::default()).map_err(|p| {
                miette!(
                    "{name}:{}: the log is damaged, no head to anchor: {}",
                    p.line,
                    p.message
                )
            })?;
            if let Some(key) = &args.sign_key {
                let key = read_key_file(key)?;
                println(&head.signed_record(&key.key).to_string())?;
                return Ok(exit::OK);
            }
            match args.format {
                Format::Json => {
                    println(&serde_json::to_string(&head).map_err(|e| miette!("{e}"))?)?;
                }
                Format::Text => match head.head {
                    Some(h) => println(&format!("{} {h}", head.count))?,
                    None => println("0")?,
                },
            }
            Ok(exit::OK)
        }
        AuditCommand::Show(args) => {
            let (name, text) = read_input(&args.file)?;
            let records: Vec<Value> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    tollgate_engine::json::parse(l)
                        .map_err(|e| miette!("{name}:{}: {}", i + 1, e.message()))
                })
                .collect::<Result<_, _>>()?;
            match args.format {
                Format::Json => {
                    println(&serde_json::to_string_pretty(&records).map_err(|e| miette!("{e}"))?)?;
                }
                Format::Text => print(&table(&records))?,
            }
            // Showing a log that does not verify as if it were the record would mislead: say so,
            // and fail as `audit verify` does.
            match verify_chain(&text, &ChainCheck::default()) {
                Ok(_) => Ok(exit::OK),
                Err(problem) => {
                    eprint(&format!(
                        "{}:{}: TAMPERED: {} (the records above are not a trustworthy record; run `tollgate audit verify`)\n",
                        shown(&name),
                        problem.line,
                        shown(&problem.message)
                    ));
                    Ok(exit::FAILED)
                }
            }
        }
    }
}

/// `audit stats`: approval-fatigue numbers.
fn stats(args: &AuditStatsArgs) -> miette::Result<u8> {
    let (name, text) = read_input(&args.file)?;
    let options = StatsOptions {
        since: args.since,
        until: args.until,
        rubber_stamp_seconds: args.rubber_stamp_seconds,
        rubber_stamp_min_records: args.rubber_stamp_records,
        burst: args.burst,
        dual_collapse_seconds: args.dual_collapse_seconds,
        candidate_min_requests: args.candidate_requests,
        ..StatsOptions::default()
    };
    let stats = audit_stats(&text, &options).map_err(|e| miette!("{}:{e}", shown(&name)))?;
    match args.format {
        StatsFormat::Table => print(&crate::render::audit_stats::render(&stats))?,
        StatsFormat::Json => {
            println(&serde_json::to_string_pretty(&stats).map_err(|e| miette!("{e}"))?)?;
        }
        StatsFormat::Html => print(&crate::render::audit_stats_html::render(&stats))?,
    }
    Ok(exit::OK)
}

/// `ed25519:...` inline, or a file holding it, or a key file (its public half is used).
fn read_pubkey(arg: &str) -> miette::Result<PublicKey> {
    if arg.starts_with("ed25519:") {
        return arg.parse().map_err(|e| miette!("--pubkey: {e}"));
    }
    let (name, text) = read_input(Path::new(arg))?;
    if let Ok(file) = KeyFile::parse(&text) {
        return Ok(file.key.public_key());
    }
    text.trim().parse().map_err(|e| miette!("{name}: {e}"))
}

/// One row per record. Every cell comes from the log, which anyone who can write the file
/// controls: each is [`shown`], so a newline or an escape in an id cannot forge a row.
fn table(records: &[Value]) -> String {
    let s = |v: &Value, path: &[&str]| -> String {
        let mut cur = v;
        for p in path {
            cur = cur.get(p).unwrap_or(&Value::Null);
        }
        match cur {
            Value::String(s) => shown(s).into_owned(),
            Value::Null => "-".into(),
            other => shown(&other.to_string()).into_owned(),
        }
    };
    let mut out = format!(
        "{:<4} {:<31} {:<12} {:<24} {:<16} {:<6} {:<8}\n",
        "#", "time", "kind", "principal", "action", "tier", "outcome"
    );
    for (i, r) in records.iter().enumerate() {
        out.push_str(&format!(
            "{:<4} {:<31} {:<12} {:<24} {:<16} {:<6} {:<8}\n",
            i + 1,
            s(r, &["time"]),
            s(r, &["kind"]),
            format!(
                "{}::{}",
                s(r, &["request", "principal", "type"]),
                s(r, &["request", "principal", "id"])
            ),
            s(r, &["request", "action", "id"]),
            s(r, &["decision", "tier"]),
            s(r, &["outcome"]),
        ));
    }
    out
}
