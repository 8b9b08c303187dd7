//! Property tests of the decision rule over generated packs and requests.
//!
//! The engine computes the tier in one pass over a shadow set. These tests check it against an
//! independent formulation (docs/design.md, "Tiers"): the lowest approval level L at which the pack, read at
//! level L, allows — evaluated with plain Cedar, fail-closed rule applied.

use std::collections::BTreeSet;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityUid, PolicySet, Request,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tollgate_engine::{
    Decision, EntityRef, Pack, PackSource, ProposedAction, SourceFile, Tier, Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PermitAuto,
    PermitSingle,
    PermitDual,
    PermitUntiered,
    GateSingle,
    GateDual,
    Forbid,
}

impl Kind {
    fn is_permit(self) -> bool {
        matches!(
            self,
            Kind::PermitAuto | Kind::PermitSingle | Kind::PermitDual | Kind::PermitUntiered
        )
    }
    /// The approval level the policy grants at (permits) or requires above (gates).
    fn level(self) -> u8 {
        match self {
            Kind::PermitAuto => 0,
            Kind::PermitSingle | Kind::PermitUntiered | Kind::GateSingle => 1,
            Kind::PermitDual | Kind::GateDual => 2,
            Kind::Forbid => 3,
        }
    }
    fn header(self) -> (&'static str, &'static str) {
        match self {
            Kind::PermitAuto => ("@tier(\"auto\")", "permit"),
            Kind::PermitSingle => ("@tier(\"single\")", "permit"),
            Kind::PermitDual => ("@tier(\"dual\")", "permit"),
            Kind::PermitUntiered => ("", "permit"),
            Kind::GateSingle => ("@tier(\"single\")", "forbid"),
            Kind::GateDual => ("@tier(\"dual\")", "forbid"),
            Kind::Forbid => ("", "forbid"),
        }
    }
}

/// Conditions over a small attribute space; `x` is sometimes missing from the context, so
/// conditions on it error at run time.
#[derive(Debug, Clone, Copy)]
enum Cond {
    True,
    AEq(i64),
    AGt(i64),
    B,
    NotB,
    XEq(i64),
}

impl Cond {
    fn cedar(self) -> String {
        match self {
            Cond::True => "true".into(),
            Cond::AEq(n) => format!("context.a == {n}"),
            Cond::AGt(n) => format!("context.a > {n}"),
            Cond::B => "context.b".into(),
            Cond::NotB => "!context.b".into(),
            Cond::XEq(n) => format!("context.x == {n}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Pol {
    kind: Kind,
    action: Option<u8>,
    cond: Cond,
}

impl Pol {
    fn scope(&self) -> String {
        match self.action {
            None => "principal, action, resource".into(),
            Some(a) => format!("principal, action == Action::\"a{a}\", resource"),
        }
    }
    fn tollgate_text(&self, id: usize) -> String {
        let (tier, effect) = self.kind.header();
        format!(
            "@id(\"p{id}\") {tier} {effect} ({}) when {{ {} }};\n",
            self.scope(),
            self.cond.cedar()
        )
    }
    fn cedar_text(&self, effect: &str) -> String {
        format!(
            "{effect} ({}) when {{ {} }};\n",
            self.scope(),
            self.cond.cedar()
        )
    }
}

#[derive(Debug, Clone)]
struct Req {
    action: u8,
    a: i64,
    b: bool,
    x: Option<i64>,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::PermitAuto),
        Just(Kind::PermitSingle),
        Just(Kind::PermitDual),
        Just(Kind::PermitUntiered),
        Just(Kind::GateSingle),
        Just(Kind::GateDual),
        Just(Kind::Forbid),
    ]
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        2 => Just(Cond::True),
        1 => (0i64..3).prop_map(Cond::AEq),
        1 => (0i64..3).prop_map(Cond::AGt),
        1 => Just(Cond::B),
        1 => Just(Cond::NotB),
        1 => (0i64..2).prop_map(Cond::XEq),
    ]
}

