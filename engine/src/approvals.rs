//! Signed approval records and their verification against a decision.
//!
//! A record counts only if it is for this request's hash, its Ed25519 signature verifies
//! against its approver's key and the approver is a person (`@human`). An approve must also come
//! from someone who is neither the requester nor anyone the requester acts for, be in date, and
//! come from an approver the pack deems eligible. A reject counts from an eligible person or from
//! the requester and anyone it acts for (an owner can always stop their own agent), whatever its
//! dates: stopping an action must never be harder than allowing it. Anyone who can write the
//! approvals file (the agent included) can add lines, but without an approver's private key those
//! lines count for nothing; what it *can* do is delete lines, rejects included, which is why that
//! file must not be writable by the agent.

use std::collections::{BTreeSet, HashSet};

use cedar_policy::{EntityUid, EvalResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::canonical::{Sha256Digest, to_canonical_json};
use crate::decide::{Decision, InputError, PreparedEntities};
use crate::keys::{Keyring, PrivateKey};
use crate::pack::Pack;
use crate::request::{EntityRef, ProposedAction};
use crate::tier::Tier;
use crate::timestamp::Timestamp;

/// The longest an approval may be valid: longer would be standing privilege, not an approval.
pub const MAX_APPROVAL_TTL_SECONDS: i64 = 24 * 60 * 60;

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalDecision {
    /// The human approves the request.
    Approve,
    /// The human rejects it: a counted reject denies, whatever the tier.
    Reject,
}

/// One approval record, as read from a JSON line (or made by [`ApprovalRecord::new`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// Hash of the request approved.
    pub request: Sha256Digest,
    /// Who approves.
    pub approver: EntityRef,
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// When the human decided.
    pub issued_at: Timestamp,
    /// When an approve stops counting.
    pub expires_at: Timestamp,
    /// Why (required for a reject).
    pub evidence: Option<String>,
    /// `ed25519:<b64>` over the canonical record without this field.
    pub signature: Option<String>,
    /// The canonical JSON that was (or is to be) signed.
    signed: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordJson {
    request: String,
    approver: String,
    decision: ApprovalDecision,
    issued_at: String,
    expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

/// A record that is malformed: an input error, never silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("approvals line {line}: {message}")]
pub struct RecordError {
    /// 1-based line number in the approvals file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ApprovalRecord {
    /// An unsigned record; sign it with [`ApprovalRecord::signed_by`].
    pub fn new(
        request: Sha256Digest,
        approver: EntityRef,
        decision: ApprovalDecision,
        issued_at: Timestamp,
        expires_at: Timestamp,
        evidence: Option<String>,
    ) -> Self {
        let mut record = Self {
            request,
            approver,
            decision,
            issued_at,
            expires_at,
            evidence,
            signature: None,
            signed: String::new(),
        };
        record.signed = to_canonical_json(&record.to_json_without_signature()).unwrap_or_default();
        record
    }

    /// The record signed with `key`.
    pub fn signed_by(mut self, key: &PrivateKey) -> Self {
        self.signature = Some(key.sign(self.signed.as_bytes()));
        self
    }

    fn to_json_without_signature(&self) -> Value {
        let mut v = json!({
            "request": self.request.to_string(),
            "approver": self.approver.to_string(),
            "decision": self.decision,
            "issued_at": self.issued_at.to_rfc3339(),
            "expires_at": self.expires_at.to_rfc3339(),
        });
        if let (Some(e), Some(obj)) = (&self.evidence, v.as_object_mut()) {
            obj.insert("evidence".into(), Value::String(e.clone()));
        }
        v
    }

    /// The record as one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        let mut v = self.to_json_without_signature();
        if let (Some(s), Some(obj)) = (&self.signature, v.as_object_mut()) {
            obj.insert("signature".into(), Value::String(s.clone()));
        }
        v.to_string()
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> &[u8] {
        self.signed.as_bytes()
    }

    /// Parses one JSON line. `line` is used in error messages.
    pub fn parse(text: &str, line: usize) -> Result<Self, RecordError> {
        let err = |message: String| RecordError { line, message };
        let value: Value = crate::json::parse(text).map_err(|e| err(e.message()))?;
        let mut unsigned = value.clone();
        if let Some(obj) = unsigned.as_object_mut() {
            obj.remove("signature");
        }
        let raw: RecordJson = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
        let request = raw
            .request
            .parse()
            .map_err(|e| err(format!("`request`: {e}")))?;
        let approver = raw
            .approver
            .parse::<EntityRef>()
            .map_err(|e| err(format!("`approver`: {e}")))?;
        let issued_at = raw
            .issued_at
            .parse()
            .map_err(|e| err(format!("`issued_at`: {e}")))?;
        let expires_at = raw
            .expires_at
            .parse()
            .map_err(|e| err(format!("`expires_at`: {e}")))?;
        if raw.decision == ApprovalDecision::Reject
            && raw.evidence.as_deref().is_none_or(|e| e.trim().is_empty())
        {
            return Err(err("a reject needs `evidence` (why it was rejected)".into()));
        }
        // The signature covers the record as written, so a verifier in any language checks
        // the same bytes whatever spelling of timestamps the signer used.
        let signed = to_canonical_json(&unsigned).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            request,
            approver,
            decision: raw.decision,
            issued_at,
            expires_at,
            evidence: raw.evidence,
            signature: raw.signature,
            signed,
        })
    }
}

