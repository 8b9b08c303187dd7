//! Checking a request against the schema without Cedar's request validation.
//!
//! Reference path: `Request::new` with the schema (Cedar's request validation), which
//! `pack::decide` runs whenever this check does not vouch for a request, and which the reference
//! decision (`Pack::decide_unindexed`) always runs. Held equal by
//! `admitted_requests_are_admitted_by_cedar` below (generated contexts, both checks) and by the
//! decision differential tests.
//!
//! Cedar's check clones the whole context into an expression tree to type-check it, about a
//! fifth of a decision on the reference pack. This check reads the request's JSON instead, the
//! same JSON `accel::context` built the context from under the same schema types, so it checks
//! the very value Cedar would. It is sound, not complete: it admits a request only when it can
//! tell Cedar would, and answers "cannot tell" for anything unusual, after which Cedar's check
//! runs as before. Unusual is: a schema where a type name could be read two ways (two types with
//! one base name, or a type named like a built-in one), an open record, an enumerated entity
//! type, an action that is undeclared or applies to nothing, and an entity reference not spelt
//! exactly as its type's name.

use std::collections::{BTreeMap, HashMap, HashSet};

use cedar_policy::{EntityTypeName, EntityUid, Schema};
use serde_json::{Map, Value};

use crate::schema::{AttrType, action_uid, members, namespaces, qualify};

/// Per declared action, the principal and resource types and the context type, exactly as
/// Cedar's request validation checks them.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestTypes {
    actions: HashMap<EntityUid, ActionTypes>,
}

#[derive(Debug, Clone)]
struct ActionTypes {
    principals: HashSet<EntityTypeName>,
    resources: HashSet<EntityTypeName>,
    context: Fields,
}

/// A record's attributes. Records are closed: an open one is never read into a `Ty`.
type Fields = BTreeMap<String, Field>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    ty: Ty,
    required: bool,
}

/// A schema type, as far as this check can hold it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    Bool,
    Long,
    String,
    /// An entity of this (fully qualified, not enumerated) type.
    Entity(String),
    Set(Box<Ty>),
    Record(Fields),
    /// `datetime`, `duration`, `ipaddr` or `decimal`.
    Extension(&'static str),
}

/// Names a schema type cannot share without making a reference ambiguous to this reading.
const BUILT_IN: &[&str] = &[
    "Bool",
    "Boolean",
    "Long",
    "String",
    "Set",
    "Record",
    "Entity",
    "EntityOrCommon",
    "Extension",
    "Action",
    "datetime",
    "duration",
    "ipaddr",
    "decimal",
];

const EXTENSIONS: [&str; 4] = ["datetime", "duration", "ipaddr", "decimal"];

impl RequestTypes {
    /// Reads the request types of `schema` from its fragments in Cedar's JSON form. Actions
    /// whose types this cannot hold exactly are left out (Cedar checks their requests), and so
    /// is every action when a type name in the schema could be read two ways. `hints` are the
    /// context types `accel::context` builds contexts with: an action whose hints differ from
    /// the exact types is left out too, so that what is checked is what was built.
    pub(crate) fn read(
        schema: &Schema,
        fragments: &[Value],
        hints: &HashMap<EntityUid, BTreeMap<String, AttrType>>,
    ) -> Self {
        let Some(names) = Names::collect(fragments) else {
            return Self::default();
        };
        let defined: HashSet<&EntityUid> = schema.defined_actions().collect();
        let mut actions = HashMap::new();
        for (ns, def) in namespaces(fragments) {
            for (name, action) in members(def, "actions") {
                let Some(uid) = action_uid(ns, name).filter(|uid| defined.contains(uid)) else {
                    continue;
                };
                let Some(applies_to) = action.get("appliesTo") else {
                    continue;
                };
                let context = match applies_to.get("context") {
                    None => Fields::new(),
                    Some(ty) => match names.resolve(ty, 0) {
                        Some(Ty::Record(fields)) => fields,
                        _ => continue,
                    },
                };
                let no_hints = BTreeMap::new();
                if !agrees_fields(&context, hints.get(&uid).unwrap_or(&no_hints)) {
                    continue;
                }
                let principals = names.plain(schema.principals_for_action(&uid));
                let resources = names.plain(schema.resources_for_action(&uid));
                actions.insert(
                    uid,
                    ActionTypes {
                        principals,
                        resources,
                        context,
                    },
                );
            }
        }
        Self { actions }
    }

