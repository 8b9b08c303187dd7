//! `tollgate decide`: the tier of one proposed action.

use std::path::Path;

use miette::{WrapErr, miette};
use serde_json::{Map, Value};
use tollgate_engine::ProposedAction;

use crate::args::{DecideArgs, Format};
use crate::audit_log::{Event, record_if_asked};
use crate::exit;
use crate::io::{
    evaluation_time, is_stdin, load_entities, load_pack, note_no_entities, parse_json, print,
    print_json, read_input, read_request_file,
};
use crate::render;

pub fn run(args: DecideArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.time.at)?;
    let pack = load_pack(&args.pack)?;
    let (name, request) = read_request(&args)?;
    let entities = load_entities(&pack, args.entities.as_deref())?;
    note_no_entities(args.entities.is_some());
    let decision = pack
        .decide(&request, &entities, at)
        .wrap_err_with(|| format!("{name}: cannot decide"))?;
    let event = Event {
        at,
        request: &request,
        decision: &decision,
        verification: None,
    };
    record_if_asked(&args.audit, &event)?;
    match args.format {
        Format::Json => print_json(&decision)?,
        Format::Text => print(&render::decision::text(&decision))?,
    }
    Ok(exit::OK)
}

/// `--request FILE`, or the request spelt out in flags.
fn read_request(args: &DecideArgs) -> miette::Result<(String, ProposedAction)> {
    if let Some(path) = &args.request {
        return read_request_file(path);
    }
    let (Some(p), Some(a), Some(r)) = (&args.principal, &args.action, &args.resource) else {
        return Err(miette!(
            "give --request FILE, or --principal, --action and --resource"
        ));
    };
    let context = match args.context.as_deref() {
        None => Map::new(),
        Some(text) => {
            let value = if is_stdin(Path::new(text)) {
                let (name, text) = read_input(Path::new(text))?;
                parse_json(&name, &text)?
            } else {
                parse_json("--context", text)?
            };
            match value {
                Value::Object(m) => m,
                _ => return Err(miette!("--context must be a JSON object")),
            }
        }
    };
    let request = ProposedAction::new(p.clone(), a.clone(), r.clone(), context)
        .map_err(|e| miette!("{e}"))?;
    Ok(("request".into(), request))
}
