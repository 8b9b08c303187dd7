//! A proposed agent action in Cedar's JSON request shape, and its canonical hash.

use std::fmt;
use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid};
use serde_json::{Map, Value, json};

use crate::accel;
use crate::canonical::{self, NonIntegerNumber, Sha256Digest};

/// A reference to an entity, normalised from either `Type::"id"` or `{"type": T, "id": I}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    uid: EntityUid,
}

impl EntityRef {
    /// The Cedar uid.
    pub(crate) fn uid(&self) -> &EntityUid {
        &self.uid
    }
    /// Entity type, e.g. `Agent`.
    pub fn type_name(&self) -> String {
        self.uid.type_name().to_string()
    }
    /// Entity id, unescaped.
    pub fn id(&self) -> &str {
        self.uid.id().unescaped()
    }
    /// `{"type": T, "id": I}`, the form hashed and recorded.
    pub fn to_json(&self) -> Value {
        json!({"type": self.type_name(), "id": self.id()})
    }

    /// Parses either spelling. `field` names the field for error messages.
    pub fn from_json(value: &Value, field: &str) -> Result<Self, RequestError> {
        let bad = |why: String| RequestError::BadEntityRef {
            field: field.to_string(),
            why,
        };
        match value {
            Value::String(s) => match accel::uid::quick_uid(s) {
                Some(uid) => Ok(Self { uid }),
                None => EntityUid::from_str(s).map(|uid| Self { uid }).map_err(|e| {
                    bad(format!(
                        "`{s}` is not an entity reference like `Agent::\"triage-bot\"` ({e})"
                    ))
                }),
            },
            Value::Object(map) => {
                let map = map
                    .get("__entity")
                    .and_then(Value::as_object)
                    .unwrap_or(map);
                let (Some(Value::String(ty)), Some(Value::String(id))) =
                    (map.get("type"), map.get("id"))
                else {
                    return Err(bad("expected {\"type\": \"...\", \"id\": \"...\"}".into()));
                };
                if map.len() != 2 {
                    return Err(bad(
                        "only `type` and `id` are allowed in an entity reference".into(),
                    ));
                }
                let ty = EntityTypeName::from_str(ty)
                    .map_err(|e| bad(format!("`{ty}` is not an entity type ({e})")))?;
                Ok(Self {
                    uid: EntityUid::from_type_name_and_id(ty, EntityId::new(id)),
                })
            }
            other => Err(bad(format!(
                "expected a string or an object, found {}",
                kind(other)
            ))),
        }
    }
}

impl FromStr for EntityRef {
    type Err = RequestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_json(&Value::String(s.to_string()), "entity")
    }
}

impl fmt::Display for EntityRef {
    /// Cedar's spelling, `Type::"id"`. An id of printable ASCII other than `"`, `\\` and `'`
    /// is written as it is, which is what Cedar's escaping (`escape_debug`) writes for it,
    /// without escaping it character by character; any other id goes through Cedar.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.uid.id().unescaped();
        let plain = id
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && !matches!(b, b'"' | b'\\' | b'\''));
        if plain {
            write!(f, "{}::\"{id}\"", self.uid.type_name())
        } else {
            write!(f, "{}", self.uid)
        }
    }
}

