use crate::Decision;
use crate::PolicyId;
use crate::Tier;

use crate::lint::finding::{Location, Origin, Related, Span};
use crate::lint::workflow::WorkflowFile;
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Decides every step of each workflow (`<policies>/workflows/*.yaml`) with the pack, and
    /// reports a step whose action is `@privilege_expansion` (itself or through a group) that runs `auto` while a later
    /// step of the same workflow needs one or two human approvals.
    ///
    /// ## Why is this bad?
    /// The human gate sits after the point where the agent's privileges grew. By the time a
    /// person is asked to approve the later step, the agent already holds the new token scope,
    /// session, identity, access grant or delegation, and can use it for anything else.
    ///
    /// ## Example
    /// ```cedar
    /// @id("token-scope-auto") @tier("auto")
    /// permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
    /// @id("deploy-prod") @tier("dual")
    /// permit (principal is Agent, action == Action::"deploy", resource is Environment);
    /// ```
    /// with the workflow `add_token_scope` → `deploy`: the scope is added with no human, and
    /// only the deploy is gated. Gate the expansion instead:
    /// ```cedar
    /// @id("token-scope-single") @tier("single")
    /// permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
    /// ```
    pub struct GateAfterExpansion {
        id: RuleId::GateAfterExpansion,
        severity: Severity::Error,
        summary: "A workflow's privilege-expanding step runs with no human before a later step that needs approval",
        controls: [Control::OwaspAgenticA01, Control::MaestroGov2, Control::NistAiRmf],
    }
}

impl GateAfterExpansion {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for run in cx.workflows() {
            let file = run.file;
            for (i, d) in run.decisions.iter().enumerate() {
                let Some(step) = file.workflow.steps.get(i) else {
                    continue;
                };
                let action = crate::EntityRef::from_json(&step.action, "action");
                if d.tier != Tier::Auto || !action.is_ok_and(|a| cx.schema().is_expansion(&a)) {
                    continue;
                }
                let later: Vec<(usize, &Decision)> = run
                    .decisions
                    .iter()
                    .enumerate()
                    .skip(i + 1)
                    .filter(|(_, l)| matches!(l.tier, Tier::Single | Tier::Dual))
                    .collect();
                let Some(&(j, gated)) = later.first() else {
                    continue;
                };
                out.push(self.finding(cx, file, (i, d), (j, gated), later.len() - 1));
            }
        }
        out
    }

    fn finding(
        &self,
        cx: &LintContext<'_>,
        file: &WorkflowFile,
        (i, expansion): (usize, &Decision),
        (j, gated): (usize, &Decision),
        more: usize,
    ) -> Finding {
        let describe = |k: usize| {
            file.workflow
                .steps
                .get(k)
                .map(|s| {
                    format!(
                        "step {} (`{}` on `{}`)",
                        k + 1,
                        step_action(s),
                        show(&s.resource)
                    )
                })
                .unwrap_or_default()
        };
        let ids = |d: &Decision| -> Vec<String> {
            d.determining
                .iter()
                .map(|p| format!("`{}`", p.id))
                .collect()
        };
        let needs = match gated.tier {
            Tier::Dual => "dual approval",
            _ => "single approval",
        };
        let message = format!(
            "in workflow `{}`, {} expands privilege and runs `auto` (allowed by {}), but {} later needs {} (set by {}){}: the human gate comes after the privilege is already granted",
            file.workflow.name,
            describe(i),
            ids(expansion).join(", "),
            describe(j),
            needs,
            ids(gated).join(", "),
            match more {
                0 => String::new(),
                n => format!(
                    ", as do {n} more later step{}",
                    if n == 1 { "" } else { "s" }
                ),
            },
        );
        let policies = expansion
            .determining
            .iter()
            .chain(&gated.determining)
            .map(|p| PolicyId::new(p.id.clone()));
        let step_location = |k: usize| {
            let (offset, len) = file.step_span(k);
            Location {
                origin: Origin::Workflow,
                file: file.source.name.clone(),
                span: Span::in_text(&file.source.text, offset, len),
            }
        };
        let mut related = vec![Related {
            location: step_location(j),
            message: format!("{} needs {needs} here", describe(j)),
        }];
        for (d, what) in [
            (expansion, "allows the expansion with no human"),
            (gated, "sets the later gate"),
        ] {
            for p in &d.determining {
                if let Some((info, _)) = cx.facts_of(&p.id) {
                    related.push(cx.related(info, format!("`{}` {what}", p.id)));
                }
            }
        }
        Finding::new(
            self,
            step_location(i),
            message,
            "require approval on the privilege-expanding step itself (a `single`/`dual` permit or a gate on its action), so the human decides before the privilege exists",
        )
        .with_policies(policies)
        .with_related(related)
    }
}

fn step_action(step: &crate::lint::workflow::WorkflowStep) -> String {
    crate::EntityRef::from_json(&step.action, "action")
        .map(|a| a.to_string())
        .unwrap_or_else(|_| show(&step.action))
}

fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
