//! `tollgate check`: load and validate the pack, as `cedar validate` and `opa check` do.

use serde_json::json;
use tollgate_engine::SourceDiagnostic;

use crate::args::{CheckArgs, Format};
use crate::exit;
use crate::io::{eprint, load_pack, print_json, println};
use crate::render::plural;

pub fn run(args: CheckArgs) -> miette::Result<u8> {
    // A pack that does not load is an error here as everywhere: every problem, exit 2.
    let pack = load_pack(&args.pack)?;
    let warnings = pack.warnings();
    match args.format {
        Format::Json => print_json(&json!({
            "policies": pack.policies().len(),
            "policy_set": pack.hash(),
            "warnings": warnings.iter().map(warning_json).collect::<Vec<_>>(),
        }))?,
        Format::Text => {
            for w in warnings {
                eprint(&format!(
                    "{:?}\n",
                    miette::Report::new(w.clone()).wrap_err("warning")
                ));
            }
            let policies = pack.policies().len();
            println(&format!(
                "ok: {policies} polic{}, {}, policy set {}",
                if policies == 1 { "y" } else { "ies" },
                plural(warnings.len(), "warning"),
                pack.hash()
            ))?;
        }
    }
    Ok(exit::OK)
}

fn warning_json(w: &SourceDiagnostic) -> serde_json::Value {
    json!({
        "code": w.code,
        "file": w.file,
        "line": w.position.line,
        "column": w.position.column,
        "policy": w.policy,
        "message": w.message,
    })
}
