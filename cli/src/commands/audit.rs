//! `tollgate audit verify|show|head`.

use std::path::Path;

use miette::miette;
use serde_json::Value;
use tollgate_engine::Sha256Digest;
use tollgate_engine::audit::{ChainCheck, verify_chain};
use tollgate_engine::keys::{KeyFile, PublicKey};

use crate::cli::{AuditCommand, Format, TableFormat};
use crate::exit;
use crate::input::read_input;

pub fn run(cmd: AuditCommand) -> miette::Result<u8> {
    match cmd {
        AuditCommand::Verify(args) => {
            let (name, text) = read_input(&args.file)?;
            let check = ChainCheck {
                head: args
                    .head
                    .as_deref()
                    .map(|h| {
                        h.parse::<Sha256Digest>()
                            .map_err(|e| miette!("--head: {e}"))
                    })
                    .transpose()?,
                count: args.count,
                pubkey: args.pubkey.as_deref().map(read_pubkey).transpose()?,
            };
            match verify_chain(&text, &check) {
                Ok(head) => {
                    let at = head.head.map(|h| format!(", head {h}")).unwrap_or_default();
                    println!("{name}: intact, {} records{at}", head.count);
                    Ok(exit::OK)
                }
                Err(problem) => {
                    println!("{name}:{}: TAMPERED: {}", problem.line, problem.message);
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
            match args.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string(&head).map_err(|e| miette!("{e}"))?
                ),
                Format::Text => match head.head {
                    Some(h) => println!("{} {h}", head.count),
                    None => println!("0"),
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
                TableFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&records).map_err(|e| miette!("{e}"))?
                    )
                }
                TableFormat::Table => print!("{}", table(&records)),
            }
            Ok(exit::OK)
        }
    }
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

fn table(records: &[Value]) -> String {
    let s = |v: &Value, path: &[&str]| -> String {
        let mut cur = v;
        for p in path {
            cur = cur.get(p).unwrap_or(&Value::Null);
        }
        match cur {
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
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
