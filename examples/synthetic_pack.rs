//! Writes a synthetic pack (`tollgate::synthetic`) to a folder, for timing `tollgate lint` and
//! comparing its findings on a large pack:
//! `cargo run --release --example synthetic_pack -- 20000 /tmp/pack [--expansion]`, then
//! `tollgate lint --policies /tmp/pack/policies --schema /tmp/pack/schemas`.
//!
//! `--expansion` marks the first action group and every fifth action `@privilege_expansion`, so
//! that the expansion rules have pairs to compare (the plain synthetic schema marks nothing).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use tollgate::synthetic::{self, Shape};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || std::io::Error::other("usage: synthetic_pack POLICIES DIR [--expansion]");
    let policies: usize = args.next().and_then(|n| n.parse().ok()).ok_or_else(usage)?;
    let dir = PathBuf::from(args.next().ok_or_else(usage)?);
    let expansion = args.next().is_some_and(|a| a == "--expansion");
    let shape = Shape::of(policies);
    let mut schema = synthetic::schema(shape);
    if expansion {
        schema = mark_expansions(&schema);
    }
    std::fs::create_dir_all(dir.join("policies"))?;
    std::fs::create_dir_all(dir.join("schemas"))?;
    std::fs::write(
        dir.join("policies/synthetic.cedar"),
        synthetic::policies(shape, 7),
    )?;
    std::fs::write(dir.join("schemas/synthetic.cedarschema"), schema)?;
    Ok(())
}

/// `schema` with `grp0` and every fifth action marked `@privilege_expansion`.
fn mark_expansions(schema: &str) -> String {
    schema
        .lines()
        .map(|line| {
            let marked = line.starts_with("action \"grp0\";")
                || line
                    .strip_prefix("action act")
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| n % 5 == 0);
            if marked {
                format!("@privilege_expansion(\"synthetic\") {line}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}
