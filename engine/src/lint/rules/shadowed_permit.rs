use crate::PolicyRole;

use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a permit that can never set the tier because a permit of a lower tier matches
    /// whenever it does: the lower permit's scope is the same or wider and it has no condition
    /// (or only conditions the higher permit also has).
    ///
    /// ## Why is this bad?
    /// The lowest matching permit sets the tier. A narrow `@tier("dual") permit` under a broad
    /// `@tier("single") permit` looks like it requires two approvals, but every request it
    /// matches gets `single`. To require more approvals somewhere, write a gate.
    ///
    /// ## Example
    /// ```cedar
    /// @id("secrets-single") @tier("single")
    /// permit (principal is Agent, action == Action::"read_secret", resource);
    /// @id("prod-secrets-dual") @tier("dual")
    /// permit (principal is Agent, action == Action::"read_secret", resource is Secret)
    /// when { resource.environment == "prod" };
    /// ```
    /// `prod-secrets-dual` never applies. Write it as a gate:
    /// ```cedar
    /// @id("prod-secrets-dual") @tier("dual")
    /// forbid (principal, action == Action::"read_secret", resource is Secret)
    /// when { resource.environment == "prod" };
    /// ```
    pub struct ShadowedPermit {
        id: RuleId::ShadowedPermit,
        severity: Severity::Warning,
        summary: "A permit can never set the tier: a lower-tier permit always matches too",
        controls: [Control::MaestroGov2],
    }
}

impl ShadowedPermit {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (q, q_facts) in cx.policies() {
            let PolicyRole::Permit(q_tier) = q.role() else {
                continue;
            };
            // A shadowing permit matches each of `q`'s actions, so it is among the policies on
            // any one of them: search the fewest. The first in pack order is reported, as when
            // every policy was searched.
            let Some(fewest) = q_facts.actions.iter().min_by_key(|a| cx.count_on(a)) else {
                continue;
            };
            // `p` implies `q` on every one of `q`'s actions: it matches each of them and its
            // scope and conditions cover `q`'s (the same for every action, so asked once).
            let shadowing = cx.policies_on(fewest).find(|(_, p, p_facts)| {
                matches!(p.role(), PolicyRole::Permit(t) if t < q_tier)
                    && p_facts.covers(q_facts)
                    && q_facts.actions.is_subset(&p_facts.actions)
            });
            if let Some((_, p, _)) = shadowing {
                out.push(
                    Finding::new(
                        self,
                        cx.head_of(q),
                        format!(
                            "`{}` permit `{}` can never set the tier: `{}` permit `{}` matches every request it matches, and the lowest permit wins",
                            q_tier,
                            q.id(),
                            p.tier(),
                            p.id()
                        ),
                        format!(
                            "to require `{q_tier}` approval where `{}` matches, write a gate: `@tier(\"{q_tier}\") forbid(...)` with the same scope and conditions",
                            q.id()
                        ),
                    )
                    .with_policies([q.id().clone(), p.id().clone()])
                    .with_related([cx.related(p, format!("`{}` grants `{}` first", p.id(), p.tier()))]),
                );
            }
        }
        out
    }
}