/// Parses a JSON Lines file of records; blank lines are skipped.
pub fn parse_approvals(text: &str) -> Result<Vec<ApprovalRecord>, RecordError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| ApprovalRecord::parse(l, i + 1))
        .collect()
}

/// What the approvals add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action may proceed.
    Allowed,
    /// More approvals are needed.
    Pending,
    /// The action must not proceed (deny tier, or a counted reject).
    Denied,
}

impl Outcome {
    /// `allowed`, `pending` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Pending => "pending",
            Outcome::Denied => "denied",
        }
    }
}

/// The verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordVerdict {
    /// The approver as written in the record.
    pub approver: String,
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// Whether it counted.
    pub counted: bool,
    /// Why it counted or did not.
    pub why: String,
    /// The record's evidence, for the audit trail.
    #[serde(skip)]
    pub evidence: Option<String>,
}

/// The result of verifying approvals for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Allowed, pending or denied.
    pub outcome: Outcome,
    /// The request's tier.
    pub tier: Tier,
    /// Approvals still needed: 0 when allowed, `null` when denied.
    pub missing: Option<u8>,
    /// The request hash.
    pub request: Sha256Digest,
    /// One verdict per record, in file order.
    pub records: Vec<RecordVerdict>,
    /// Set when the audit log turned an `allowed` into `denied`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by_log: Option<LogDenial>,
    /// The decision the approvals were checked against.
    #[serde(skip)]
    pub decision: Decision,
}

/// Verification could not be carried out: an input error, never an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request does not fit the pack.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Without a schema tollgate cannot tell people from agents.
    #[error(
        "verifying approvals needs the schema: it marks which entity types are people (@human)"
    )]
    NoSchema,
    /// The principal or an approver is missing from the entities.
    #[error(
        "{0} is not in the entities: its type, acting_for and groups decide whether approvals count"
    )]
    MissingEntity(String),
    /// The principal's `acting_for` or the delegation's `granted_by` is not an entity reference.
    #[error("{0}")]
    BadDelegation(String),
}

