//! Exact results as lint findings, and how they take the place of the scope-level ones.
//!
//! With `--smt`, `ungated-expansion` and `self-approval` are answered exactly: a proof
//! removes the scope rule's "may" finding, a confirmed counterexample becomes an error finding
//! that carries the request, and an unknown is an error finding too (never "safe").

use tollgate_engine::analysis::head_location;
use tollgate_engine::lint::{Finding, Location, Origin, RuleId, Severity, Span};
use tollgate_engine::{CalendarDate, Pack, PolicyInfo, PolicyRole, Tier};

use crate::SmtError;
use crate::check::{Check, ExactResult, Semantics, Verdict};
use crate::expansion::{self_approval, ungated_expansion};
use crate::session::Session;

/// What `lint --smt` found: findings for the rules it answers exactly.
#[derive(Debug, Clone)]
pub struct ExactLint {
    /// The exact findings (found and unknown), one per request environment.
    pub findings: Vec<ExactFinding>,
    /// Every result, proved ones included, for reports and timings.
    pub results: Vec<ExactResult>,
    /// The scope rules these findings replace.
    pub replaces: Vec<RuleId>,
}

/// One exact finding, with the action its environment is about.
#[derive(Debug, Clone)]
pub struct ExactFinding {
    /// The action, e.g. `Action::"add_token_scope"`.
    pub action: String,
    /// The finding.
    pub finding: Finding,
}

/// Runs the exact checks on `pack` (strictly loaded) and turns them into findings.
///
/// `self-approval` is replaced only when the schema lets some non-`@human` type be the
/// principal of `approve`: then the exact check answers for every such type. When it lets
/// none, there is nothing to solve, and the scope rule's warnings about blanket `auto`
/// permits (which would cover `approve` were the schema to change) stand.
pub fn exact_lint(
    session: &mut Session,
    pack: &Pack,
    today: CalendarDate,
) -> Result<ExactLint, SmtError> {
    let mut results = ungated_expansion(session, pack, today)?;
    let approval = self_approval(session, pack, today)?;
    let mut replaces = vec![RuleId::UngatedExpansion];
    if !approval.is_empty() {
        replaces.push(RuleId::SelfApproval);
    }
    results.extend(approval);
    let version = session.cvc5().version().to_string();
    let findings = results
        .iter()
        .filter_map(|r| {
            finding(pack, today, r, &version).map(|finding| ExactFinding {
                action: r.action.clone(),
                finding,
            })
        })
        .collect();
    Ok(ExactLint {
        findings,
        results,
        replaces,
    })
}

/// `scope` findings with those of the replaced rules swapped for the exact ones, sorted as
/// lint sorts. An unknown exact finding points where the scope rule pointed for its action,
/// when it did.
pub fn merge(scope: Vec<Finding>, exact: ExactLint) -> Vec<Finding> {
    let (replaced, mut kept): (Vec<Finding>, Vec<Finding>) = scope
        .into_iter()
        .partition(|f| exact.replaces.contains(&f.rule));
    for ExactFinding {
        action,
        finding: mut f,
    } in exact.findings
    {
        if f.counterexample.is_none()
            && let Some(s) = replaced
                .iter()
                .find(|s| s.rule == f.rule && s.message.contains(&action))
        {
            f.location = s.location.clone();
            f.policies = s.policies.clone();
        }
        kept.push(f);
    }
    kept.sort_by(|a, b| (&a.location, a.rule, &a.message).cmp(&(&b.location, b.rule, &b.message)));
    kept.dedup();
    kept
}

