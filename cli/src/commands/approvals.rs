//! `tollgate approvals list|show|approve|reject`: the human approver's client of
//! `tollgate serve`.
//!
//! The server holds the request; the approver signs its hash. A server that showed request A and
//! named the hash of request B would get B signed, so the request is parsed and hashed here and
//! the signature is made over that hash; a server whose hash differs gets nothing.

use miette::miette;
use serde_json::Value;
use tollgate_engine::approvals::ApprovalDecision;
use tollgate_engine::{ProposedAction, Tier, ToolCall};

use crate::args::{ApprovalId, ApprovalsArgs, ApprovalsCommand, Format, SignerArgs};
use crate::client::{Approval, Client};
use crate::exit;
use crate::io::{eprint, evaluation_time, print, print_json};
use crate::render::approvals as render;
use crate::render::decision::{DecisionView, view_text};
use crate::render::shown;
use crate::signing::{Signing, approver_key, confirmed, expiry, request_text};

/// How long a rejection stays valid, as `tollgate approve --reject` without `--ttl`.
const REJECT_TTL_SECONDS: i64 = 60 * 60;

pub fn run(args: ApprovalsArgs) -> miette::Result<u8> {
    let client = Client::from_args(args.server, args.token_file.as_deref())?;
    match args.command {
        ApprovalsCommand::List(list) => {
            let answer = client.list(list.state)?;
            match list.format {
                Format::Json => print_json(&answer.json)?,
                Format::Text => print(&render::list(&answer.typed))?,
            }
            Ok(exit::OK)
        }
        ApprovalsCommand::Show(show) => {
            let answer = client.get(&show.id)?;
            let checked = checked(&answer.typed, &show.id)?;
            match show.format {
                Format::Json => print_json(&answer.json)?,
                Format::Text => {
                    let a = &answer.typed;
                    let mut text = format!("{}\n", render::status(a));
                    text.push_str(&request_text(
                        &checked.request,
                        recommendation(a, &checked.request),
                    ));
                    text.push_str(&render::call(&check_call(
                        a.call.as_ref(),
                        &checked.request,
                    )));
                    text.push_str(&format!("Tier {}", view_text(&checked.decision)));
                    text.push_str(&render::records(&a.records));
                    print(&text)?;
                }
            }
            Ok(exit::OK)
        }
        ApprovalsCommand::Approve(sign) => {
            let evidence = sign.evidence.filter(|e| !e.trim().is_empty());
            decide(
                &client,
                &sign.id,
                &sign.signer,
                ApprovalDecision::Approve,
                sign.ttl.0,
                evidence,
            )
        }
        ApprovalsCommand::Reject(reject) => {
            if reject.evidence.trim().is_empty() {
                return Err(miette!("a rejection needs --evidence: say why"));
            }
            decide(
                &client,
                &reject.id,
                &reject.signer,
                ApprovalDecision::Reject,
                REJECT_TTL_SECONDS,
                Some(reject.evidence),
            )
        }
    }
}