fn pol_of(kind: impl Strategy<Value = Kind>) -> impl Strategy<Value = Pol> {
    (kind, proptest::option::of(0u8..2), cond()).prop_map(|(kind, action, cond)| Pol {
        kind,
        action,
        cond,
    })
}

fn pol() -> impl Strategy<Value = Pol> {
    pol_of(kind())
}

fn req() -> impl Strategy<Value = Req> {
    (
        0u8..2,
        0i64..3,
        any::<bool>(),
        proptest::option::of(0i64..2),
    )
        .prop_map(|(action, a, b, x)| Req { action, a, b, x })
}

fn at() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn context(r: &Req) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("a".into(), json!(r.a));
    m.insert("b".into(), json!(r.b));
    if let Some(x) = r.x {
        m.insert("x".into(), json!(x));
    }
    m
}

/// Loads `pols` split over `files` files (round-robin) and decides `r`.
fn decide_split(pols: &[(usize, Pol)], files: usize, r: &Req) -> Decision {
    let mut texts = vec![String::new(); files.max(1)];
    for (n, (id, p)) in pols.iter().enumerate() {
        let len = texts.len();
        texts[n % len].push_str(&p.tollgate_text(*id));
    }
    let policies = texts
        .into_iter()
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| SourceFile::new(format!("f{i}.cedar"), t))
        .collect();
    let pack = Pack::load(PackSource {
        policies,
        schemas: vec![],
    })
    .unwrap();
    let request = ProposedAction::new(
        "Agent::\"bot\"".parse::<EntityRef>().unwrap(),
        format!("Action::\"a{}\"", r.action)
            .parse::<EntityRef>()
            .unwrap(),
        "Thing::\"t\"".parse::<EntityRef>().unwrap(),
        context(r),
    )
    .unwrap();
    pack.decide(&request, &pack.no_entities(), at()).unwrap()
}

fn decide(pols: &[Pol], r: &Req) -> Decision {
    let numbered: Vec<(usize, Pol)> = pols.iter().cloned().enumerate().collect();
    decide_split(&numbered, 1, r)
}

fn cedar_request(r: &Req) -> Request {
    let mut ctx = context(r);
    // tollgate fills `now` when there is no schema; give plain Cedar the same context.
    ctx.insert(
        "now".into(),
        json!({"__extn": {"fn": "datetime", "arg": at().to_cedar_datetime()}}),
    );
    Request::new(
        "Agent::\"bot\"".parse::<EntityUid>().unwrap(),
        format!("Action::\"a{}\"", r.action)
            .parse::<EntityUid>()
            .unwrap(),
        "Thing::\"t\"".parse::<EntityUid>().unwrap(),
        Context::from_json_value(Value::Object(ctx), None).unwrap(),
        None,
    )
    .unwrap()
}

/// The second formulation in docs/design.md: the least level L at which the pack, read at L, allows.
fn least_level_tier(pols: &[Pol], r: &Req) -> Tier {
    let request = cedar_request(r);
    for (level, tier) in [(0u8, Tier::Auto), (1, Tier::Single), (2, Tier::Dual)] {
        let mut text = String::new();
        // Which policies act as forbids at this level, by Cedar id (policyN in text order).
        let mut forbidding = BTreeSet::new();
        for p in pols {
            let effect = if p.kind.is_permit() {
                if p.kind.level() > level {
                    continue;
                }
                "permit"
            } else if p.kind == Kind::Forbid || p.kind.level() > level {
                "forbid"
            } else {
                continue;
            };
            if effect == "forbid" {
                forbidding.insert(format!("policy{}", text.matches(';').count()));
            }
            text.push_str(&p.cedar_text(effect));
        }
        let set: PolicySet = text.parse().unwrap();
        let response = Authorizer::new().is_authorized(&request, &set, &Entities::empty());
        // Fail closed: Cedar skips an erroring forbid; tollgate counts it as satisfied.
        let forbid_errored = response.diagnostics().errors().any(|e| match e {
            cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                forbidding.contains(&e.policy_id().to_string())
            }
        });
        if response.decision() == CedarDecision::Allow && !forbid_errored {
            return tier;
        }
    }
    Tier::Deny
}