/// Checks `approvals` for `request` at `at`.
pub fn verify(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    approvals: &[ApprovalRecord],
    keyring: &Keyring,
    at: Timestamp,
) -> Result<Verification, VerifyError> {
    let schema = pack.schema().ok_or(VerifyError::NoSchema)?;
    let decision = pack.decide(request, entities, at)?;
    let excluded = acting_for(entities, request)?;
    let hash = request.hash();

    let mut verdicts = Vec::new();
    let mut approvers_counted: HashSet<String> = HashSet::new();
    let mut approvals_counted: u8 = 0;
    let mut rejected = false;
    for record in approvals {
        let why = check_record(
            pack, entities, request, &decision, schema, keyring, &excluded, record, at,
        )?;
        let why = match why {
            Err(why) => Err(why),
            Ok(()) if record.decision == ApprovalDecision::Approve
                && !approvers_counted.insert(record.approver.to_string()) =>
            {
                Err("duplicate: this approver already counted; dual control needs two different people".into())
            }
            Ok(()) => Ok(()),
        };
        let counted = why.is_ok();
        if counted {
            match record.decision {
                ApprovalDecision::Approve => {
                    approvals_counted = approvals_counted.saturating_add(1)
                }
                ApprovalDecision::Reject => rejected = true,
            }
        }
        verdicts.push(RecordVerdict {
            approver: record.approver.to_string(),
            decision: record.decision,
            counted,
            why: why.err().unwrap_or_else(|| match record.decision {
                ApprovalDecision::Approve => "counted".into(),
                ApprovalDecision::Reject => "counted: a reject denies the request".into(),
            }),
            evidence: record.evidence.clone(),
        });
    }

    let (outcome, missing) = match decision.approvals_required {
        None => (Outcome::Denied, None),
        Some(_) if rejected => (Outcome::Denied, None),
        Some(required) if approvals_counted >= required => (Outcome::Allowed, Some(0)),
        Some(required) => (Outcome::Pending, Some(required - approvals_counted)),
    };
    Ok(Verification {
        outcome,
        tier: decision.tier,
        missing,
        request: hash,
        records: verdicts,
        denied_by_log: None,
        decision,
    })
}

/// Why the audit log denies a request the approvals file would allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogDenial {
    /// The log shows the request allowed before: approvals are single use.
    AlreadyUsed,
    /// The log shows a counted reject of the request: a reject stays even if its line is later
    /// removed from the approvals file.
    RejectedBefore,
}

impl LogDenial {
    /// For people: what the log showed.
    pub fn as_str(self) -> &'static str {
        match self {
            LogDenial::AlreadyUsed => {
                "already used: the audit log shows this request allowed before (approvals are single use)"
            }
            LogDenial::RejectedBefore => {
                "rejected before: the audit log shows a counted reject of this request"
            }
        }
    }
}

impl Verification {
    /// Applies what the audit log showed: an `allowed` becomes `denied`. Pending and denied stay
    /// as they are (the log never loosens an outcome).
    pub fn deny_from_log(&mut self, why: LogDenial) {
        if self.outcome == Outcome::Allowed {
            self.outcome = Outcome::Denied;
            self.missing = None;
            self.denied_by_log = Some(why);
        }
    }
}

/// `Ok(Ok(()))` when the record counts, `Ok(Err(why))` when it does not, `Err` on bad input.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the inputs are the verification's own"
)]
fn check_record(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    decision: &Decision,
    schema: &crate::schema::PackSchema,
    keyring: &Keyring,
    excluded: &BTreeSet<EntityUid>,
    record: &ApprovalRecord,
    at: Timestamp,
) -> Result<Result<(), String>, VerifyError> {
    if record.request != request.hash() {
        return Ok(Err(format!("for another request ({})", record.request)));
    }
    let Some(key) = keyring.get(&record.approver) else {
        return Ok(Err("approver has no key in the keyring".into()));
    };
    let Some(signature) = &record.signature else {
        return Ok(Err("unsigned".into()));
    };
    if !key.verifies(record.signed_bytes(), signature) {
        return Ok(Err(
            "signature does not verify against the approver's key".into()
        ));
    }
    let approver = record.approver.uid();
    if entities.cedar().get(approver).is_none() {
        return Err(VerifyError::MissingEntity(format!("approver {approver}")));
    }
    if !schema.is_human_type(&record.approver.type_name()) {
        return Ok(Err(format!(
            "approver type {} is not a person (@human)",
            record.approver.type_name()
        )));
    }
    if record.decision == ApprovalDecision::Reject {
        return check_reject(pack, entities, request, decision, excluded, record, at);
    }
    if approver == request.principal.uid() {
        return Ok(Err("approver is the requester".into()));
    }
    if excluded.contains(approver) {
        return Ok(Err(
            "the requester acts for this approver (acting_for or delegation)".into(),
        ));
    }
    if record.issued_at > at {
        return Ok(Err(format!("issued in the future ({})", record.issued_at)));
    }
    let lifetime = record.expires_at.as_offset_date_time() - record.issued_at.as_offset_date_time();
    if lifetime.whole_seconds() <= 0 || lifetime.whole_seconds() > MAX_APPROVAL_TTL_SECONDS {
        return Ok(Err(
            "validity is not between 0 and 24 hours after issued_at".into(),
        ));
    }
    if at >= record.expires_at {
        return Ok(Err(format!("expired at {}", record.expires_at)));
    }
    eligible(pack, entities, request, decision.tier, &record.approver, at)
}

