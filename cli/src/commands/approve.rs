//! `tollgate approve`: one signed approval or rejection record.
//!
//! A human signs what they were shown: the request is decided against the pack first (a request
//! that cannot be decided is refused), and the request, its tier, the policies that set it and
//! the agent's recommendation go to stderr before anything is signed.

use miette::{WrapErr, miette};
use tollgate_engine::Tier;
use tollgate_engine::approvals::ApprovalDecision;

use crate::args::ApproveArgs;
use crate::exit;
use crate::io::{
    eprint, evaluation_time, load_entities, load_pack, println, read_request_file, schema_path,
};
use crate::render::decision::DecisionView;
use crate::signing::{Signing, approver_key, confirmed, expiry};

pub fn run(args: ApproveArgs) -> miette::Result<u8> {
    let approver = args.approver;
    let key = approver_key(&args.key, &approver)?;
    let evidence = args.evidence.filter(|e| !e.trim().is_empty());
    if args.reject && evidence.is_none() {
        return Err(miette!("a rejection needs --evidence: say why"));
    }
    if schema_path(&args.pack).is_none() {
        return Err(miette!(
            "approve needs the schema (--schema, or a schemas/ folder): a request is checked against it before it is signed"
        ));
    }
    let issued_at = evaluation_time(args.at)?;
    let expires_at = expiry(issued_at, args.ttl.0)?;
    let pack = load_pack(&args.pack)?;
    let (name, request) = read_request_file(&args.request)?;
    let entities = load_entities(&pack, args.entities.as_deref())?;
    let decision = pack
        .decide(&request, &entities, issued_at)
        .wrap_err_with(|| format!("{name}: cannot decide the request; nothing signed"))?;
    let kind = if args.reject {
        ApprovalDecision::Reject
    } else {
        ApprovalDecision::Approve
    };
    let decision = DecisionView::from(&decision);
    let signing = Signing {
        kind,
        approver: &approver,
        issued_at,
        expires_at,
        evidence,
        request: &request,
        recommendation: request.context.get("recommendation"),
        decision: &decision,
        notes: Vec::new(),
    };
    eprint(&signing.summary());
    if decision.tier == Tier::Deny && kind == ApprovalDecision::Approve {
        return Err(miette!(
            "{name}: the request is tier deny: there is nothing to approve (pass --reject --evidence to record a rejection); nothing signed"
        ));
    }
    if !args.yes && !confirmed("approve")? {
        eprint("not confirmed; nothing signed\n");
        return Ok(exit::FAILED);
    }
    println(&signing.sign(&key).to_json_line())?;
    Ok(exit::OK)
}