fn key(d: &Decision) -> (Tier, Vec<String>, Vec<String>) {
    let mut det: Vec<String> = d.determining.iter().map(|p| p.id.to_string()).collect();
    det.sort();
    let mut errs: Vec<String> = d.errors.iter().map(|e| e.policy.clone()).collect();
    errs.sort();
    (d.tier, det, errs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn one_pass_equals_least_level_reading(pols in prop::collection::vec(pol(), 0..8), r in req()) {
        let d = decide(&pols, &r);
        prop_assert_eq!(d.tier, least_level_tier(&pols, &r));
        prop_assert_eq!(d.approvals_required, d.tier.approvals_required());
    }

    #[test]
    fn policy_order_and_file_split_change_nothing(
        pols in prop::collection::vec(pol(), 1..8),
        r in req(),
        seed in any::<u64>(),
        files in 1usize..4,
    ) {
        let numbered: Vec<(usize, Pol)> = pols.iter().cloned().enumerate().collect();
        let mut shuffled = numbered.clone();
        // A deterministic shuffle from the seed (Fisher-Yates with an LCG).
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (s >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        prop_assert_eq!(key(&decide_split(&numbered, 1, &r)), key(&decide_split(&shuffled, files, &r)));
    }

    #[test]
    fn adding_a_permit_never_raises_the_tier(
        pols in prop::collection::vec(pol(), 0..8),
        extra in pol_of(prop_oneof![Just(Kind::PermitAuto), Just(Kind::PermitSingle), Just(Kind::PermitDual), Just(Kind::PermitUntiered)]),
        r in req(),
    ) {
        let before = decide(&pols, &r).tier;
        let mut more = pols.clone();
        more.push(extra);
        prop_assert!(decide(&more, &r).tier <= before);
    }

    #[test]
    fn adding_a_forbid_or_gate_never_lowers_the_tier(
        pols in prop::collection::vec(pol(), 0..8),
        extra in pol_of(prop_oneof![Just(Kind::GateSingle), Just(Kind::GateDual), Just(Kind::Forbid)]),
        r in req(),
    ) {
        let before = decide(&pols, &r).tier;
        let mut more = pols.clone();
        more.push(extra);
        prop_assert!(decide(&more, &r).tier >= before);
    }

    #[test]
    fn a_forbid_whose_condition_errors_denies(pols in prop::collection::vec(pol(), 0..8), r in req(), n in 0i64..2) {
        let r = Req { x: None, ..r };
        let mut more = pols.clone();
        more.push(Pol { kind: Kind::Forbid, action: Some(r.action), cond: Cond::XEq(n) });
        let d = decide(&more, &r);
        prop_assert_eq!(d.tier, Tier::Deny);
        prop_assert!(!d.errors.is_empty());
    }

    #[test]
    fn an_erroring_gate_requires_its_approvals(pols in prop::collection::vec(pol(), 0..8), r in req(), n in 0i64..2) {
        let r = Req { x: None, ..r };
        let mut more = pols.clone();
        more.push(Pol { kind: Kind::GateDual, action: None, cond: Cond::XEq(n) });
        prop_assert!(decide(&more, &r).tier >= Tier::Dual);
    }

    #[test]
    fn without_tiers_deny_is_exactly_cedars_deny(
        pols in prop::collection::vec(pol_of(prop_oneof![Just(Kind::PermitUntiered), Just(Kind::Forbid)]), 0..8),
        r in req(),
    ) {
        let d = decide(&pols, &r);
        if d.errors.is_empty() {
            let text: String = pols.iter().map(|p| p.cedar_text(if p.kind == Kind::Forbid { "forbid" } else { "permit" })).collect();
            let set: PolicySet = text.parse().unwrap();
            let cedar = Authorizer::new().is_authorized(&cedar_request(&r), &set, &Entities::empty());
            prop_assert_eq!(d.tier == Tier::Deny, cedar.decision() == CedarDecision::Deny);
            if d.tier != Tier::Deny {
                prop_assert_eq!(d.tier, Tier::Single);
            }
        }
    }
}