fn finding(pack: &Pack, today: CalendarDate, r: &ExactResult, version: &str) -> Option<Finding> {
    let rule = r.check.rule();
    // The scope rule's own controls: the exact finding answers the same question.
    let controls = tollgate_engine::lint::rule(rule)
        .map(|scope_rule| scope_rule.controls().to_vec())
        .unwrap_or_default();
    let semantics = match &r.semantics {
        Semantics::Exact => String::new(),
        Semantics::FailClosed { may_error } => format!(
            "; {} can error here and tollgate counts that as matched",
            may_error.join(", ")
        ),
        Semantics::Unchecked => {
            "; whether a forbid or gate can error here was not established".into()
        }
    };
    let (message, hint, location, policies, counterexample) = match &r.verdict {
        Verdict::Proved => return None,
        Verdict::Found(confirmed) => {
            // An `auto` decision always has an auto permit among its determining policies;
            // should it not, the finding still stands, pointed at the first auto permit.
            let determining = confirmed
                .decision
                .determining
                .iter()
                .filter_map(|d| pack.policy(d.id.as_str()))
                .find(|p| matches!(p.role(), PolicyRole::Permit(Tier::Auto)))
                .or_else(|| first_auto_permit(pack, today));
            let id = determining.map_or_else(|| "?".to_string(), |p| p.id().to_string());
            let example = confirmed.counterexample.to_json();
            let message = match r.check {
                Check::UngatedExpansion => format!(
                    "auto permit `{id}` allows privilege-expanding action `{}` on `{}` with no human: cvc5 {version} found a request (below) that the engine decides `auto`{semantics}",
                    r.action, r.resource_type
                ),
                Check::SelfApproval => format!(
                    "permit `{id}` makes a `{}` (not `@human`) an eligible approver: cvc5 {version} found a request on `{}` (below) that the engine decides `auto`{semantics}",
                    r.principal_type, r.resource_type
                ),
            };
            let hint = match r.check {
                Check::UngatedExpansion => {
                    "make the permit `single` or `dual`, add a gate covering the request, or, for a bounded routine case, mark it `@expansion_ok(\"why\")` with `@owner` and `@review_by`"
                }
                Check::SelfApproval => {
                    "restrict the permit's principal to `@human` types, or remove non-human types from `approve`'s `appliesTo`"
                }
            };
            (
                message,
                hint,
                location(pack, determining),
                determining.map(|p| p.id().clone()).into_iter().collect(),
                Some(example),
            )
        }
        Verdict::Unknown(why) => {
            let question = match r.check {
                Check::UngatedExpansion => "is ever decided `auto`",
                Check::SelfApproval => "is ever decided `auto` for a non-human approver",
            };
            let first = first_auto_permit(pack, today);
            (
                format!(
                    "`{}` on `{}` for `{}`: exact analysis could not establish whether it {question} ({why}); an unknown is never taken as safe",
                    r.action, r.resource_type, r.principal_type
                ),
                "raise --smt-timeout, simplify the conditions of the permits and gates on this action, or fix what the reason names",
                location(pack, first),
                Vec::new(),
                None,
            )
        }
    };
    Some(Finding {
        rule,
        severity: Severity::Error,
        message,
        policies,
        location,
        related: Vec::new(),
        controls,
        hint: hint.to_string(),
        counterexample,
    })
}

/// The head of `policy`, or the start of the first policy file when there is none.
fn location(pack: &Pack, policy: Option<&PolicyInfo>) -> Location {
    match policy {
        Some(p) => head_location(pack, p),
        None => {
            let text = pack
                .source()
                .policies
                .first()
                .map_or("", |f| f.text.as_str());
            Location {
                origin: Origin::Policy,
                file: pack
                    .source()
                    .policies
                    .first()
                    .map(|f| f.name.clone())
                    .unwrap_or_default(),
                span: Span::in_text(text, 0, 0),
            }
        }
    }
}

/// A place to point an unknown at when the scope rule had none: the first `auto` permit (an
/// unknown means some permit could have made the request `auto`), else the first policy.
fn first_auto_permit(pack: &Pack, today: CalendarDate) -> Option<&PolicyInfo> {
    pack.policies()
        .iter()
        .find(|p| {
            p.role() == PolicyRole::Permit(Tier::Auto)
                && !tollgate_engine::analysis::is_live_exception(p, today)
        })
        .or_else(|| pack.policies().first())
}
