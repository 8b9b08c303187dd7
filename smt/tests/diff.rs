//! `weakenings`: is head's tier lower than base's for some request? Proved, found (with a
//! request both packs decide), or unknown where a forbid or gate can error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use tollgate_engine::Tier;
use tollgate_smt::{ActionDiff, DiffVerdict, weakenings};

const BASE: &str = r#"
@id("read-auto") @tier("auto") @reason("reading is routine")
permit (principal is Agent, action == Action::"read", resource);
@id("scope-single") @tier("single") @reason("one human")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
@id("gate-prod-dual") @tier("dual") @reason("two humans for production")
forbid (principal, action == Action::"add_token_scope", resource is Token)
when { resource.environment == "prod" };
"#;

fn show(results: &[ActionDiff]) -> String {
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

fn weaker(results: &[ActionDiff]) -> Vec<&ActionDiff> {
    results
        .iter()
        .filter(|r| matches!(r.verdict, DiffVerdict::Weaker { .. }))
        .collect()
}

#[test]
fn the_same_pack_and_a_stricter_one_are_not_weaker() {
    let Some(mut session) = support::session() else {
        return;
    };
    let base = support::pack(support::SCHEMA, BASE);
    let same = weakenings(&mut session, &base, &base, support::today()).unwrap();
    assert!(
        same.iter()
            .all(|r| matches!(r.verdict, DiffVerdict::NotWeaker)),
        "{}",
        show(&same)
    );
    // Rewritten but equivalent, plus a new gate: nothing is weaker.
    let head = support::pack(
        support::SCHEMA,
        r#"
@id("read-auto") @tier("auto") @reason("reading is routine")
permit (principal is Agent, action == Action::"read", resource);
@id("scope-single") @tier("single") @reason("one human")
permit (principal is Agent, action in Action::"expand_privilege", resource is Token);
@id("gate-prod-dual") @tier("dual") @reason("two humans for production")
forbid (principal, action == Action::"add_token_scope", resource)
when { resource is Token && (resource.environment == "prod" || resource.environment == "production") };
"#,
    );
    let results = weakenings(&mut session, &base, &head, support::today()).unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r.verdict, DiffVerdict::NotWeaker)),
        "{}",
        show(&results)
    );
}

#[test]
fn a_lowered_tier_is_found_with_a_request_both_packs_decide() {
    let Some(mut session) = support::session() else {
        return;
    };
    let base = support::pack(support::SCHEMA, BASE);
    // Dev tokens become auto.
    let head = support::pack(
        support::SCHEMA,
        &BASE.replace(
            r#"resource is Token);
@id("gate-prod-dual")"#,
            r#"resource is Token);
@id("scope-dev-auto") @tier("auto") @reason("dev tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token)
when { resource.environment == "dev" };
@id("gate-prod-dual")"#,
        ),
    );
    let results = weakenings(&mut session, &base, &head, support::today()).unwrap();
    let found = weaker(&results);
    assert_eq!(found.len(), 1, "{}", show(&results));
    let DiffVerdict::Weaker { level, head, base } = &found[0].verdict else {
        unreachable!()
    };
    assert_eq!(*level, Tier::Auto);
    assert_eq!(head.decision.tier, Tier::Auto);
    assert_eq!(base.tier, Tier::Single);
    assert!(
        head.counterexample
            .entities
            .to_string()
            .contains(r#""environment":"dev""#)
    );
}

#[test]
fn a_removed_dual_gate_is_found_at_the_single_level() {
    let Some(mut session) = support::session() else {
        return;
    };
    let base = support::pack(support::SCHEMA, BASE);
    let head_text = BASE
        .split("@id(\"gate-prod-dual\")")
        .next()
        .unwrap()
        .to_string();
    let head = support::pack(support::SCHEMA, &head_text);
    let results = weakenings(&mut session, &base, &head, support::today()).unwrap();
    let found = weaker(&results);
    assert_eq!(found.len(), 1, "{}", show(&results));
    let DiffVerdict::Weaker { level, head, base } = &found[0].verdict else {
        unreachable!()
    };
    assert_eq!(*level, Tier::Single);
    assert_eq!((head.decision.tier, base.tier), (Tier::Single, Tier::Dual));
    assert!(
        head.counterexample
            .entities
            .to_string()
            .contains(r#""environment":"prod""#)
    );
}

/// tollgate counts an erroring gate as matched; Cedar's reading skips it. Where a gate can
/// error, "not weaker" cannot be shown, so the answer is unknown, never "not weaker".
#[test]
fn a_gate_that_can_error_makes_its_action_unknown() {
    let Some(mut session) = support::session() else {
        return;
    };
    let with_overflow = format!(
        "{BASE}\n@id(\"gate-heavy-use\") @tier(\"dual\") @reason(\"heavily used tokens\")\nforbid (principal, action == Action::\"add_token_scope\", resource is Token)\nwhen {{ resource.uses * 1000 > 5000 }};\n"
    );
    let base = support::pack(support::SCHEMA, &with_overflow);
    let results = weakenings(&mut session, &base, &base, support::today()).unwrap();
    let token = results
        .iter()
        .find(|r| r.action.contains("add_token_scope") && r.resource_type == "Token")
        .unwrap();
    let DiffVerdict::Unknown(why) = &token.verdict else {
        panic!("{}", show(&results))
    };
    assert!(why.contains("gate-heavy-use"), "{why}");
    // Other actions are unaffected.
    let read = results.iter().find(|r| r.action.contains("read")).unwrap();
    assert!(
        matches!(read.verdict, DiffVerdict::NotWeaker),
        "{}",
        show(&results)
    );
}
