//! The exact checks on real packs: each must find a counterexample where one exists (and the
//! engine must decide it as claimed) and prove absence where none does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use tollgate_engine::Tier;
use tollgate_smt::{Check, ExactResult, Verdict, self_approval, ungated_expansion};

fn show(results: &[ExactResult]) -> String {
    results
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {:?}\n",
                r.principal_type, r.action, r.resource_type, r.verdict
            )
        })
        .collect()
}

#[test]
fn the_reference_pack_is_clean() {
    let Some(mut session) = support::session() else {
        return;
    };
    let pack = support::reference();
    let expansion = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    assert!(expansion.len() >= 6, "{}", show(&expansion));
    let approval = self_approval(&mut session, &pack, support::today()).unwrap();
    eprintln!(
        "{}{}{:?}",
        show(&expansion),
        show(&approval),
        session.stats()
    );
    for r in expansion.iter().chain(&approval) {
        assert!(
            matches!(r.verdict, Verdict::Proved),
            "{}",
            show(std::slice::from_ref(r))
        );
    }
}

fn found(results: &[ExactResult]) -> Vec<&ExactResult> {
    results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Found(_)))
        .collect()
}

/// The engine, deciding the solver's request itself, gives the tier the check claimed.
fn assert_confirmed_auto(r: &ExactResult) {
    let Verdict::Found(c) = &r.verdict else {
        panic!("{r:?}")
    };
    assert_eq!(c.decision.tier, Tier::Auto, "{c:?}");
    assert_eq!(c.counterexample.request["action"], r.action);
}

