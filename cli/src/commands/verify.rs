//! `tollgate verify`: do the approvals on file allow the request?

use miette::{WrapErr, miette};
use tollgate_engine::approvals::{Outcome, parse_approvals, verify};
use tollgate_engine::keys::Keyring;

use crate::args::{Format, VerifyArgs};
use crate::audit_log::{AuditLog, Event, record};
use crate::exit;
use crate::io::{
    evaluation_time, load_entities, load_pack, print, print_json, read_input, read_request_file,
    schema_path,
};
use crate::render;

pub fn run(args: VerifyArgs) -> miette::Result<u8> {
    if schema_path(&args.pack).is_none() {
        return Err(miette!(
            "verify needs the schema (--schema, or a schemas/ folder): it marks which entity types are people (@human)"
        ));
    }
    let at = evaluation_time(args.time.at)?;
    let pack = load_pack(&args.pack)?;
    let (name, request) = read_request_file(&args.request)?;
    let entities = load_entities(&pack, Some(&args.entities))?;
    let (approvals_name, approvals_text) = read_input(&args.approvals)?;
    let approvals =
        parse_approvals(&approvals_text).map_err(|e| miette!("{approvals_name}: {e}"))?;
    let (keyring_name, keyring_text) = read_input(&args.keyring)?;
    let keyring = Keyring::parse(&keyring_text).map_err(|e| miette!("{keyring_name}: {e}"))?;

    let mut verification = verify(&pack, &entities, &request, &approvals, &keyring, at)
        .wrap_err_with(|| format!("{name}: cannot verify"))?;
    // Under the log's lock: an allowed request that the log shows allowed before (approvals are
    // single use) or rejected before (a reject removed from the approvals file still counts) is
    // denied, and that denial is what gets recorded.
    let mut earlier_line = None;
    if let Some(path) = &args.audit.audit {
        let mut log = AuditLog::open(path)?;
        if verification.outcome == Outcome::Allowed
            && let Some((line, why)) = log.earlier(&verification.request)?
        {
            verification.deny_from_log(why);
            earlier_line = Some(line);
        }
        let event = Event {
            at,
            request: &request,
            decision: &verification.decision,
            verification: Some(&verification),
        };
        record(log, &args.audit, &event)?;
    }
    match args.format {
        Format::Json => print_json(&verification)?,
        Format::Text => print(&render::verify::text(&verification, earlier_line))?,
    }
    Ok(match verification.outcome {
        Outcome::Allowed => exit::OK,
        Outcome::Pending => exit::PENDING,
        Outcome::Denied => exit::DENIED,
    })
}