    /// Whether Cedar's request validation is sure to accept this request, its context built by
    /// `accel::context` from `context` (plus `now`, a datetime, when `with_now`). `false` means
    /// "cannot tell": Cedar's check must run.
    pub(crate) fn admits(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        context: &Map<String, Value>,
        with_now: bool,
    ) -> bool {
        let Some(types) = self.actions.get(action) else {
            return false;
        };
        if !types.principals.contains(principal.type_name())
            || !types.resources.contains(resource.type_name())
        {
            return false;
        }
        if with_now {
            let now_is_datetime =
                types.context.get(crate::NOW).map(|f| &f.ty) == Some(&Ty::Extension("datetime"));
            if !now_is_datetime || context.contains_key(crate::NOW) {
                return false;
            }
        }
        let supplied = |name: &str| context.contains_key(name) || (with_now && name == crate::NOW);
        fits_record(context, &types.context, supplied)
    }
}

/// Whether a record value built from `map` has the closed record type `fields`; `supplied` says
/// which attributes the value has.
fn fits_record(map: &Map<String, Value>, fields: &Fields, supplied: impl Fn(&str) -> bool) -> bool {
    map.iter()
        .all(|(k, v)| fields.get(k).is_some_and(|f| fits(v, &f.ty)))
        && fields.iter().all(|(name, f)| !f.required || supplied(name))
}

/// Whether the value `accel::context` builds from `v` (under the hint that agrees with `ty`)
/// has type `ty`.
fn fits(v: &Value, ty: &Ty) -> bool {
    match (ty, v) {
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Long, Value::Number(n)) => n.as_i64().is_some(),
        // An extension value is built by its constructor from the string, as its type says.
        (Ty::String | Ty::Extension(_), Value::String(_)) => true,
        (Ty::Entity(name), Value::Object(map)) => {
            map.len() == 2
                && map.get("type").and_then(Value::as_str) == Some(name.as_str())
                && map.get("id").is_some_and(Value::is_string)
        }
        (Ty::Set(element), Value::Array(items)) => items.iter().all(|item| fits(item, element)),
        (Ty::Record(fields), Value::Object(map)) => {
            !map.keys().any(|k| k.starts_with("__"))
                && fits_record(map, fields, |name| map.contains_key(name))
        }
        _ => false,
    }
}

/// Whether the hints `accel::context` builds with lead it to build values of these types:
/// entities where an entity is expected, the same extension's constructor, and so on.
fn agrees_fields(fields: &Fields, hints: &BTreeMap<String, AttrType>) -> bool {
    fields.len() == hints.len()
        && fields
            .iter()
            .all(|(name, f)| hints.get(name).is_some_and(|h| agrees(&f.ty, h)))
}

fn agrees(ty: &Ty, hint: &AttrType) -> bool {
    match (ty, hint) {
        (Ty::Bool | Ty::Long | Ty::String, AttrType::Other) => true,
        (Ty::Entity(a), AttrType::Entity(b)) => a == b,
        (Ty::Set(a), AttrType::Set(b)) => agrees(a, b),
        (Ty::Record(a), AttrType::Record(b)) => agrees_fields(a, b),
        (Ty::Extension(a), AttrType::Extension(b)) => a == b,
        _ => false,
    }
}

/// The schema's common and entity types by base name, each base name used once.
struct Names<'a> {
    common: HashMap<&'a str, &'a Value>,
    entities: HashMap<&'a str, String>,
    enumerated: HashSet<String>,
}

impl<'a> Names<'a> {
    /// `None` when two types share a base name or one is named like a built-in type: a
    /// reference could then be read two ways, and this reading might not be Cedar's.
    fn collect(fragments: &'a [Value]) -> Option<Self> {
        let mut names = Names {
            common: HashMap::new(),
            entities: HashMap::new(),
            enumerated: HashSet::new(),
        };
        let mut seen = HashSet::new();
        for (ns, def) in namespaces(fragments) {
            for (name, ty) in members(def, "commonTypes") {
                if !seen.insert(name.as_str()) {
                    return None;
                }
                names.common.insert(name, ty);
            }
            for (name, ty) in members(def, "entityTypes") {
                if !seen.insert(name.as_str()) {
                    return None;
                }
                let qualified = qualify(ns, name);
                if ty.get("enum").is_some() {
                    names.enumerated.insert(qualified.clone());
                }
                names.entities.insert(name, qualified);
            }
        }
        if seen.iter().any(|name| BUILT_IN.contains(name)) {
            return None;
        }
        Some(names)
    }