#[test]
fn an_auto_permit_on_an_expansion_action_is_found_with_a_request_the_engine_decides_auto() {
    let Some(mut session) = support::session() else {
        return;
    };
    let pack = support::pack(
        support::SCHEMA,
        r#"
@id("scope-auto-dev") @tier("auto") @reason("dev tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token)
when { resource.environment == "dev" };
"#,
    );
    let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    let found = found(&results);
    assert_eq!(found.len(), 1, "{}", show(&results));
    assert_confirmed_auto(found[0]);
    let Verdict::Found(c) = &found[0].verdict else {
        unreachable!()
    };
    let entities = c.counterexample.entities.to_string();
    assert!(entities.contains(r#""environment":"dev""#), "{entities}");
    assert_eq!(found[0].check, Check::UngatedExpansion);
    // The other environment (Document) has no permit: proved.
    assert!(
        results
            .iter()
            .any(|r| r.resource_type == "Document" && matches!(r.verdict, Verdict::Proved))
    );
}

#[test]
fn a_gate_that_covers_the_permit_is_proved() {
    let Some(mut session) = support::session() else {
        return;
    };
    let pack = support::pack(
        support::SCHEMA,
        r#"
@id("scope-auto") @tier("auto") @reason("tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource);
@id("gate-scope") @tier("single") @reason("a human first")
forbid (principal, action in Action::"expand_privilege", resource);
"#,
    );
    let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    assert_eq!(results.len(), 2, "{}", show(&results));
    assert!(
        results.iter().all(|r| matches!(r.verdict, Verdict::Proved)),
        "{}",
        show(&results)
    );
}

#[test]
fn an_agent_eligible_to_approve_is_found_and_a_human_only_rule_is_proved() {
    let Some(mut session) = support::session() else {
        return;
    };
    let open = support::pack(
        support::SCHEMA,
        r#"
@id("approve-team") @tier("auto") @reason("the team approves")
permit (principal, action == Action::"approve", resource)
when { context.requested_action == "read" };
"#,
    );
    let results = self_approval(&mut session, &open, support::today()).unwrap();
    // Only the Agent environments are asked about: Human is @human.
    assert!(
        results.iter().all(|r| r.principal_type == "Agent"),
        "{}",
        show(&results)
    );
    let found = found(&results);
    assert_eq!(found.len(), 2, "{}", show(&results));
    for r in found {
        assert_eq!(r.check, Check::SelfApproval);
        assert_confirmed_auto(r);
        let Verdict::Found(c) = &r.verdict else {
            unreachable!()
        };
        assert!(
            c.counterexample.request["principal"]
                .as_str()
                .unwrap()
                .starts_with("Agent::")
        );
    }

    let humans_only = support::pack(
        support::SCHEMA,
        r#"
@id("approve-team") @tier("auto") @reason("the team approves")
permit (principal is Human, action == Action::"approve", resource)
when { context.requested_action == "read" };
"#,
    );
    let results = self_approval(&mut session, &humans_only, support::today()).unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().all(|r| matches!(r.verdict, Verdict::Proved)),
        "{}",
        show(&results)
    );
}

/// The scope analysis cannot read conditions; these packs are each safe, and exact analysis
/// must say so.
#[test]
fn scope_false_alarms_are_cleared() {
    let Some(mut session) = support::session() else {
        return;
    };
    let cases = [
        (
            "a gate whose condition names the action's group",
            r#"
@id("scope-auto") @tier("auto") @reason("tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource);
@id("gate-expansion") @tier("single") @reason("a human first")
forbid (principal, action, resource) when { action in Action::"expand_privilege" };
"#,
        ),
        (
            "gates narrower by resource type that still cover every type the permit reaches",
            r#"
@id("scope-auto") @tier("auto") @reason("tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource);
@id("gate-token") @tier("single") @reason("a human first")
forbid (principal, action == Action::"add_token_scope", resource is Token);
@id("gate-document") @tier("dual") @reason("two humans")
forbid (principal, action == Action::"add_token_scope", resource is Document);
"#,
        ),
        (
            "an auto permit that ended before the day of the analysis",
            r#"
@id("scope-auto-until") @tier("auto") @reason("a migration window, now over")
permit (principal is Agent, action == Action::"add_token_scope", resource)
when { context.now < datetime("2026-06-01") };
"#,
        ),
    ];
    for (what, policies) in cases {
        let pack = support::pack(support::SCHEMA, policies);
        let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
        assert_eq!(results.len(), 2, "{what}: {}", show(&results));
        assert!(
            results.iter().all(|r| matches!(r.verdict, Verdict::Proved)),
            "{what}: {}",
            show(&results)
        );
    }
}

/// The same window, still open on the day of the analysis, is found; the request's time is
/// inside it and the engine decides it `auto` at that time.
#[test]
fn an_auto_permit_whose_window_is_still_open_is_found_at_a_time_inside_it() {
    let Some(mut session) = support::session() else {
        return;
    };
    let pack = support::pack(
        support::SCHEMA,
        r#"
@id("scope-auto-until") @tier("auto") @reason("a migration window")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token)
when { context.now < datetime("2027-01-01") };
"#,
    );
    let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    let found = found(&results);
    assert_eq!(found.len(), 1, "{}", show(&results));
    assert_confirmed_auto(found[0]);
    let Verdict::Found(c) = &found[0].verdict else {
        unreachable!()
    };
    let at = c.counterexample.at.as_deref().unwrap();
    assert!(("2026-12-03".."2027-01-01").contains(&at), "{at}");
}

/// `==` on an action group matches only the group entity, which no request names: such a
/// gate covers nothing, and the permit is found.
#[test]
fn a_gate_on_action_eq_group_covers_nothing() {
    let Some(mut session) = support::session() else {
        return;
    };
    let pack = support::pack(
        support::SCHEMA,
        r#"
@id("scope-auto") @tier("auto") @reason("tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
@id("gate-dead") @tier("single") @reason("meant as a gate on the whole group")
forbid (principal, action == Action::"expand_privilege", resource);
"#,
    );
    let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    let found = found(&results);
    assert_eq!(found.len(), 1, "{}", show(&results));
    assert_confirmed_auto(found[0]);
}

/// An owned exception still in force is left out (the pack stays clean); once its review
/// date has passed it counts again and is found.
#[test]
fn owned_exceptions_are_left_out_until_their_review_date() {
    let Some(mut session) = support::session() else {
        return;
    };
    let pack = support::pack(
        support::SCHEMA,
        r#"
@id("scope-auto-exception") @tier("auto") @reason("sandbox tokens")
@expansion_ok("sandbox tokens are throwaway") @owner("platform-security") @review_by("2027-03-01")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
"#,
    );
    let results = ungated_expansion(&mut session, &pack, support::today()).unwrap();
    assert!(
        results.iter().all(|r| matches!(r.verdict, Verdict::Proved)),
        "{}",
        show(&results)
    );
    let later = "2027-03-02".parse().unwrap();
    let results = ungated_expansion(&mut session, &pack, later).unwrap();
    assert_eq!(found(&results).len(), 1, "{}", show(&results));
}