/// Fetches the approval, checks it, shows what is signed, asks, signs over the hash computed
/// here, posts, and prints the server's answer: exit 0 counted, 1 not counted (or not confirmed).
fn decide(
    client: &Client,
    id: &ApprovalId,
    signer: &SignerArgs,
    kind: ApprovalDecision,
    ttl_seconds: i64,
    evidence: Option<String>,
) -> miette::Result<u8> {
    let key = approver_key(&signer.key, &signer.approver)?;
    let approval = client.get(id)?.typed;
    let checked = checked(&approval, id)?;
    signable(&approval, &checked.decision, kind)?;
    let call = check_call(approval.call.as_ref(), &checked.request);
    if let (ApprovalDecision::Approve, CallMatch::Differs { why, .. }) = (kind, &call) {
        return Err(miette!(
            "the tool call the server shows for {id} is not the one the request binds: {}; an approval would not be of the call shown; nothing signed",
            shown(why)
        ));
    }
    let issued_at = evaluation_time(None)?;
    let signing = Signing {
        kind,
        approver: &signer.approver,
        issued_at,
        expires_at: expiry(issued_at, ttl_seconds)?,
        evidence,
        request: &checked.request,
        recommendation: recommendation(&approval, &checked.request),
        decision: &checked.decision,
        notes: [
            render::call(&call).trim_end().to_string(),
            render::status(&approval),
            render::records(&approval.records).trim_end().to_string(),
        ]
        .into_iter()
        .filter(|note| !note.is_empty())
        .collect(),
    };
    eprint(&signing.summary());
    if !signer.yes && !confirmed("tollgate approvals")? {
        eprint("not confirmed; nothing signed\n");
        return Ok(exit::FAILED);
    }
    let record = signing.sign(&key);
    let answer = client.post_record(id, record.to_json_line())?;
    match signer.format {
        Format::Json => print_json(&answer.json)?,
        Format::Text => print(&render::answer(&answer.typed))?,
    }
    Ok(if answer.typed.counted {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// An approval's request and decision, checked against what the server claims of them.
#[derive(Debug)]
struct Checked {
    request: ProposedAction,
    decision: DecisionView,
}

/// Parses the approval's request and decision and checks them against each other and the id
/// asked for: the id must be the one asked for, the request must hash to `request_hash`, and the
/// decision must be of that request. Any difference means the server cannot be trusted with a
/// signature.
fn checked(approval: &Approval, id: &ApprovalId) -> miette::Result<Checked> {
    if approval.id != id.as_str() {
        return Err(miette!(
            "asked for approval {id}, the server sent {}; nothing signed",
            shown(&approval.id)
        ));
    }
    let request = ProposedAction::from_json(&approval.request).map_err(|e| {
        miette!(
            "the server's request for {id} is not a request: {}; nothing signed",
            shown(&e.to_string())
        )
    })?;
    let local = request.hash().to_string();
    if approval.request_hash != local {
        return Err(miette!(
            "the server names request hash {} for {id}, but the request it shows hashes to {local}: a signature over its hash would approve a request other than the one shown; nothing signed",
            shown(&approval.request_hash)
        ));
    }
    let decision: DecisionView =
        serde_json::from_value(approval.decision.clone()).map_err(|e| {
            miette!(
                "the server's decision for {id} is not a decision: {}; nothing signed",
                shown(&e.to_string())
            )
        })?;
    if decision.request != local {
        return Err(miette!(
            "the server's decision for {id} is of request {}, not of the request shown ({local}); nothing signed",
            shown(&decision.request)
        ));
    }
    Ok(Checked { request, decision })
}

/// Whether the approval may be signed so: an approval only of a pending request that is not
/// tier deny; a rejection of a pending or an allowed one (an allowed request can still be
/// stopped before it is consumed).
fn signable(
    approval: &Approval,
    decision: &DecisionView,
    kind: ApprovalDecision,
) -> miette::Result<()> {
    let state = approval.state.as_str();
    match kind {
        ApprovalDecision::Approve if state != "pending" => Err(miette!(
            "approval {} is {}, not pending: there is nothing to approve; nothing signed",
            shown(&approval.id),
            shown(state)
        )),
        ApprovalDecision::Approve if decision.tier == Tier::Deny => Err(miette!(
            "approval {} is of a tier deny request: there is nothing to approve; nothing signed",
            shown(&approval.id)
        )),
        ApprovalDecision::Reject if !matches!(state, "pending" | "allowed") => Err(miette!(
            "approval {} is {}: only a pending or allowed request can be rejected; nothing signed",
            shown(&approval.id),
            shown(state)
        )),
        _ => Ok(()),
    }
}

/// What an approval's tool call says about its request, checked here: the server is not trusted
/// to have compared them.
#[derive(Debug, Clone, PartialEq)]
pub enum CallMatch {
    /// The server shows no call.
    Absent,
    /// The call's digest, computed here, is the request's `context.call_digest`.
    Matches(ToolCall),
    /// A call is shown but is not what the request binds: its digest differs, the request has no
    /// `call_digest`, or it is not a call at all (then `call` is `None`).
    Differs {
        /// The call, when it reads as one.
        call: Option<ToolCall>,
        /// Why it does not match.
        why: String,
    },
}

/// Compares the call shown with `request.context.call_digest`. An approval signs the request's
/// hash, which covers the digest but not the call: a call whose digest differs is not the one
/// the approval would let run, so it must never be presented as if it were.
pub fn check_call(call: Option<&Value>, request: &ProposedAction) -> CallMatch {
    let Some(value) = call.filter(|v| !v.is_null()) else {
        return CallMatch::Absent;
    };
    let call = match ToolCall::from_json(value) {
        Ok(call) => call,
        Err(e) => {
            return CallMatch::Differs {
                call: None,
                why: e.to_string(),
            };
        }
    };
    let digest = call.digest().to_string();
    match request.context.get("call_digest") {
        Some(Value::String(given)) if *given == digest => CallMatch::Matches(call),
        Some(Value::String(given)) => CallMatch::Differs {
            call: Some(call),
            why: format!("the call hashes to {digest}, the request's call_digest is {given}"),
        },
        Some(_) => CallMatch::Differs {
            call: Some(call),
            why: "the request's call_digest is not a string".into(),
        },
        None => CallMatch::Differs {
            call: Some(call),
            why: "the request has no call_digest".into(),
        },
    }
}

/// The server's recommendation, else the one in the request's context.
fn recommendation<'a>(
    approval: &'a Approval,
    request: &'a ProposedAction,
) -> Option<&'a serde_json::Value> {
    Some(&approval.recommendation)
        .filter(|r| !r.is_null())
        .or_else(|| request.context.get("recommendation"))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const ID: &str = "apr_0123456789abcdef0123456789abcdef";

    fn request_json(resource: &str) -> Value {
        json!({
            "principal": {"type": "Agent", "id": "bot"},
            "action": {"type": "Action", "id": "deploy"},
            "resource": {"type": "Env", "id": resource},
            "context": {"ticket": "T-1"}
        })
    }

    fn hash_of(request: &Value) -> String {
        ProposedAction::from_json(request)
            .unwrap()
            .hash()
            .to_string()
    }

    /// An approval showing `shown`, claiming `hash`, with a decision of `decided`.
    fn approval(shown: &Value, hash: &str, decided: &str) -> Approval {
        serde_json::from_value(json!({
            "id": ID, "state": "pending", "tier": "single",
            "approvals_required": 1, "missing": 1,
            "request": shown, "request_hash": hash,
            "decision": {
                "tier": "single", "approvals_required": 1,
                "determining": [{"id": "deploy-needs-one", "effect": "permit", "tier": "single",
                                  "reason": "prod", "source": "p.cedar:1", "controls": ["CC-1"]}],
                "errors": [], "request": decided, "policy_set": "sha256:ff"
            },
            "recommendation": null, "age_seconds": 5, "records": []
        }))
        .unwrap()
    }

    fn id() -> ApprovalId {
        ID.parse().unwrap()
    }

    #[test]
    fn an_honest_approval_checks_and_its_hash_is_computed_here() {
        let a = request_json("prod");
        let hash = hash_of(&a);
        let checked = checked(&approval(&a, &hash, &hash), &id()).unwrap();
        assert_eq!(checked.request.hash().to_string(), hash);
        assert_eq!(checked.decision.tier, Tier::Single);
        assert_eq!(checked.decision.determining[0].controls, ["CC-1"]);
    }

    #[test]
    fn a_server_showing_one_request_and_naming_anothers_hash_is_refused() {
        let shown_request = request_json("staging");
        let signed_request = request_json("prod");
        let b = hash_of(&signed_request);
        let e = checked(&approval(&shown_request, &b, &b), &id())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hashes to") && e.contains("nothing signed"),
            "{e}"
        );
        // The decision shown must be of the request shown too.
        let a = hash_of(&shown_request);
        let e = checked(&approval(&shown_request, &a, &b), &id())
            .unwrap_err()
            .to_string();
        assert!(e.contains("decision"), "{e}");
        // And the approval must be the one asked for.
        let other: ApprovalId = "apr_ffffffffffffffffffffffffffffffff".parse().unwrap();
        assert!(checked(&approval(&shown_request, &a, &a), &other).is_err());
    }

    #[test]
    fn a_request_that_does_not_parse_is_refused() {
        let bad = json!({"principal": "nobody"});
        assert!(checked(&approval(&bad, "sha256:00", "sha256:00"), &id()).is_err());
    }

    fn tool_call() -> Value {
        json!({"server": "files", "tool": "write_file",
               "arguments": {"path": "/tmp/x", "content": "A", "ratio": 0.5}})
    }

    fn with_digest(digest: Option<Value>) -> ProposedAction {
        let mut request = request_json("prod");
        if let Some(d) = digest {
            request["context"]["call_digest"] = d;
        }
        ProposedAction::from_json(&request).unwrap()
    }

    #[test]
    fn a_call_matches_only_when_its_digest_computed_here_is_the_requests() {
        let call = ToolCall::from_json(&tool_call()).unwrap();
        let digest = call.digest().to_string();
        let request = with_digest(Some(json!(digest)));
        assert_eq!(
            check_call(Some(&tool_call()), &request),
            CallMatch::Matches(call.clone())
        );
        // No call shown: nothing to compare (the request hash is still checked elsewhere).
        assert_eq!(check_call(None, &request), CallMatch::Absent);
        assert_eq!(check_call(Some(&Value::Null), &request), CallMatch::Absent);
        // One argument changed: the server shows another call than the one approved.
        let mut other = tool_call();
        other["arguments"]["content"] = json!("B");
        assert!(matches!(
            check_call(Some(&other), &request),
            CallMatch::Differs { call: Some(_), .. }
        ));
        // No call_digest, or not a string.
        for request in [with_digest(None), with_digest(Some(json!(1)))] {
            assert!(matches!(
                check_call(Some(&tool_call()), &request),
                CallMatch::Differs { call: Some(_), .. }
            ));
        }
        // Not a call at all.
        assert!(matches!(
            check_call(Some(&json!({"tool": "x"})), &request),
            CallMatch::Differs { call: None, .. }
        ));
    }

    #[test]
    fn approve_needs_pending_and_reject_pending_or_allowed() {
        let a = request_json("prod");
        let hash = hash_of(&a);
        let mut approval = approval(&a, &hash, &hash);
        let decision = checked(&approval, &id()).unwrap().decision;
        for (state, approve, reject) in [
            ("pending", true, true),
            ("allowed", false, true),
            ("denied", false, false),
            ("expired", false, false),
            ("consumed", false, false),
        ] {
            approval.state = state.into();
            assert_eq!(
                signable(&approval, &decision, ApprovalDecision::Approve).is_ok(),
                approve,
                "{state}"
            );
            assert_eq!(
                signable(&approval, &decision, ApprovalDecision::Reject).is_ok(),
                reject,
                "{state}"
            );
        }
        approval.state = "pending".into();
        let deny = DecisionView {
            tier: Tier::Deny,
            ..decision
        };
        assert!(signable(&approval, &deny, ApprovalDecision::Approve).is_err());
        assert!(signable(&approval, &deny, ApprovalDecision::Reject).is_ok());
    }
}
