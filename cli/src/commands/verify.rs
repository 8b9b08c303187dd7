//! `tollgate verify`: do the approvals on file allow the request?

use std::fmt::Write as _;

use miette::{WrapErr, miette};
use tollgate_engine::approvals::{Outcome, Verification, parse_approvals, verify};
use tollgate_engine::keys::Keyring;

use crate::audit_log::{AuditLog, record};
use crate::cli::{Format, VerifyArgs};
use crate::exit;
use crate::input::{
    evaluation_time, load_entities, load_pack, read_input, read_request_file, schema_path,
};
use crate::output::{print, println, shown, shown_display};

pub fn run(args: VerifyArgs) -> miette::Result<u8> {
    if schema_path(&args.pack).is_none() {
        return Err(miette!(
            "verify needs the schema (--schema, or a schemas/ folder): it marks which entity types are people (@human)"
        ));
    }
    let at = evaluation_time(args.at.as_deref())?;
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
        record(
            log,
            &args.audit,
            at,
            &request,
            &verification.decision,
            Some(&verification),
        )?;
    }
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&verification).map_err(|e| miette!("{e}"))?;
            println(&json)?;
        }
        Format::Text => print(&text(&verification, earlier_line))?,
    }
    Ok(match verification.outcome {
        Outcome::Allowed => exit::OK,
        Outcome::Pending => exit::PENDING,
        Outcome::Denied => exit::DENIED,
    })
}

fn text(v: &Verification, earlier_line: Option<usize>) -> String {
    let mut out = match (v.outcome, v.denied_by_log, v.missing) {
        (Outcome::Denied, Some(why), _) => format!(
            "denied (tier {}): {} (line {})\n",
            v.tier,
            why.as_str(),
            earlier_line.unwrap_or_default()
        ),
        (Outcome::Allowed, _, _) => format!("allowed (tier {})\n", v.tier),
        (Outcome::Pending, _, Some(n)) => {
            format!(
                "pending: {n} more approval{} needed (tier {})\n",
                if n == 1 { "" } else { "s" },
                v.tier
            )
        }
        (_, _, _) => format!("denied (tier {})\n", v.tier),
    };
    for r in &v.records {
        let mark = if r.counted() {
            "counted    "
        } else {
            "not counted"
        };
        let _ = writeln!(
            out,
            "  {mark} {} {}: {}",
            r.decision_str(),
            shown_display(&r.approver),
            shown(&r.why())
        );
    }
    let _ = writeln!(out, "  request {}", v.request);
    out
}

trait DecisionStr {
    fn decision_str(&self) -> &'static str;
}

impl DecisionStr for tollgate_engine::approvals::RecordVerdict {
    fn decision_str(&self) -> &'static str {
        match self.decision {
            tollgate_engine::approvals::ApprovalDecision::Approve => "approve",
            tollgate_engine::approvals::ApprovalDecision::Reject => "reject",
        }
    }
}
