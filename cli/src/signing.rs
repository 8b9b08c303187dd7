//! What `tollgate approve` and `tollgate approvals approve|reject` share: the approver's key, the
//! record's validity, what the human is shown before signing, and the confirmation. One copy, so
//! the local and the server flow sign the same way.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write as _};
use std::path::Path;

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::Value;
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord};
use tollgate_engine::keys::PrivateKey;
use tollgate_engine::{EntityRef, ProposedAction, Timestamp};

use crate::io::{eprint, read_key_file};
use crate::render::decision::{DecisionView, view_text};
use crate::render::shown_display;

/// The approver's private key from `path`; refused when the file names another approver.
pub fn approver_key(path: &Path, approver: &EntityRef) -> miette::Result<PrivateKey> {
    let key = read_key_file(path)?;
    if let Some(owner) = &key.approver
        && owner != approver
    {
        return Err(miette!("--key belongs to {owner}, not {approver}"));
    }
    Ok(key.key)
}

/// `issued_at + ttl_seconds` (the ttl is capped at 24h by its parser).
pub fn expiry(issued_at: Timestamp, ttl_seconds: i64) -> miette::Result<Timestamp> {
    Timestamp::from_offset_date_time(
        issued_at.as_offset_date_time() + time::Duration::seconds(ttl_seconds),
    )
    .map_err(|e| miette!("--ttl: {e}"))
}

/// One record about to be signed, and what the human is shown of it.
pub struct Signing<'a> {
    /// Approve or reject.
    pub kind: ApprovalDecision,
    /// Who signs.
    pub approver: &'a EntityRef,
    /// Issue time.
    pub issued_at: Timestamp,
    /// End of validity.
    pub expires_at: Timestamp,
    /// Evidence, when any.
    pub evidence: Option<String>,
    /// The request, parsed here: its hash is what is signed.
    pub request: &'a ProposedAction,
    /// The agent's recommendation, when any.
    pub recommendation: Option<&'a Value>,
    /// The request's decision.
    pub decision: &'a DecisionView,
    /// More lines to show before the decision (a server's state, age and approvals so far).
    pub notes: Vec<String>,
}

impl Signing<'_> {
    /// What the approver is about to sign. Every field comes from a request, a pack or a server:
    /// context and recommendation are shown as JSON, and every field is escaped, so control
    /// characters never reach the terminal.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let verb = match self.kind {
            ApprovalDecision::Approve => "approve",
            ApprovalDecision::Reject => "reject",
        };
        let _ = writeln!(
            out,
            "About to sign: {verb} as {}",
            shown_display(self.approver)
        );
        if self.kind == ApprovalDecision::Approve {
            let _ = writeln!(out, "  valid until {}", self.expires_at);
        }
        out.push_str(&request_text(self.request, self.recommendation));
        for note in &self.notes {
            let _ = writeln!(out, "{note}");
        }
        let _ = write!(out, "Tier {}", view_text(self.decision));
        out
    }

    /// The signed record, over the request's hash as computed here.
    pub fn sign(self, key: &PrivateKey) -> ApprovalRecord {
        ApprovalRecord::new(
            self.request.hash(),
            self.approver.clone(),
            self.kind,
            self.issued_at,
            self.expires_at,
            self.evidence,
        )
        .signed_by(key)
    }
}

/// The request (hash, principal, action, resource, context) and the recommendation, for people.
pub fn request_text(request: &ProposedAction, recommendation: Option<&Value>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Request {}", request.hash());
    let _ = writeln!(out, "  principal {}", shown_display(&request.principal));
    let _ = writeln!(out, "  action    {}", shown_display(&request.action));
    let _ = writeln!(out, "  resource  {}", shown_display(&request.resource));
    let context = Value::Object(request.context.clone());
    let _ = writeln!(out, "  context   {}", shown_display(&context));
    match recommendation.filter(|r| !r.is_null()) {
        Some(r) => {
            let _ = writeln!(out, "Agent's recommendation: {}", shown_display(r));
        }
        None => {
            let _ = writeln!(out, "Agent's recommendation: none given");
        }
    }
    out
}

/// Asks on the terminal; refuses to guess when stdin is not one (`command` names who asks).
pub fn confirmed(command: &str) -> miette::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(miette!(
            "stdin is not a terminal, so {command} cannot ask for confirmation: check the request shown above and pass --yes to sign it; nothing signed"
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