/// A signed reject from a person counts whatever its `issued_at` and `expires_at`: from the
/// requester or anyone it acts for (they may always stop their own agent), or from an eligible
/// approver. Dates only ever narrow what an approve allows; on a reject they would let a stale
/// clock or a short validity silently turn a "no" into nothing.
fn check_reject(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    decision: &Decision,
    excluded: &BTreeSet<EntityUid>,
    record: &ApprovalRecord,
    at: Timestamp,
) -> Result<Result<(), String>, VerifyError> {
    let approver = record.approver.uid();
    if approver == request.principal.uid() || excluded.contains(approver) {
        return Ok(Ok(()));
    }
    eligible(pack, entities, request, decision.tier, &record.approver, at)
}

/// Eligibility is a decision: `auto` for (approver, approve, the request's resource).
fn eligible(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    tier: Tier,
    approver: &EntityRef,
    at: Timestamp,
) -> Result<Result<(), String>, VerifyError> {
    let action_type = request.action.type_name();
    let approve = EntityRef::from_json(&json!({"type": action_type, "id": "approve"}), "action")
        .map_err(|e| VerifyError::Input(e.into()))?;
    let mut context = Map::new();
    context.insert(
        "requested_action".into(),
        Value::String(request.action.id().to_string()),
    );
    context.insert("tier".into(), Value::String(tier.as_str().to_string()));
    let check = ProposedAction::new(approver.clone(), approve, request.resource.clone(), context)
        .map_err(|e| VerifyError::Input(e.into()))?;
    Ok(match pack.decide(&check, entities, at) {
        Ok(d) if d.tier == Tier::Auto => Ok(()),
        Ok(d) => Err(format!(
            "not eligible to approve {} (eligibility decided {})",
            request.action, d.tier
        )),
        Err(e) => Err(format!("not eligible: the eligibility check failed ({e})")),
    })
}

/// Everyone the principal acts for: its entity's `acting_for` and the delegation's `granted_by`.
fn acting_for(
    entities: &PreparedEntities,
    request: &ProposedAction,
) -> Result<BTreeSet<EntityUid>, VerifyError> {
    let principal = request.principal.uid();
    let entity = entities
        .cedar()
        .get(principal)
        .ok_or_else(|| VerifyError::MissingEntity(format!("principal {principal}")))?;
    let mut out = BTreeSet::new();
    let bad = |what: &str| VerifyError::BadDelegation(format!("{principal}: `acting_for` {what}"));
    match entity.attr("acting_for") {
        None => {}
        Some(Err(e)) => return Err(bad(&e.to_string())),
        Some(Ok(EvalResult::EntityUid(uid))) => {
            out.insert(uid);
        }
        Some(Ok(EvalResult::Set(set))) => {
            for item in set.iter() {
                match item {
                    EvalResult::EntityUid(uid) => {
                        out.insert(uid.clone());
                    }
                    _ => return Err(bad("must hold only entities")),
                }
            }
        }
        Some(Ok(_)) => return Err(bad("must be an entity or a set of entities")),
    }
    if let Some(by) = request
        .context
        .get("delegation")
        .and_then(|d| d.get("granted_by"))
    {
        let by = EntityRef::from_json(by, "context.delegation.granted_by")
            .map_err(|e| VerifyError::BadDelegation(e.to_string()))?;
        out.insert(by.uid().clone());
    }
    Ok(out)
}
