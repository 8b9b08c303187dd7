//! `tollgate decide`: the tier of one proposed action.

use miette::{WrapErr, miette};
use serde_json::{Map, Value};
use tollgate_engine::{EntityRef, ProposedAction};

use crate::audit_log::record_if_asked;
use crate::cli::{DecideArgs, Format};
use crate::exit;
use crate::input::{evaluation_time, load_entities, load_pack, parse_json, read_input};
use crate::output::{decision_text, note_no_entities, print, println};

pub fn run(args: DecideArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.at.as_deref())?;
    let pack = load_pack(&args.pack)?;
    let (name, request) = read_request(&args)?;
    let entities = load_entities(&pack, args.entities.as_deref())?;
    note_no_entities(args.entities.is_some());
    let decision = pack
        .decide(&request, &entities, at)
        .wrap_err_with(|| format!("{name}: cannot decide"))?;
    record_if_asked(&args.audit, at, &request, &decision, None)?;
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&decision).map_err(|e| miette!("{e}"))?;
            println(&json)?;
        }
        Format::Text => print(&decision_text(&decision))?,
    }
    Ok(exit::OK)
}

fn read_request(args: &DecideArgs) -> miette::Result<(String, ProposedAction)> {
    if let Some(path) = &args.request {
        let (name, text) = read_input(path)?;
        let value = parse_json(&name, &text)?;
        let request = ProposedAction::from_json(&value).map_err(|e| miette!("{name}: {e}"))?;
        return Ok((name, request));
    }
    let (Some(p), Some(a), Some(r)) = (&args.principal, &args.action, &args.resource) else {
        return Err(miette!(
            "give --request FILE, or --principal, --action and --resource"
        ));
    };
    let field = |flag: &str, v: &str| {
        EntityRef::from_json(&Value::String(v.to_string()), flag)
            .map_err(|e| miette!("--{flag}: {e}"))
    };
    let context = match &args.context {
        None => Map::new(),
        Some(text) => match parse_json("--context", text)? {
            Value::Object(m) => m,
            _ => return Err(miette!("--context must be a JSON object")),
        },
    };
    let request = ProposedAction::new(
        field("principal", p)?,
        field("action", a)?,
        field("resource", r)?,
        context,
    )
    .map_err(|e| miette!("{e}"))?;
    Ok(("request".into(), request))
}
