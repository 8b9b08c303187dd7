use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::PolicyInfo;
use crate::PolicyRole;
use crate::schema::AttrType;

use crate::lint::expr::{all_nodes, get_attr, is_literal, node, var};
use crate::lint::scope::PolicyFacts;
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a policy that passes strict validation but can still error when evaluated:
    /// - integer arithmetic (`+`, `-`, `*`, negation) on a value that is not a literal, which
    ///   errors on 64-bit overflow;
    /// - an extension constructor (`decimal`, `ip`, `datetime`, `duration`) on input that is
    ///   not a literal, which errors when the input does not parse, and `offset` /
    ///   `durationSince`, which error on overflow;
    /// - reading an attribute of an entity other than the request's principal and resource (an
    ///   entity literal, or one reached through the context or another attribute), which errors
    ///   when that entity is missing from the entity data.
    ///
    /// Each finding says what fail-closed then makes of the error.
    ///
    /// ## Why is this bad?
    /// Cedar skips a policy whose evaluation errors; tollgate fails closed instead (an erroring
    /// permit grants nothing, an erroring gate requires its approvals, an erroring forbid
    /// denies). That is safe, but it is not the decision the author wrote: requests that should
    /// run automatically wait for humans or are denied, and every error shows in the decision.
    ///
    /// ## Example
    /// ```cedar
    /// @id("small-batch-auto") @tier("auto")
    /// permit (principal is Agent, action == Action::"deploy", resource)
    /// when { context.batch * 1000 < 50000 };
    /// ```
    /// Compare without arithmetic: `context.batch < 50`.
    pub struct MayError {
        id: RuleId::MayError,
        severity: Severity::Warning,
        summary: "A policy that validates can still error at run time",
        controls: [Control::NistAiRmf],
    }
}

/// One way a policy can error, with the text to point at.
struct Hazard {
    what: String,
    needle: String,
}

impl MayError {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (p, facts) in cx.policies() {
            if cx.is_invalid(p.id()) {
                continue;
            }
            let mut seen = BTreeSet::new();
            for hazard in hazards(cx, facts) {
                if !seen.insert(hazard.what.clone()) {
                    continue;
                }
                let text = cx.text_of(p);
                let span = text
                    .in_body(&hazard.needle)
                    .or_else(|| text.condition_keyword("when"))
                    .or_else(|| text.condition_keyword("unless"))
                    .unwrap_or_else(|| text.head());
                out.push(
                    Finding::new(
                        self,
                        cx.at(p.file(), span),
                        format!("policy `{}` may error at run time: {}; {}", p.id(), hazard.what, fail_closed(p)),
                        "guard the expression (compare literals, check `has` first, keep integers small), or accept the fail-closed outcome knowingly",
                    )
                    .with_policies([p.id().clone()]),
                );
            }
        }
        out
    }
}

/// What fail-closed does with an error in `p`.
fn fail_closed(p: &PolicyInfo) -> String {
    match p.role() {
        PolicyRole::Permit(t) => format!(
            "if it errors, this `{t}` permit grants nothing (fail-closed), so the request falls to a stricter tier or deny"
        ),
        PolicyRole::Gate(t) => format!(
            "if it errors, this gate counts as satisfied (fail-closed): `{t}` approval is required"
        ),
        PolicyRole::Forbid => {
            "if it errors, this forbid counts as satisfied (fail-closed): the request is denied"
                .to_string()
        }
    }
}

fn hazards(cx: &LintContext<'_>, facts: &PolicyFacts) -> Vec<Hazard> {
    let mut out = Vec::new();
    for e in all_nodes(&facts.conditions) {
        let Some((op, operands)) = node(e) else {
            continue;
        };
        match (op, operands) {
            ("+" | "-" | "*", Value::Object(o)) => {
                let lit = |k| o.get(k).is_some_and(is_literal);
                if !(lit("left") && lit("right")) {
                    out.push(Hazard {
                        what: format!(
                            "integer arithmetic (`{op}`) on a non-literal value can overflow"
                        ),
                        needle: op.to_string(),
                    });
                }
            }
            ("neg", Value::Object(o)) if !o.get("arg").is_some_and(is_literal) => {
                out.push(Hazard {
                    what: "negating a non-literal value can overflow".into(),
                    needle: "-".into(),
                });
            }
            ("decimal" | "ip" | "datetime" | "duration", Value::Array(args))
                if !args.iter().all(is_literal) =>
            {
                out.push(Hazard {
                    what: format!(
                        "`{op}(...)` on a non-literal input errors when the input does not parse"
                    ),
                    needle: format!("{op}("),
                });
            }
            ("offset" | "durationSince", Value::Array(_)) => out.push(Hazard {
                what: format!("`.{op}(...)` errors when the result overflows"),
                needle: format!(".{op}("),
            }),
            (".", _) => {
                if let Some((left, attr)) = get_attr(e)
                    && !matches!(var(left), Some("principal" | "resource"))
                    && let Ty::Entity(types) = type_of(cx, facts, left)
                {
                    out.push(Hazard {
                        what: format!(
                            "reading `{attr}` of a {} entity other than the request's principal or resource errors when that entity is missing from the entity data",
                            types.into_iter().collect::<Vec<_>>().join("/")
                        ),
                        needle: format!(".{attr}"),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The type of an expression as far as entity-ness goes.
enum Ty {
    Entity(BTreeSet<String>),
    Record(BTreeMap<String, AttrType>),
    Other,
}

impl Ty {
    fn of(t: &AttrType) -> Self {
        match t {
            AttrType::Entity(name) => Ty::Entity(BTreeSet::from([name.clone()])),
            AttrType::Record(attrs) => Ty::Record(attrs.clone()),
            AttrType::Set(_) | AttrType::Extension(_) | AttrType::Other => Ty::Other,
        }
    }
}

fn type_of(cx: &LintContext<'_>, facts: &PolicyFacts, e: &Value) -> Ty {
    match var(e) {
        Some("principal") => return Ty::Entity(facts.principal_types.clone()),
        Some("resource") => return Ty::Entity(facts.resource_types.clone()),
        Some("context") => {
            let mut merged = BTreeMap::new();
            for a in &facts.actions {
                if let Some(attrs) = cx.schema().context_type(a) {
                    merged.extend(attrs.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            return Ty::Record(merged);
        }
        _ => {}
    }
    if let Some(("Value", v)) = node(e)
        && let Some(ty) = v
            .get("__entity")
            .and_then(|u| u.get("type"))
            .and_then(Value::as_str)
    {
        return Ty::Entity(BTreeSet::from([ty.to_string()]));
    }
    let Some((left, attr)) = get_attr(e) else {
        return Ty::Other;
    };
    match type_of(cx, facts, left) {
        Ty::Record(attrs) => attrs.get(attr).map_or(Ty::Other, Ty::of),
        Ty::Entity(types) => types
            .iter()
            .filter_map(|t| cx.schema().entity_shape(t).and_then(|s| s.get(attr)))
            .next()
            .map_or(Ty::Other, Ty::of),
        Ty::Other => Ty::Other,
    }
}
