//! Building a request's Cedar context straight from its JSON, without Cedar's JSON parser.
//!
//! Reference path: Cedar's `Context::from_json_value` in `pack::decide`, which runs whenever
//! this gives no context or Cedar's type check refuses it. Held equal by
//! `the_fast_path_agrees_with_cedars_parser` below (2,000 generated contexts, both paths).
//!
//! Cedar's schema-directed JSON parsing tries each spelling a value may have and formats an
//! error for every miss; on the reference pack it was about half the time of a decision. Most
//! contexts are plain booleans, integers, strings, records, sets and `{"type", "id"}` entity
//! references, whose meaning does not depend on the schema, so they are built directly here.
//!
//! This is a fast path only, never a second interpretation: anything unusual (an `__entity` or
//! `__extn` escape, `null`, a non-integer number) is left to Cedar's parser, and with a schema
//! the result must still pass Cedar's own type check in `Request::new`. The schema's declared
//! types (`hints`) only choose between readings Cedar's parser would also choose between: an
//! entity or a record for `{"type", "id"}`, an extension value or a string for a string; a wrong
//! hint builds a value of the wrong type, which the type check refuses. A context that
//! type-checks was built exactly as Cedar's parser would have built it; one that does not is
//! rebuilt by Cedar's parser, which gives the error message callers see.

use std::collections::BTreeMap;
use std::str::FromStr;