    /// The type `ty` (a JSON schema type) denotes, or `None` if this cannot hold it exactly.
    fn resolve(&self, ty: &Value, depth: usize) -> Option<Ty> {
        if depth > 32 {
            return None;
        }
        let kind = ty.get("type").and_then(Value::as_str)?;
        let name = || ty.get("name").and_then(Value::as_str);
        match kind {
            "Record" => {
                if ty.get("additionalAttributes").and_then(Value::as_bool) == Some(true) {
                    return None;
                }
                let mut fields = Fields::new();
                for (k, v) in members(ty, "attributes") {
                    let required = match v.get("required") {
                        None => true,
                        Some(r) => r.as_bool()?,
                    };
                    fields.insert(
                        k.clone(),
                        Field {
                            ty: self.resolve(v, depth + 1)?,
                            required,
                        },
                    );
                }
                Some(Ty::Record(fields))
            }
            "Set" => Some(Ty::Set(Box::new(
                self.resolve(ty.get("element")?, depth + 1)?,
            ))),
            "Entity" => self.entity(name()?),
            "Extension" => extension(base(name()?)),
            "EntityOrCommon" => self.named(name()?, depth),
            other => self.named(other, depth),
        }
    }

    /// A type named by reference: a common type, an entity type or a built-in one. Base names
    /// are unique (see `collect`), so the base name says which.
    fn named(&self, name: &str, depth: usize) -> Option<Ty> {
        let short = base(name);
        if let Some(def) = self.common.get(short) {
            return self.resolve(def, depth + 1);
        }
        if self.entities.contains_key(short) {
            return self.entity(name);
        }
        match short {
            "Bool" | "Boolean" => Some(Ty::Bool),
            "Long" => Some(Ty::Long),
            "String" => Some(Ty::String),
            _ => extension(short),
        }
    }

    /// The entity types of `types` that are not enumerated (an enumerated one's ids are
    /// checked too, which this leaves to Cedar).
    fn plain<'t>(
        &self,
        types: Option<impl Iterator<Item = &'t EntityTypeName>>,
    ) -> HashSet<EntityTypeName> {
        types
            .into_iter()
            .flatten()
            .filter(|t| !self.enumerated.contains(&t.to_string()))
            .cloned()
            .collect()
    }

    fn entity(&self, name: &str) -> Option<Ty> {
        let qualified = self.entities.get(base(name))?;
        (!self.enumerated.contains(qualified)).then(|| Ty::Entity(qualified.clone()))
    }
}

