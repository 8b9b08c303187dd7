//! `tollgate approve`: one signed approval or rejection record.
//!
//! A human signs what they were shown: the request is decided against the pack first (a request
//! that cannot be decided is refused), and the request, its tier, the policies that set it and
//! the agent's recommendation go to stderr before anything is signed.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write as _};

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::Value;
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord};
use tollgate_engine::{Decision, EntityRef, ProposedAction, Tier, Timestamp};

use crate::args::ApproveArgs;
use crate::exit;
use crate::io::{
    eprint, evaluation_time, load_entities, load_pack, println, read_key_file, read_request_file,
    schema_path,
};
use crate::render::{self, shown_display};

pub fn run(args: ApproveArgs) -> miette::Result<u8> {
    let approver = args.approver;
    let key = read_key_file(&args.key)?;
    if let Some(owner) = &key.approver
        && *owner != approver
    {
        return Err(miette!("--key belongs to {owner}, not {approver}"));
    }
    let evidence = args.evidence.filter(|e| !e.trim().is_empty());
    if args.reject && evidence.is_none() {
        return Err(miette!("a rejection needs --evidence: say why"));
    }
    let ttl = args.ttl.0;
    if schema_path(&args.pack).is_none() {
        return Err(miette!(
            "approve needs the schema (--schema, or a schemas/ folder): a request is checked against it before it is signed"
        ));
    }
    let issued_at = evaluation_time(args.at)?;
    let expires_at = Timestamp::from_offset_date_time(
        issued_at.as_offset_date_time() + time::Duration::seconds(ttl),
    )
    .map_err(|e| miette!("--ttl: {e}"))?;
    let pack = load_pack(&args.pack)?;
    let (name, request) = read_request_file(&args.request)?;
    let entities = load_entities(&pack, args.entities.as_deref())?;
    let decision = pack
        .decide(&request, &entities, issued_at)
        .wrap_err_with(|| format!("{name}: cannot decide the request; nothing signed"))?;
    let decision_kind = if args.reject {
        ApprovalDecision::Reject
    } else {
        ApprovalDecision::Approve
    };
    eprint(&summary(
        &request,
        &decision,
        &approver,
        decision_kind,
        &expires_at,
    ));
    if decision.tier == Tier::Deny && decision_kind == ApprovalDecision::Approve {
        return Err(miette!(
            "{name}: the request is tier deny: there is nothing to approve (pass --reject --evidence to record a rejection); nothing signed"
        ));
    }
    if !args.yes && !confirmed()? {
        eprint("not confirmed; nothing signed\n");
        return Ok(exit::FAILED);
    }
    let record = ApprovalRecord::new(
        request.hash(),
        approver,
        decision_kind,
        issued_at,
        expires_at,
        evidence,
    )
    .signed_by(&key.key);
    println(&record.to_json_line())?;
    Ok(exit::OK)
}

/// What the approver is about to sign. Context and recommendation are shown as JSON, so control
/// characters in them are escaped rather than sent to the terminal.
fn summary(
    request: &ProposedAction,
    decision: &Decision,
    approver: &EntityRef,
    kind: ApprovalDecision,
    expires_at: &Timestamp,
) -> String {
    let mut out = String::new();
    let verb = match kind {
        ApprovalDecision::Approve => "approve",
        ApprovalDecision::Reject => "reject",
    };
    let _ = writeln!(out, "About to sign: {verb} as {}", shown_display(approver));
    if kind == ApprovalDecision::Approve {
        let _ = writeln!(out, "  valid until {expires_at}");
    }
    let _ = writeln!(out, "Request {}", request.hash());
    let _ = writeln!(out, "  principal {}", shown_display(&request.principal));
    let _ = writeln!(out, "  action    {}", shown_display(&request.action));
    let _ = writeln!(out, "  resource  {}", shown_display(&request.resource));
    let context = Value::Object(request.context.clone());
    let _ = writeln!(out, "  context   {}", shown_display(&context));
    match request.context.get("recommendation") {
        Some(r) => {
            let _ = writeln!(out, "Agent's recommendation: {}", shown_display(r));
        }
        None => {
            let _ = writeln!(out, "Agent's recommendation: none given");
        }
    }
    let _ = write!(out, "Tier {}", render::decision::text(decision));
    out
}

/// Asks on the terminal; refuses to guess when stdin is not one.
fn confirmed() -> miette::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(miette!(
            "stdin is not a terminal, so approve cannot ask for confirmation: check the request shown above and pass --yes to sign it; nothing signed"
        ));
    }
    eprint("Sign? [y/N] ");
    std::io::stderr().flush().into_diagnostic()?;
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .into_diagnostic()
        .wrap_err("reading the confirmation")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