use cedar_policy::{Context, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use serde_json::{Map, Value};

use super::memo::{Memo, memoised};
use crate::schema::AttrType;

/// The context for `context` plus `now` (a Cedar datetime string) when given, or `None` when
/// Cedar's parser must decide. `hints` are the action's declared context attributes: they say
/// where `{"type", "id"}` means an entity rather than a record.
pub(crate) fn direct_context(
    context: &Map<String, Value>,
    hints: Option<&BTreeMap<String, AttrType>>,
    now: Option<&str>,
) -> Option<Context> {
    let mut pairs = Vec::with_capacity(context.len() + 1);
    for (key, v) in context {
        pairs.push((key.clone(), value(v, hints.and_then(|h| h.get(key)))?));
    }
    if let Some(now) = now {
        pairs.push((crate::NOW.to_string(), datetime(now)));
    }
    Context::from_pairs(pairs).ok()
}

fn value(v: &Value, hint: Option<&AttrType>) -> Option<RestrictedExpression> {
    match v {
        Value::Bool(b) => Some(RestrictedExpression::new_bool(*b)),
        Value::Number(n) => n.as_i64().map(RestrictedExpression::new_long),
        // Where the schema expects an extension value, a string is its constructor's argument
        // (Cedar's "implicit constructor"); the constructor's own check runs in `from_pairs`.
        Value::String(s) => Some(match hint {
            Some(AttrType::Extension(ext)) => match ext.as_str() {
                "datetime" => datetime(s),
                "duration" => RestrictedExpression::new_duration(s),
                "ipaddr" => RestrictedExpression::new_ip(s),
                "decimal" => RestrictedExpression::new_decimal(s),
                _ => return None,
            },
            _ => RestrictedExpression::new_string(s.clone()),
        }),
        Value::Array(items) => {
            let element = match hint {
                Some(AttrType::Set(element)) => Some(element.as_ref()),
                _ => None,
            };
            let items = items
                .iter()
                .map(|item| value(item, element))
                .collect::<Option<Vec<_>>>()?;
            Some(RestrictedExpression::new_set(items))
        }
        Value::Object(map) => {
            // Escapes (`__entity`, `__extn`, and any other `__` key) are Cedar's to read.
            if map.keys().any(|k| k.starts_with("__")) {
                return None;
            }
            match hint {
                Some(AttrType::Entity(_)) => entity(map),
                Some(AttrType::Record(attrs)) => record(map, Some(attrs)),
                _ => record(map, None),
            }
        }
        Value::Null => None,
    }
}

/// `RestrictedExpression::new_datetime(src)`, memoised per thread: Cedar parses the
/// extension's name on every call (a fifth of a decision), while a run's decisions share one
/// `now` and few other instants. The memo is cleared when it grows, so input cannot grow it.
fn datetime(src: &str) -> RestrictedExpression {
    thread_local! {
        static DATETIMES: Memo<RestrictedExpression> = Memo::default();
    }
    memoised(&DATETIMES, src, |s| RestrictedExpression::new_datetime(s))
}

fn record(
    map: &Map<String, Value>,
    hints: Option<&BTreeMap<String, AttrType>>,
) -> Option<RestrictedExpression> {
    let fields = map
        .iter()
        .map(|(k, v)| Some((k.clone(), value(v, hints.and_then(|h| h.get(k)))?)))
        .collect::<Option<Vec<_>>>()?;
    RestrictedExpression::new_record(fields).ok()
}

/// `{"type": T, "id": I}`, the spelling Cedar accepts where the schema expects an entity.
fn entity(map: &Map<String, Value>) -> Option<RestrictedExpression> {
    let (Some(Value::String(ty)), Some(Value::String(id)), 2) =
        (map.get("type"), map.get("id"), map.len())
    else {
        return None;
    };
    let ty = EntityTypeName::from_str(ty).ok()?;
    Some(RestrictedExpression::new_entity_uid(
        EntityUid::from_type_name_and_id(ty, EntityId::new(id)),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use cedar_policy::Request;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use serde_json::json;

    use super::*;
    use crate::schema::PackSchema;
    use crate::source::SourceFile;

    fn schema() -> &'static PackSchema {
        static SCHEMA: std::sync::OnceLock<PackSchema> = std::sync::OnceLock::new();
        SCHEMA.get_or_init(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/agents.cedarschema");
            let text = std::fs::read_to_string(path).unwrap();
            PackSchema::load(&[SourceFile::new("agents.cedarschema", text)]).unwrap()
        })
    }

    const NOW: &str = "2026-06-01T12:00:00.000Z";

    fn uid(s: &str) -> EntityUid {
        s.parse().unwrap()
    }

    /// A principal and resource the schema allows for `action`.
    fn parties(action: &str) -> (EntityUid, EntityUid) {
        match action {
            "Action::\"approve\"" => (uid("Human::\"h\""), uid("Token::\"t\"")),
            "Action::\"deploy\"" => (uid("Agent::\"a\""), uid("Environment::\"e\"")),
            _ => (uid("Agent::\"a\""), uid("Token::\"t\"")),
        }
    }

    /// The request built from the direct context, if the fast path gives one.
    fn fast(action: &str, context: &Map<String, Value>) -> Option<Request> {
        let s = schema();
        let hints = s.context_type(&uid(action));
        let context = direct_context(context, hints, Some(NOW))?;
        let (p, r) = parties(action);
        Request::new(p, uid(action), r, context, Some(s.cedar())).ok()
    }

    /// The request built through Cedar's JSON parser, or its error.
    fn slow(action: &str, context: &Map<String, Value>) -> Result<Request, String> {
        let s = schema();
        let mut context = context.clone();
        context.insert(
            "now".into(),
            json!({"__extn": {"fn": "datetime", "arg": NOW}}),
        );
        let (p, r) = parties(action);
        let action = uid(action);
        let context = Context::from_json_value(Value::Object(context), Some((s.cedar(), &action)))
            .map_err(|e| e.to_string())?;
        Request::new(p, action, r, context, Some(s.cedar())).map_err(|e| e.to_string())
    }

    fn context_json(r: &Request) -> Value {
        r.context().unwrap().clone().to_json_value().unwrap()
    }

    #[test]
    fn typical_contexts_take_the_fast_path_and_match_cedars_parser() {
        let contexts = [
            json!({"request_id": "r1"}),
            json!({"request_id": "r2", "environment": "prod", "scopes": ["prod:write", "read"]}),
            json!({"request_id": "r3", "session_minutes": 90, "grantee": {"type": "Agent", "id": "b"}}),
            json!({"request_id": "r4", "delegation": {"granted_by": {"type": "Human", "id": "alice"},
                "expires_at": "2026-06-02T00:00:00Z"}, "recommendation": {"summary": "s", "rationale": "r"}}),
        ];
        for c in contexts {
            let c = c.as_object().unwrap();
            let f = fast("Action::\"add_token_scope\"", c)
                .unwrap_or_else(|| panic!("slow path for {c:?}"));
            let s = slow("Action::\"add_token_scope\"", c).unwrap();
            assert_eq!(context_json(&f), context_json(&s));
        }
    }

    #[test]
    fn anything_unusual_is_left_to_cedar() {
        for v in [
            json!(null),
            json!(1.5),
            json!({"__entity": {"type": "A", "id": "b"}}),
            json!({"__extn": {"fn": "ip", "arg": "1.2.3.4"}}),
            json!(u64::MAX),
        ] {
            assert!(value(&v, None).is_none(), "{v}");
        }
        // A wrong-looking entity reference or an invalid datetime never becomes a value.
        let scope = "Action::\"add_token_scope\"";
        let good = json!({"request_id": "r", "grantee": {"type": "Agent", "id": "b"}});
        assert!(fast(scope, good.as_object().unwrap()).is_some());
        let c = json!({"request_id": "r", "grantee": {"type": "Agent", "id": "b", "x": 1}});
        assert!(fast(scope, c.as_object().unwrap()).is_none());
        let c = json!({"request_id": "r", "delegation": {"granted_by": {"type": "Human", "id": "h"}, "expires_at": "soon"}});
        assert!(fast(scope, c.as_object().unwrap()).is_none());
        assert!(slow(scope, c.as_object().unwrap()).is_err());
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            Just(json!(null)),
            Just(json!(2.5)),
            prop::sample::select(vec![
                "prod",
                "2026-06-02T00:00:00Z",
                "2026-06-02",
                "1.2.3.4",
                "soon",
                ""
            ])
            .prop_map(Value::from),
            Just(json!({"type": "Agent", "id": "b"})),
            Just(json!({"type": "Human", "id": "alice"})),
            Just(json!({"type": " Agent", "id": "b"})),
            Just(json!({"__entity": {"type": "Agent", "id": "b"}})),
            Just(json!({"__extn": {"fn": "datetime", "arg": "2026-06-02"}})),
        ]
    }

    fn any_value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "granted_by",
                        "expires_at",
                        "summary",
                        "rationale",
                        "x"
                    ]),
                    inner,
                    0..3
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        })
    }

    /// A value for `key`: mostly of the declared type, sometimes anything.
    fn attr(key: &'static str) -> BoxedStrategy<Value> {
        let typed: BoxedStrategy<Value> = match key {
            "request_id" | "environment" => "[a-z-]{0,8}".prop_map(Value::from).boxed(),
            "scopes" => prop::collection::vec("[a-z:]{1,6}", 0..3)
                .prop_map(|v| json!(v))
                .boxed(),
            "session_minutes" => any::<i64>().prop_map(Value::from).boxed(),
            "grantee" => Just(json!({"type": "Agent", "id": "b"})).boxed(),
            "delegation" => (
                prop::sample::select(vec!["Human", "Agent"]),
                prop::sample::select(vec![
                    "2026-06-02T00:00:00Z",
                    "2026-06-02",
                    "2026-13-01",
                    "soon",
                ]),
            )
                .prop_map(|(t, at)| json!({"granted_by": {"type": t, "id": "h"}, "expires_at": at}))
                .boxed(),
            "recommendation" => prop::option::of("[a-z]{0,4}")
                .prop_map(|r| match r {
                    Some(r) => json!({"summary": "s", "rationale": r}),
                    None => json!({"summary": "s"}),
                })
                .boxed(),
            _ => any_value().boxed(),
        };
        prop_oneof![9 => typed, 1 => any_value()].boxed()
    }

    fn context() -> impl Strategy<Value = Map<String, Value>> {
        let keys = [
            "request_id",
            "environment",
            "scopes",
            "session_minutes",
            "grantee",
            "delegation",
            "recommendation",
            "extra",
        ];
        let attrs: Vec<_> = keys
            .iter()
            .map(|&k| prop::option::weighted(if k == "extra" { 0.1 } else { 0.6 }, attr(k)))
            .collect();
        (attrs, prop::bool::weighted(0.9)).prop_map(move |(values, with_id)| {
            let mut m: Map<String, Value> = keys
                .iter()
                .zip(values)
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect();
            if with_id && !m.contains_key("request_id") {
                m.insert("request_id".into(), json!("r"));
            }
            m
        })
    }

    /// Whenever the request check vouches for a request, Cedar's request validation accepts
    /// it; and the check vouches for most of the requests Cedar accepts, so that it is the path
    /// decisions take. Principals and resources of other types than the action's are mixed in.
    #[test]
    fn the_request_check_admits_only_what_cedar_admits() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let cases = (
            prop::sample::select(vec![
                "Action::\"add_token_scope\"",
                "Action::\"approve\"",
                "Action::\"deploy\"",
            ]),
            prop_oneof![
                8 => Just(None),
                1 => Just(Some("Human::\"h\"")),
                1 => Just(Some("Token::\"t\"")),
            ],
            context(),
        );
        let types = schema().request_types();
        let (mut vouched, mut accepted) = (0, 0);
        for _ in 0..3000 {
            let (action, principal, c) = cases.new_tree(&mut runner).unwrap().current();
            let (p, r) = parties(action);
            let p = principal.map_or(p, uid);
            let built = direct_context(&c, schema().context_type(&uid(action)), Some(NOW));
            let Some(built) = built else { continue };
            let cedar = Request::new(
                p.clone(),
                uid(action),
                r.clone(),
                built,
                Some(schema().cedar()),
            );
            accepted += usize::from(cedar.is_ok());
            if types.admits(&p, &uid(action), &r, &c, true) {
                vouched += 1;
                assert!(
                    cedar.is_ok(),
                    "vouched for what Cedar refuses: {p} {action} {c:?}: {cedar:?}"
                );
            }
        }
        assert!(
            vouched * 10 >= accepted * 9 && accepted > 300,
            "vouched for {vouched} of the {accepted} requests Cedar accepts"
        );
    }

    /// Whenever the fast path gives a request, Cedar's parser gives the same one; and the
    /// generator reaches the fast path often enough for that to mean something.
    #[test]
    fn the_fast_path_agrees_with_cedars_parser() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let cases = (
            prop::sample::select(vec!["Action::\"add_token_scope\"", "Action::\"approve\""]),
            context(),
        );
        let (mut fast_hits, mut total) = (0, 0);
        for _ in 0..2000 {
            let (action, c) = cases.new_tree(&mut runner).unwrap().current();
            total += 1;
            if let Some(f) = fast(action, &c) {
                fast_hits += 1;
                let s = slow(action, &c);
                assert!(
                    s.is_ok(),
                    "fast path accepted what Cedar refuses: {c:?}: {s:?}"
                );
                assert_eq!(context_json(&f), context_json(&s.unwrap()), "{c:?}");
            }
        }
        assert!(
            fast_hits * 10 > total,
            "only {fast_hits} of {total} cases took the fast path"
        );
    }
}
