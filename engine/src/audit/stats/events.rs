//! What the stats read from an audit log: decisions and approval records, from either source.
//!
//! - The CLI's log (`decide --audit`, `verify --audit`): `decision` records, and `verification`
//!   records whose `approvals` repeat every record verified, earlier ones included. An approval
//!   is the approver's signed `issued_at`; it is keyed by its `signature` (older logs without
//!   one: by approver, request and decision).
//! - `tollgate serve`'s export (`GET /v1/audit`): `decision` records carry the approval request
//!   they opened or found (`approval.id`); `record` events carry each signed record as posted,
//!   with the time serve received it, which is when an approval is counted as given (an
//!   approver's own `issued_at` is theirs to choose).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::model::tier::Tier;
use crate::timestamp::Timestamp;

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Approve,
    Reject,
}

/// One decision as the log recorded it.
#[derive(Debug, Clone)]
pub(super) struct DecisionEvent {
    pub time: Timestamp,
    pub request_hash: String,
    pub tier: Tier,
    pub approvals_required: u8,
    /// The policies that set the tier: `(id, tier)`.
    pub determining: Vec<(String, Tier)>,
    /// The approval request: serve's approval id, or (CLI) the request hash.
    pub unit: String,
}

/// One approval record, once.
#[derive(Debug, Clone)]
pub(super) struct ApprovalEvent {
    pub approver: String,
    pub verdict: Verdict,
    pub unit: String,
    /// When it was given: serve's receipt, or the CLI record's `issued_at`; `None` when the
    /// log does not say.
    pub time: Option<Timestamp>,
}

/// Everything read, in log order.
#[derive(Debug, Default)]
pub(super) struct Events {
    pub decisions: Vec<DecisionEvent>,
    pub approvals: Vec<ApprovalEvent>,
    pub records: usize,
    pub repeated_approvals: usize,
    pub other_records: usize,
}

/// A line that is not a record the stats can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct StatsInputError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Events {
    /// Reads a log (JSON Lines). Blank lines are skipped; any other line that is not a JSON
    /// object with a known `kind`, or a known kind missing what the stats need, is an error:
    /// numbers from a log read only in part would mislead.
    pub fn read(text: &str) -> Result<Self, StatsInputError> {
        let mut events = Events::default();
        let mut seen = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i.saturating_add(1);
            if line.trim().is_empty() {
                continue;
            }
            let err = |message: String| StatsInputError {
                line: line_no,
                message,
            };
            let record: Value =
                crate::json::parse(line).map_err(|e| err(format!("not JSON: {e}")))?;
            events.records += 1;
            let kind = record.get("kind").and_then(Value::as_str).unwrap_or("");
            match kind {
                "decision" | "verification" => {
                    let decision = decision_event(&record).map_err(err)?;
                    // serve's consume record repeats the approvals its `record` events carry,
                    // which are what counts there.
                    if kind == "verification" && record.get("approval_id").is_none() {
                        for approval in &cli_approvals(&record, &decision).map_err(err)? {
                            events.push_approval(&mut seen, approval.0.clone(), approval.1.clone());
                        }
                    }
                    events.decisions.push(decision);
                }
                "record" => {
                    let (key, approval) = serve_record(&record).map_err(err)?;
                    events.push_approval(&mut seen, key, approval);
                }
                _ => events.other_records += 1,
            }
        }
        Ok(events)
    }

    fn push_approval(&mut self, seen: &mut BTreeSet<String>, key: String, event: ApprovalEvent) {
        if seen.insert(key) {
            self.approvals.push(event);
        } else {
            self.repeated_approvals += 1;
        }
    }
}

fn text<'a>(v: &'a Value, field: &str) -> Result<&'a str, String> {
    v.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{field}` must be a string"))
}

fn time(v: &Value, field: &str) -> Result<Timestamp, String> {
    text(v, field)?
        .parse()
        .map_err(|e| format!("`{field}`: {e}"))
}

fn decision_event(record: &Value) -> Result<DecisionEvent, String> {
    let decision = record.get("decision").ok_or("`decision` is missing")?;
    let tier: Tier = text(decision, "tier")?
        .parse()
        .map_err(|e| format!("`decision.tier`: {e}"))?;
    let request_hash = text(record, "request_hash")?.to_string();
    let determining = decision
        .get("determining")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|d| {
                    let id = d.get("id")?.as_str()?.to_string();
                    let tier = d.get("tier")?.as_str()?.parse().ok()?;
                    Some((id, tier))
                })
                .collect()
        })
        .unwrap_or_default();
    let unit = record
        .pointer("/approval/id")
        .or_else(|| record.get("approval_id"))
        .and_then(Value::as_str)
        .map_or_else(|| request_hash.clone(), str::to_string);
    Ok(DecisionEvent {
        time: time(record, "time")?,
        request_hash,
        approvals_required: match tier {
            Tier::Single => 1,
            Tier::Dual => 2,
            Tier::Auto | Tier::Deny => 0,
        },
        tier,
        determining,
        unit,
    })
}

fn verdict(v: &Value) -> Result<Verdict, String> {
    match text(v, "decision")? {
        "approve" => Ok(Verdict::Approve),
        "reject" => Ok(Verdict::Reject),
        other => Err(format!(
            "`decision` must be approve or reject, not `{other}`"
        )),
    }
}

/// The approvals a CLI `verification` record lists, each with its key.
fn cli_approvals(
    record: &Value,
    decision: &DecisionEvent,
) -> Result<Vec<(String, ApprovalEvent)>, String> {
    let Some(list) = record.get("approvals").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|a| {
            let approver = text(a, "approver")?.to_string();
            let verdict = verdict(a)?;
            let time = match a.get("issued_at").and_then(Value::as_str) {
                Some(t) => Some(t.parse().map_err(|e| format!("`issued_at`: {e}"))?),
                None => None,
            };
            let key = match a.get("signature").and_then(Value::as_str) {
                Some(sig) => format!("sig:{sig}"),
                None => format!("old:{}|{approver}|{verdict:?}", decision.request_hash),
            };
            Ok((
                key,
                ApprovalEvent {
                    approver,
                    verdict,
                    unit: decision.unit.clone(),
                    time,
                },
            ))
        })
        .collect()
}

/// The signed record a serve `record` event carries, received at the event's time.
fn serve_record(event: &Value) -> Result<(String, ApprovalEvent), String> {
    let record = event.get("record").ok_or("`record` is missing")?;
    let approver = text(record, "approver")?.to_string();
    let verdict = verdict(record)?;
    let unit = text(event, "approval_id")?.to_string();
    let key = match record.get("signature").and_then(Value::as_str) {
        Some(sig) => format!("sig:{sig}"),
        None => format!("unsigned:{unit}|{approver}|{verdict:?}"),
    };
    Ok((
        key,
        ApprovalEvent {
            approver,
            verdict,
            unit,
            time: Some(time(event, "time")?),
        },
    ))
}