fn base(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

fn extension(name: &str) -> Option<Ty> {
    EXTENSIONS
        .iter()
        .find(|e| **e == name)
        .map(|e| Ty::Extension(e))
}

#[cfg(test)]
mod tests {
    use cedar_policy::{Context, Request};
    use serde_json::json;

    use crate::accel::context::direct_context;
    use crate::schema::PackSchema;
    use crate::source::SourceFile;

    fn load(name: &str, text: &str) -> PackSchema {
        PackSchema::load(&[SourceFile::new(name, text)]).unwrap()
    }

    /// Whether the check vouches for the request, and whether Cedar accepts it.
    fn both(
        schema: &PackSchema,
        p: &str,
        a: &str,
        r: &str,
        context: serde_json::Value,
    ) -> (bool, bool) {
        let (p, a, r) = (p.parse().unwrap(), a.parse().unwrap(), r.parse().unwrap());
        let context = context.as_object().unwrap().clone();
        let vouched = schema.request_types().admits(&p, &a, &r, &context, false);
        // Where the fast context is not built, decisions never ask the check: Cedar parses.
        let Some(built) = direct_context(&context, schema.context_type(&a), None) else {
            let json = serde_json::Value::Object(context);
            let parsed = Context::from_json_value(json, Some((schema.cedar(), &a)));
            let cedar =
                parsed.is_ok_and(|c| Request::new(p, a, r, c, Some(schema.cedar())).is_ok());
            return (false, cedar);
        };
        let cedar = Request::new(p, a, r, built, Some(schema.cedar())).is_ok();
        assert!(!vouched || cedar, "vouched for what Cedar refuses");
        (vouched, cedar)
    }

    const NAMESPACED: &str = r#"
        namespace Shop {
            entity User; entity Item { price: Long };
            type Line = { item: Item, count: Long, note?: String };
            action buy appliesTo {
                principal: [User], resource: [Item],
                context: { lines: Set<Line>, at: datetime, gift?: Bool, by?: User }
            };
            action look appliesTo { principal: [User], resource: [Item] };
        }
    "#;

    #[test]
    fn vouches_exactly_where_cedar_accepts_in_a_namespaced_schema() {
        let s = load("s.cedarschema", NAMESPACED);
        let (user, buy, item) = (
            "Shop::User::\"u\"",
            "Shop::Action::\"buy\"",
            "Shop::Item::\"i\"",
        );
        let line = json!({"item": {"type": "Shop::Item", "id": "i"}, "count": 2});
        let good =
            json!({"lines": [line], "at": "2026-06-01", "by": {"type": "Shop::User", "id": "v"}});
        assert_eq!(both(&s, user, buy, item, good), (true, true));
        // An optional attribute may be left out; a required one may not.
        assert_eq!(
            both(
                &s,
                user,
                buy,
                item,
                json!({"lines": [], "at": "2026-06-01"})
            ),
            (true, true)
        );
        assert!(!both(&s, user, buy, item, json!({"lines": []})).1);
        // Wrong types, unknown attributes, and entities of another type are refused by both.
        for bad in [
            json!({"lines": [], "at": "2026-06-01", "gift": "yes"}),
            json!({"lines": [{"item": {"type": "Shop::User", "id": "i"}, "count": 1}], "at": "2026-06-01"}),
            json!({"lines": [{"item": {"type": "Shop::Item", "id": "i"}, "count": 1, "extra": 1}], "at": "2026-06-01"}),
            json!({"lines": [], "at": "2026-06-01", "extra": true}),
            json!({"lines": [], "at": "2026-06-01", "by": {"type": "Shop::Item", "id": "i"}}),
        ] {
            assert_eq!(
                both(&s, user, buy, item, bad.clone()),
                (false, false),
                "{bad}"
            );
        }
        // The wrong principal or resource type, and an action that has no context.
        assert_eq!(
            both(
                &s,
                item,
                buy,
                item,
                json!({"lines": [], "at": "2026-06-01"})
            ),
            (false, false)
        );
        assert_eq!(
            both(
                &s,
                user,
                buy,
                user,
                json!({"lines": [], "at": "2026-06-01"})
            ),
            (false, false)
        );
        assert_eq!(
            both(&s, user, "Shop::Action::\"look\"", item, json!({})),
            (true, true)
        );
        assert_eq!(
            both(&s, user, "Shop::Action::\"look\"", item, json!({"x": 1})),
            (false, false)
        );
        // A reference spelt otherwise than as its type's name is left to Cedar, which reads it.
        let spaced =
            json!({"lines": [], "at": "2026-06-01", "by": {"type": "Shop :: User", "id": "v"}});
        assert!(!both(&s, user, buy, item, spaced).0);
    }

    #[test]
    fn names_that_could_be_read_two_ways_turn_the_check_off() {
        // `Item` is an entity type in one namespace and a common type in another.
        let s = load(
            "s.cedarschema",
            r#"
            namespace A { entity User; entity Item; action go appliesTo { principal: [User], resource: [Item] }; }
            namespace B { type Item = { n: Long }; }
            "#,
        );
        let (p, a, r) = ("A::User::\"u\"", "A::Action::\"go\"", "A::Item::\"i\"");
        assert_eq!(both(&s, p, a, r, json!({})), (false, true));
        // A type named like a built-in one (the JSON form allows it).
        let s = load(
            "s.json",
            r#"{"": {
                "commonTypes": {"ipaddr": {"type": "String"}},
                "entityTypes": {"U": {}},
                "actions": {"go": {"appliesTo": {"principalTypes": ["U"], "resourceTypes": ["U"],
                    "context": {"type": "Record", "attributes": {"n": {"type": "ipaddr"}}}}}}
            }}"#,
        );
        assert_eq!(
            both(
                &s,
                "U::\"u\"",
                "Action::\"go\"",
                "U::\"u\"",
                json!({"n": "x"})
            ),
            (false, true)
        );
    }

    /// (Cedar refuses open records, `additionalAttributes`, in schemas today; the check would
    /// leave them to Cedar too.)
    #[test]
    fn enumerated_entity_types_are_left_to_cedar() {
        let s = load(
            "s.json",
            r#"{"": {
                "entityTypes": {
                    "U": {},
                    "Color": {"enum": ["red", "blue"]}
                },
                "actions": {
                    "paint": {"appliesTo": {"principalTypes": ["U"], "resourceTypes": ["Color"]}},
                    "pick": {"appliesTo": {"principalTypes": ["U"], "resourceTypes": ["U"],
                        "context": {"type": "Record", "attributes": {"c": {"type": "Entity", "name": "Color"}}}}}
                }
            }}"#,
        );
        let (u, red, purple) = ("U::\"u\"", "Color::\"red\"", "Color::\"purple\"");
        assert_eq!(
            both(&s, u, "Action::\"paint\"", red, json!({})),
            (false, true)
        );
        assert_eq!(
            both(&s, u, "Action::\"paint\"", purple, json!({})),
            (false, false)
        );
        let c = |id: &str| json!({"c": {"type": "Color", "id": id}});
        assert_eq!(both(&s, u, "Action::\"pick\"", u, c("blue")), (false, true));
        assert_eq!(
            both(&s, u, "Action::\"pick\"", u, c("purple")),
            (false, false)
        );
    }
}
