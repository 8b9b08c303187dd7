//! The pack read at an approval level, as a Cedar policy set the symbolic compiler takes.

use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Entities, EntityUid, Policy, PolicyId, PolicySet, RequestEnv, Schema,
};
use tollgate_engine::analysis::cedar_policy;
use tollgate_engine::{CalendarDate, EntityRef, NOW, Pack, PolicyInfo, PolicyRole, Tier};

/// The id of the forbid that bounds `context.now` to the times tollgate can fill in.
const NOW_BOUND: &str = "tollgate-smt:now-bound";

/// The last instant the engine's timestamps reach.
const LAST_INSTANT: &str = "9999-12-31T23:59:59.999Z";

/// The pack read at `level`: permits of tier `level` or lower (less those `skip` names),
/// every plain forbid, every gate above `level`, and the time bound for `action`. The tier
/// of a request is at most `level` exactly when this set allows it (see the crate docs).
pub(crate) fn reading(
    pack: &Pack,
    level: Tier,
    skip: &dyn Fn(&PolicyInfo) -> bool,
    action: &EntityUid,
    today: CalendarDate,
    reach: &ActionReach,
) -> Result<PolicySet, String> {
    let policies = pack
        .policies()
        .iter()
        .filter(|p| reach.can_match(cedar_policy(p), action))
        .filter(|p| match p.role() {
            PolicyRole::Permit(tier) => tier <= level && !skip(p),
            PolicyRole::Forbid => true,
            PolicyRole::Gate(tier) => tier > level,
        })
        .map(|p| cedar_policy(p).clone())
        .chain(now_bound(pack, action, today)?);
    PolicySet::from_policies(policies).map_err(|e| e.to_string())
}

/// The plain forbids and gates whose action scope can match `action`: the policies whose
/// errors tollgate counts as matches.
pub(crate) fn restricting<'a>(
    pack: &'a Pack,
    action: &'a EntityUid,
    reach: &'a ActionReach,
) -> impl Iterator<Item = &'a PolicyInfo> {
    pack.policies()
        .iter()
        .filter(|p| !matches!(p.role(), PolicyRole::Permit(_)))
        .filter(move |p| reach.can_match(cedar_policy(p), action))
}

/// Which policies' action scopes can match an action, from the schema's action groups. A
/// policy that cannot match is false on every request of the action's environments, so
/// leaving it out of a query changes no answer; it only saves the solver (and the symbolic
/// compiler) from thousands of irrelevant policies in a large pack.
pub(crate) struct ActionReach {
    entities: Option<Entities>,
}

impl ActionReach {
    /// The action groups of `schema`.
    pub(crate) fn of(schema: &Schema) -> Self {
        Self {
            entities: schema.action_entities().ok(),
        }
    }

    /// Whether `policy`'s action scope can match requests for `action`. When the groups are
    /// not known, every policy is kept.
    pub(crate) fn can_match(&self, policy: &Policy, action: &EntityUid) -> bool {
        match policy.action_constraint() {
            ActionConstraint::Any => true,
            // `==` matches only that entity: a group named with `==` matches no request.
            ActionConstraint::Eq(a) => &a == action,
            ActionConstraint::In(groups) => {
                groups.iter().any(|g| g == action || self.is_in(action, g))
            }
        }
    }

    fn is_in(&self, action: &EntityUid, group: &EntityUid) -> bool {
        match &self.entities {
            None => true,
            Some(entities) => entities
                .ancestors(action)
                .is_none_or(|mut ancestors| ancestors.any(|a| a == group)),
        }
    }
}

/// `forbid` on requests for `action` whose `now` tollgate would never fill in: before the
/// start of `today` or past the engine's last instant. None when the action does not read it.
fn now_bound(
    pack: &Pack,
    action: &EntityUid,
    today: CalendarDate,
) -> Result<Option<Policy>, String> {
    let reads_now = EntityRef::from_str(&action.to_string())
        .ok()
        .zip(pack.schema())
        .is_some_and(|(a, s)| s.context_declares(&a, NOW));
    if !reads_now {
        return Ok(None);
    }
    let text = format!(
        "forbid (principal, action == {action}, resource) when {{ context has {NOW} && (context.{NOW} < datetime(\"{today}\") || context.{NOW} > datetime(\"{LAST_INSTANT}\")) }};"
    );
    Policy::parse(Some(PolicyId::new(NOW_BOUND)), text)
        .map(Some)
        .map_err(|e| format!("the time bound does not parse: {e}"))
}

/// A stable text of a policy set for cache keys: each policy's id and text, sorted by id.
pub(crate) fn fingerprint(set: &PolicySet) -> String {
    let mut parts: Vec<String> = set
        .policies()
        .map(|p| format!("{}\u{0}{p}", p.id()))
        .collect();
    parts.sort_unstable();
    parts.join("\u{1}")
}

/// The schema's text, for cache keys.
pub(crate) fn schema_fingerprint(pack: &Pack) -> String {
    pack.source()
        .schemas
        .iter()
        .map(|f| format!("{}\u{0}{}", f.name, f.text))
        .collect::<Vec<_>>()
        .join("\u{1}")
}

/// `(principal type, action, resource type)` of a request environment.
pub(crate) fn describe(env: &RequestEnv) -> (String, String, String) {
    (
        env.principal().to_string(),
        env.action().to_string(),
        env.resource().to_string(),
    )
}

/// The request environments of `schema` (those an action's `appliesTo` gives).
pub(crate) fn envs(schema: &Schema) -> Vec<RequestEnv> {
    schema.request_envs().collect()
}