/// A request that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not a JSON object, or not JSON at all.
    #[error("request is not valid JSON: {0}")]
    Json(String),
    /// A required field is missing.
    #[error("request has no `{0}` field")]
    Missing(&'static str),
    /// A field tollgate does not know (likely a typo that would otherwise be ignored).
    #[error("request has an unknown field `{0}` (expected principal, action, resource, context)")]
    UnknownField(String),
    /// An entity reference that does not parse.
    #[error("request field `{field}`: {why}")]
    BadEntityRef {
        /// `principal`, `action` or `resource`.
        field: String,
        /// Why.
        why: String,
    },
    /// `context` is not an object.
    #[error("request field `context` must be an object, found {0}")]
    ContextNotObject(&'static str),
    /// A fractional number (Cedar has none).
    #[error("request field `context`: {0}")]
    NonInteger(#[from] NonIntegerNumber),
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The request hash (see [`ProposedAction::hash`]): the canonical JSON of
/// `{"action", "context", "principal", "resource"}` (keys in canonical order, entity references
/// as `{"id", "type"}`) written straight from the parts, without building that JSON value.
/// `tests` hold it equal to hashing the value.
fn request_hash(
    principal: &EntityRef,
    action: &EntityRef,
    resource: &EntityRef,
    context: &Map<String, Value>,
) -> Result<Sha256Digest, NonIntegerNumber> {
    let entity = |e: &EntityRef, out: &mut String| {
        out.push_str("{\"id\":");
        canonical::write_json_string(e.id(), out);
        out.push_str(",\"type\":");
        canonical::write_json_string(&e.type_name(), out);
        out.push('}');
    };
    let mut out = String::with_capacity(256);
    out.push_str("{\"action\":");
    entity(action, &mut out);
    out.push_str(",\"context\":");
    canonical::write_object(context, &mut out, "/context")?;
    out.push_str(",\"principal\":");
    entity(principal, &mut out);
    out.push_str(",\"resource\":");
    entity(resource, &mut out);
    out.push('}');
    Ok(Sha256Digest::of_bytes(out.as_bytes()))
}

/// An action an agent proposes: who, what, on what, in which context — as the caller sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedAction {
    /// Who acts (usually an agent).
    pub principal: EntityRef,
    /// The action, e.g. `Action::"deploy"`.
    pub action: EntityRef,
    /// What it acts on.
    pub resource: EntityRef,
    /// The context as given (before tollgate fills `now`).
    pub context: Map<String, Value>,
    hash: Sha256Digest,
}

impl ProposedAction {
    /// Builds a request; fails on fractional numbers anywhere in the context.
    pub fn new(
        principal: EntityRef,
        action: EntityRef,
        resource: EntityRef,
        context: Map<String, Value>,
    ) -> Result<Self, RequestError> {
        let hash = request_hash(&principal, &action, &resource, &context)?;
        Ok(Self {
            principal,
            action,
            resource,
            context,
            hash,
        })
    }

    /// Reads Cedar's JSON request shape. A missing `context` is the empty record.
    pub fn from_json(value: &Value) -> Result<Self, RequestError> {
        Self::from_json_value(value.clone())
    }

    /// [`ProposedAction::from_json`], taking the value (its context is kept, not copied).
    pub fn from_json_value(value: Value) -> Result<Self, RequestError> {
        let Value::Object(mut map) = value else {
            return Err(RequestError::Json(format!(
                "expected an object, found {}",
                kind(&value)
            )));
        };
        if let Some(k) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "principal" | "action" | "resource" | "context"))
        {
            return Err(RequestError::UnknownField(k.clone()));
        }
        let field = |name: &'static str| -> Result<EntityRef, RequestError> {
            EntityRef::from_json(map.get(name).ok_or(RequestError::Missing(name))?, name)
        };
        let (principal, action, resource) =
            (field("principal")?, field("action")?, field("resource")?);
        let context = match map.remove("context") {
            None => Map::new(),
            Some(Value::Object(c)) => c,
            Some(other) => return Err(RequestError::ContextNotObject(kind(&other))),
        };
        Self::new(principal, action, resource, context)
    }

    /// Parses JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, RequestError> {
        let value = crate::json::parse(text).map_err(|e| RequestError::Json(e.to_string()))?;
        Self::from_json_value(value)
    }

    /// The request hash: `sha256:` over the canonical JSON of
    /// `{"principal", "action", "resource"` as `{"type", "id"}`, `"context"` as given`}`.
    /// Approvals name it, so an approval for one request never counts for another.
    pub fn hash(&self) -> Sha256Digest {
        self.hash
    }

    /// The hash of the call without `context.request_id`: what stays the same when a gateway
    /// repeats one proposed action with a fresh request id. `tollgate serve` keeps one open
    /// approval request per call key, so a retry finds the approval already under way.
    pub fn call_key(&self) -> Sha256Digest {
        let mut context = self.context.clone();
        context.remove("request_id");
        let canonical = json!({
            "principal": self.principal.to_json(),
            "action": self.action.to_json(),
            "resource": self.resource.to_json(),
            "context": Value::Object(context),
        });
        // The context already hashed once (in `new`); without one key it hashes again.
        Sha256Digest::of_canonical(&canonical).unwrap_or(self.hash)
    }

    /// The request as hashed: entity references normalised, context as given.
    pub fn to_json(&self) -> Value {
        json!({
            "principal": self.principal.to_json(),
            "action": self.action.to_json(),
            "resource": self.resource.to_json(),
            "context": Value::Object(self.context.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_refs_display_as_cedar_does() {
        for id in [
            "triage-bot",
            "a b",
            "",
            "x\"y",
            "x\\y",
            "it's",
            "tab\there",
            "nl\n",
            "é",
            "\u{202e}",
            "~!@#$%^&*()",
        ] {
            let r =
                EntityRef::from_json(&json!({"type": "Ns::Agent", "id": id}), "principal").unwrap();
            assert_eq!(r.to_string(), r.uid().to_string(), "{id:?}");
        }
    }

    #[test]
    fn the_hash_is_that_of_the_canonical_json() {
        for value in [
            json!({"principal": "Agent::\"a\"", "action": "Action::\"go\"", "resource": "R::\"r\""}),
            json!({"principal": {"type": "Ns::A", "id": "q\"\\\u{1}é\u{10000}"}, "action": "Action::\"go\"",
                   "resource": "R::\"r\"", "context": {"z": [1, -2, {"b": true, "a": null}], "\u{e000}": "x", "\u{10000}": 9007199254740993_u64}}),
        ] {
            let r = ProposedAction::from_json(&value).unwrap();
            assert_eq!(
                r.hash(),
                Sha256Digest::of_canonical(&r.to_json()).unwrap(),
                "{value}"
            );
        }
        let fractional = json!({"principal": "A::\"a\"", "action": "Action::\"go\"", "resource": "R::\"r\"",
                                "context": {"x": {"y": [0, 1.5]}}});
        match ProposedAction::from_json(&fractional) {
            Err(RequestError::NonInteger(e)) => assert_eq!(e.path, "/context/x/y/1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_call_key_ignores_only_the_request_id() {
        let req = |ctx: Value| {
            ProposedAction::from_json(&json!({
                "principal": "Agent::\"bot\"", "action": "Action::\"deploy\"",
                "resource": "Environment::\"prod\"", "context": ctx
            }))
            .unwrap()
        };
        let a = req(json!({"request_id": "r1", "x": 1}));
        let b = req(json!({"request_id": "r2", "x": 1}));
        let c = req(json!({"request_id": "r1", "x": 2}));
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.call_key(), b.call_key());
        assert_ne!(a.call_key(), c.call_key());
        assert_eq!(req(json!({"x": 1})).call_key(), a.call_key());
    }

    #[test]
    fn hash_ignores_key_order_and_reference_spelling() {
        let a = ProposedAction::from_json(&json!({
            "principal": "Agent::\"bot\"", "action": "Action::\"deploy\"",
            "resource": {"type": "Environment", "id": "prod"},
            "context": {"b": 1, "a": {"y": [1, 2], "x": "s"}}
        }))
        .unwrap();
        let b = ProposedAction::from_json(&json!({
            "context": {"a": {"x": "s", "y": [1, 2]}, "b": 1},
            "resource": "Environment::\"prod\"",
            "action": {"__entity": {"type": "Action", "id": "deploy"}},
            "principal": {"id": "bot", "type": "Agent"}
        }))
        .unwrap();
        assert_eq!(a.hash(), b.hash());
    }

    #[test]
    fn hash_changes_with_any_field() {
        let base = json!({"principal": "Agent::\"bot\"", "action": "Action::\"deploy\"",
            "resource": "Environment::\"prod\"", "context": {"request_id": "r1"}});
        let h = ProposedAction::from_json(&base).unwrap().hash();
        let mut other = base.clone();
        other["context"]["request_id"] = json!("r2");
        assert_ne!(ProposedAction::from_json(&other).unwrap().hash(), h);
        let mut other = base;
        other["principal"] = json!("Agent::\"bot2\"");
        assert_ne!(ProposedAction::from_json(&other).unwrap().hash(), h);
    }

    #[test]
    fn missing_context_is_empty() {
        let r = ProposedAction::from_json(
            &json!({"principal": "A::\"a\"", "action": "Action::\"x\"", "resource": "R::\"r\""}),
        )
        .unwrap();
        assert!(r.context.is_empty());
    }

    #[test]
    fn rejects_bad_shapes() {
        let cases = [
            json!([]),
            json!({"action": "Action::\"x\"", "resource": "R::\"r\""}),
            json!({"principal": "nope", "action": "Action::\"x\"", "resource": "R::\"r\""}),
            json!({"principal": 3, "action": "Action::\"x\"", "resource": "R::\"r\""}),
            json!({"principal": {"type": "A"}, "action": "Action::\"x\"", "resource": "R::\"r\""}),
            json!({"principal": "A::\"a\"", "action": "Action::\"x\"", "resource": "R::\"r\"", "context": []}),
            json!({"principal": "A::\"a\"", "action": "Action::\"x\"", "resource": "R::\"r\"", "context": {"n": 1.5}}),
            json!({"principal": "A::\"a\"", "action": "Action::\"x\"", "resource": "R::\"r\"", "contxt": {}}),
        ];
        for c in cases {
            assert!(ProposedAction::from_json(&c).is_err(), "{c}");
        }
    }
}
