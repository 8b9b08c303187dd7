//! The pack's Cedar schema and the tollgate annotations read from it.
//!
//! `@human` on an entity type marks the principals that may approve; `@privilege_expansion` on
//! an action marks where an agent's privileges grow (the point a human gate must come before).
//! Both are plain Cedar schema annotations, read from the fragments the schema is built from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use cedar_policy::{EntityId, EntityNamespace, EntityTypeName, EntityUid, Schema, SchemaFragment};
use serde_json::Value;

use crate::accel::request_check::RequestTypes;
use crate::annotations::{SCHEMA_KEYS, find_in_cedar, find_in_json, keys_help, misspelling_of};
use crate::model::request::EntityRef;
use crate::source::{DiagnosticCode, SourceDiagnostic, SourceFile};

pub(crate) mod actions;

use actions::ActionHierarchy;

/// Annotation marking an entity type whose entities are people.
pub const HUMAN_ANNOTATION: &str = "human";
/// Annotation marking an action that expands the principal's privileges.
pub const EXPANSION_ANNOTATION: &str = "privilege_expansion";

/// A validated schema with tollgate's annotations resolved.
#[derive(Debug, Clone)]
pub struct PackSchema {
    pub(crate) schema: Schema,
    human_types: BTreeSet<String>,
    expansion_actions: BTreeMap<String, String>,
    context_types: HashMap<EntityUid, BTreeMap<String, AttrType>>,
    entity_shapes: HashMap<String, BTreeMap<String, AttrType>>,
    /// Each fragment in Cedar's JSON schema form (`None` if one has none), for scoped validation.
    fragments_json: Option<Vec<Value>>,
    /// The action groups (empty if Cedar could not list the action entities).
    hierarchy: ActionHierarchy,
    /// Whether `hierarchy` is every group there is: the schema declares no external actions
    /// and Cedar listed its action entities.
    hierarchy_complete: bool,
    /// For every declared action, its namespace and `appliesTo` as JSON text: actions with the
    /// same key have the same request environments.
    environments: HashMap<EntityUid, String>,
    /// Each action's request types as Cedar's request validation checks them, where they can
    /// be held exactly (see `accel::request_check`).
    request_types: RequestTypes,
}

/// The type of an attribute as far as analysis and context building need it: entities, records,
/// sets and extension types are followed, primitives are opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttrType {
    /// An entity of this (fully qualified) type.
    Entity(String),
    /// A record with these attributes.
    Record(BTreeMap<String, AttrType>),
    /// A set of elements of this type.
    Set(Box<AttrType>),
    /// An extension value: `datetime`, `duration`, `ipaddr` or `decimal`.
    Extension(String),
    /// A primitive value.
    Other,
}

impl PackSchema {
    /// Parses and combines schema files. Errors name the file and position.
    pub(crate) fn load(files: &[SourceFile]) -> Result<Self, Vec<SourceDiagnostic>> {
        let mut fragments = Vec::new();
        let mut problems = Vec::new();
        for file in files {
            match parse_fragment(file) {
                Ok(f) => fragments.push(f),
                Err(d) => problems.push(*d),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let schema = Schema::from_schema_fragments(fragments.iter().cloned()).map_err(|e| {
            let labels = miette::Diagnostic::labels(&e)
                .map(|l| l.collect())
                .unwrap_or_default();
            // A cross-fragment error (e.g. an undeclared type) has no single home; blame the
            // first schema file so the message still names a file.
            let home = files
                .first()
                .cloned()
                .unwrap_or_else(|| SourceFile::new("<schema>", ""));
            vec![
                SourceDiagnostic::new(DiagnosticCode::Schema, &home, (0, 0).into(), e.to_string())
                    .with_labels(labels, &home.text),
            ]
        })?;
        let misspelled = misspelled_annotations(&schema, files, &fragments);
        if !misspelled.is_empty() {
            return Err(misspelled);
        }

        let mut human_types = BTreeSet::new();
        for ty in schema.entity_types() {
            if fragments.iter().any(|f| {
                f.entity_type_annotation(
                    namespace_of(&ty.namespace()),
                    ty.basename(),
                    HUMAN_ANNOTATION,
                )
                .is_some()
            }) {
                human_types.insert(ty.to_string());
            }
        }
        let mut marked = BTreeMap::new();
        for action in schema.actions() {
            let ns = namespace_of(&action.type_name().namespace());
            if let Some(why) = fragments
                .iter()
                .find_map(|f| f.action_annotation(ns.clone(), action.id(), EXPANSION_ANNOTATION))
            {
                marked.insert(action.clone(), why.to_string());
            }
        }
        let hierarchy = ActionHierarchy::of(&schema);
        let expansion_actions =
            expansion_closure(&marked, hierarchy.as_ref().ok(), schema.actions());
        let fragments_json: Option<Vec<Value>> = fragments
            .into_iter()
            .map(|f| f.to_json_value().ok())
            .collect();
        let types = SchemaTypes::read(fragments_json.as_deref().unwrap_or_default());
        let hierarchy_complete = hierarchy.is_ok() && schema.is_complete();
        let request_types = RequestTypes::read(
            &schema,
            fragments_json.as_deref().unwrap_or_default(),
            &types.contexts,
        );
        Ok(Self {
            schema,
            human_types,
            expansion_actions,
            context_types: types.contexts,
            entity_shapes: types.shapes,
            environments: types.environments,
            fragments_json,
            hierarchy: hierarchy.unwrap_or_default(),
            hierarchy_complete,
            request_types,
        })
    }

    /// The Cedar schema.
    pub(crate) fn cedar(&self) -> &Schema {
        &self.schema
    }

    /// Whether entities of type `ty` (e.g. `Human`) are people who may approve.
    pub fn is_human_type(&self, ty: &str) -> bool {
        self.human_types.contains(ty)
    }

    /// Entity types marked `@human`.
    pub fn human_types(&self) -> impl Iterator<Item = &str> {
        self.human_types.iter().map(String::as_str)
    }

    /// Actions that expand privilege, as `Action::"id"` with the annotation's text: those
    /// marked `@privilege_expansion` and every action (transitively) in a marked group.
    pub fn expansion_actions(&self) -> &BTreeMap<String, String> {
        &self.expansion_actions
    }

    /// Whether `action` is marked `@privilege_expansion`, itself or through a group it is in.
    pub fn is_expansion(&self, action: &EntityRef) -> bool {
        self.is_expansion_uid(action.uid())
    }

    /// [`PackSchema::is_expansion`] for a Cedar uid.
    pub(crate) fn is_expansion_uid(&self, action: &EntityUid) -> bool {
        self.expansion_actions.contains_key(&action.to_string())
    }

    /// Whether the context of `action` declares a top-level attribute `name`.
    pub fn context_declares(&self, action: &EntityRef, name: &str) -> bool {
        self.context_types
            .get(action.uid())
            .is_some_and(|attrs| attrs.contains_key(name))
    }

    /// The context attributes of `action` with their types.
    pub(crate) fn context_type(&self, action: &EntityUid) -> Option<&BTreeMap<String, AttrType>> {
        self.context_types.get(action)
    }

    /// Each schema fragment in Cedar's JSON form, if every fragment has one.
    pub(crate) fn fragments_json(&self) -> Option<&[Value]> {
        self.fragments_json.as_deref()
    }

    /// The schema's action groups, as far as it declares them.
    pub(crate) fn action_hierarchy(&self) -> &ActionHierarchy {
        &self.hierarchy
    }

    /// The action groups when they are known to be all there are (see
    /// [`actions::ActionScope::reach`]), `None` otherwise.
    pub(crate) fn complete_action_hierarchy(&self) -> Option<&ActionHierarchy> {
        self.hierarchy_complete.then_some(&self.hierarchy)
    }

    /// Every declared action, in order.
    pub(crate) fn actions(&self) -> impl Iterator<Item = &EntityUid> {
        self.schema.actions()
    }

    /// The namespace and `appliesTo` of `action` as one key: actions with equal keys have the
    /// same request environments.
    pub(crate) fn environment_key(&self, action: &EntityUid) -> Option<&str> {
        self.environments.get(action).map(String::as_str)
    }

    /// The request types Cedar's request validation checks, for the check that can stand in
    /// for it.
    pub(crate) fn request_types(&self) -> &RequestTypes {
        &self.request_types
    }

    /// The attributes of entity type `ty` (fully qualified) with their types.
    pub(crate) fn entity_shape(&self, ty: &str) -> Option<&BTreeMap<String, AttrType>> {
        self.entity_shapes.get(ty)
    }
}

/// The expansion actions: each action marked `@privilege_expansion` (`marked`, with its text)
/// and every declared action (transitively) in a marked group.
///
/// Marking a group must mark its members: a policy names the members in requests, and a mark
/// that reached only the group's own uid (which no request names) would leave every member
/// ungated without a word. A member's own text wins; one in several marked groups takes the
/// text of the first of them in uid order, so the result does not depend on declaration order.
/// Without a `hierarchy` (Cedar could not list the action entities) only the marks themselves
/// count.
fn expansion_closure<'a>(
    marked: &BTreeMap<EntityUid, String>,
    hierarchy: Option<&ActionHierarchy>,
    actions: impl Iterator<Item = &'a EntityUid>,
) -> BTreeMap<String, String> {
    actions
        .filter_map(|action| {
            let own = marked.get(action);
            let inherited = || {
                let groups = hierarchy.into_iter().flat_map(|h| h.groups_of(action));
                groups.filter_map(|g| marked.get(g)).next()
            };
            own.or_else(inherited)
                .map(|why| (action.to_string(), why.clone()))
        })
        .collect()
}

/// Annotations on entity types and actions whose key is a near miss of `@human` or
/// `@privilege_expansion` (see [`crate::annotations`]): a typo there would silently make people
/// unable to approve, or an expansion ungated. `fragments` are `files` parsed, in order.
fn misspelled_annotations(
    schema: &Schema,
    files: &[SourceFile],
    fragments: &[SchemaFragment],
) -> Vec<SourceDiagnostic> {
    let mut out = Vec::new();
    for (file, fragment) in files.iter().zip(fragments) {
        let mut keys: Vec<(String, String)> = Vec::new();
        for ty in schema.entity_types() {
            let ns = namespace_of(&ty.namespace());
            if let Some(annotations) = fragment.entity_type_annotations(ns, ty.basename()) {
                keys.extend(annotations.map(|(k, _)| (format!("entity type `{ty}`"), k.into())));
            }
        }
        for action in schema.actions() {
            let ns = namespace_of(&action.type_name().namespace());
            if let Some(annotations) = fragment.action_annotations(ns, action.id()) {
                keys.extend(annotations.map(|(k, _)| (format!("action `{action}`"), k.into())));
            }
        }
        for (what, key) in keys {
            let Some(meant) = misspelling_of(&key, SCHEMA_KEYS) else {
                continue;
            };
            let at = if file.name.ends_with(".json") {
                find_in_json(&file.text, &key)
            } else {
                find_in_cedar(&file.text, &key)
            };
            let span = at.map_or((0, 0), |o| (o, key.len() + 1));
            out.push(
                SourceDiagnostic::new(
                    DiagnosticCode::MisspelledAnnotation,
                    file,
                    span.into(),
                    format!(
                        "{what}: `@{key}` is not an annotation tollgate reads: did you mean `@{meant}`?"
                    ),
                )
                .with_help(keys_help(SCHEMA_KEYS, "schema entity types and actions")),
            );
        }
    }
    out.sort_by(|a, b| (&a.file, a.position, &a.message).cmp(&(&b.file, b.position, &b.message)));
    out
}

fn namespace_of(ns: &str) -> Option<EntityNamespace> {
    if ns.is_empty() {
        None
    } else {
        EntityNamespace::from_str(ns).ok()
    }
}

fn parse_fragment(file: &SourceFile) -> Result<SchemaFragment, Box<SourceDiagnostic>> {
    let result = if file.name.ends_with(".json") {
        SchemaFragment::from_json_str(&file.text).map_err(|e| {
            let labels = miette::Diagnostic::labels(&e)
                .map(|l| l.collect())
                .unwrap_or_default();
            (e.to_string(), labels)
        })
    } else {
        SchemaFragment::from_cedarschema_str(&file.text)
            .map(|(f, _warnings)| f)
            .map_err(|e| {
                let labels = miette::Diagnostic::labels(&e)
                    .map(|l| l.collect())
                    .unwrap_or_default();
                (e.to_string(), labels)
            })
    };
    result.map_err(|(message, labels)| {
        Box::new(
            SourceDiagnostic::new(DiagnosticCode::Schema, file, (0, 0).into(), message)
                .with_labels(labels, &file.text),
        )
    })
}

/// Context and entity attribute types, read from the fragments' JSON form so that common-type
/// references (`context: AgentContext`) are followed.
struct SchemaTypes {
    contexts: HashMap<EntityUid, BTreeMap<String, AttrType>>,
    shapes: HashMap<String, BTreeMap<String, AttrType>>,
    environments: HashMap<EntityUid, String>,
}

impl SchemaTypes {
    fn read(jsons: &[Value]) -> Self {
        let mut common: HashMap<String, Value> = HashMap::new();
        let mut entity_types: BTreeSet<String> = BTreeSet::new();
        for (ns, def) in namespaces(jsons) {
            for (name, ty) in members(def, "commonTypes") {
                common.insert(qualify(ns, name), ty.clone());
            }
            for name in members(def, "entityTypes").map(|(name, _)| name) {
                entity_types.insert(qualify(ns, name));
            }
        }
        let resolver = Resolver {
            common: &common,
            entity_types: &entity_types,
        };
        let mut contexts = HashMap::new();
        let mut shapes = HashMap::new();
        let mut environments = HashMap::new();
        for (ns, def) in namespaces(jsons) {
            for (name, ty) in members(def, "entityTypes") {
                let shape = match ty.get("shape") {
                    Some(shape) => match resolver.resolve(shape, ns, 0) {
                        AttrType::Record(attrs) => attrs,
                        _ => BTreeMap::new(),
                    },
                    None => BTreeMap::new(),
                };
                shapes.insert(qualify(ns, name), shape);
            }
            for (name, action) in members(def, "actions") {
                let applies_to = action.get("appliesTo");
                if let Some(uid) = action_uid(ns, name) {
                    let key = format!("{ns}\u{0}{}", applies_to.unwrap_or(&Value::Null));
                    environments.insert(uid, key);
                }
                let Some(context) = applies_to.and_then(|a| a.get("context")) else {
                    continue;
                };
                let attrs = match resolver.resolve(context, ns, 0) {
                    AttrType::Record(attrs) => attrs,
                    _ => BTreeMap::new(),
                };
                if let Some(uid) = action_uid(ns, name) {
                    contexts.insert(uid, attrs);
                }
            }
        }
        Self {
            contexts,
            shapes,
            environments,
        }
    }
}

struct Resolver<'a> {
    common: &'a HashMap<String, Value>,
    entity_types: &'a BTreeSet<String>,
}

impl Resolver<'_> {
    /// The type a JSON schema type denotes. Common types may refer to each other; the depth
    /// bound keeps a malformed schema from looping.
    fn resolve(&self, ty: &Value, ns: &str, depth: usize) -> AttrType {
        if depth > 32 {
            return AttrType::Other;
        }
        let kind = ty.get("type").and_then(Value::as_str).unwrap_or_default();
        let name = ty.get("name").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "Record" => AttrType::Record(
                members(ty, "attributes")
                    .map(|(k, v)| (k.clone(), self.resolve(v, ns, depth + 1)))
                    .collect(),
            ),
            "Set" => AttrType::Set(Box::new(
                ty.get("element")
                    .map_or(AttrType::Other, |e| self.resolve(e, ns, depth + 1)),
            )),
            "Entity" => AttrType::Entity(self.qualified(name, ns)),
            "EntityOrCommon" => self.named(name, ns, depth),
            "Extension" => extension(name).unwrap_or(AttrType::Other),
            "Boolean" | "Long" | "String" => AttrType::Other,
            other => self.named(other, ns, depth),
        }
    }

    fn named(&self, name: &str, ns: &str, depth: usize) -> AttrType {
        let candidates = [qualify(ns, name), name.to_string()];
        if let Some(def) = candidates.iter().find_map(|c| self.common.get(c)) {
            return self.resolve(def, ns, depth + 1);
        }
        match candidates.iter().find(|c| self.entity_types.contains(*c)) {
            Some(entity) => AttrType::Entity(entity.clone()),
            None => extension(name).unwrap_or(AttrType::Other),
        }
    }

    fn qualified(&self, name: &str, ns: &str) -> String {
        let local = qualify(ns, name);
        if name.contains("::") || !self.entity_types.contains(&local) {
            name.to_string()
        } else {
            local
        }
    }
}

/// The extension type `name` denotes (`datetime` or `__cedar::datetime`), if any.
fn extension(name: &str) -> Option<AttrType> {
    let name = name.strip_prefix("__cedar::").unwrap_or(name);
    matches!(name, "datetime" | "duration" | "ipaddr" | "decimal")
        .then(|| AttrType::Extension(name.to_string()))
}

/// The namespaces of schema fragments in Cedar's JSON form, as (name, definition) pairs.
pub(crate) fn namespaces(fragments: &[Value]) -> impl Iterator<Item = (&String, &Value)> {
    fragments
        .iter()
        .flat_map(|json| json.as_object().into_iter().flatten())
}

/// The members of the JSON object under `key` in `def` (none if it is missing or not an
/// object): a namespace's `commonTypes`, `entityTypes` or `actions`, a record's `attributes`.
pub(crate) fn members<'a>(
    def: &'a Value,
    key: &str,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    def.get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// The action `name` declared in namespace `ns` of a JSON schema fragment (`""` for none).
pub(crate) fn action_uid(ns: &str, name: &str) -> Option<EntityUid> {
    let ty = EntityTypeName::from_str(&qualify(ns, "Action")).ok()?;
    Some(EntityUid::from_type_name_and_id(ty, EntityId::new(name)))
}

pub(crate) fn qualify(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}::{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> PackSchema {
        PackSchema::load(&[SourceFile::new("s.cedarschema", text)]).unwrap()
    }

    fn expansions(schema: &PackSchema) -> Vec<(&str, &str)> {
        schema
            .expansion_actions()
            .iter()
            .map(|(a, why)| (a.as_str(), why.as_str()))
            .collect()
    }

    #[test]
    fn a_marked_group_marks_its_members_and_theirs() {
        let schema = load(
            r#"
            entity A;
            @privilege_expansion("grows privilege")
            action "expand_privilege";
            action "delegation" in ["expand_privilege"];
            action add_scope in ["expand_privilege"] appliesTo { principal: [A], resource: [A] };
            @privilege_expansion("hands authority on")
            action delegate in ["delegation"] appliesTo { principal: [A], resource: [A] };
            action sub_delegate in ["delegation"] appliesTo { principal: [A], resource: [A] };
            action read appliesTo { principal: [A], resource: [A] };
            "#,
        );
        assert_eq!(
            expansions(&schema),
            [
                ("Action::\"add_scope\"", "grows privilege"),
                // A member's own annotation wins over its group's.
                ("Action::\"delegate\"", "hands authority on"),
                ("Action::\"delegation\"", "grows privilege"),
                ("Action::\"expand_privilege\"", "grows privilege"),
                // A member of a member.
                ("Action::\"sub_delegate\"", "grows privilege"),
            ]
        );
        let read: EntityRef = "Action::\"read\"".parse().unwrap();
        let nested: EntityRef = "Action::\"sub_delegate\"".parse().unwrap();
        assert!(schema.is_expansion(&nested) && !schema.is_expansion(&read));
    }

    #[test]
    fn marks_on_members_alone_do_not_reach_the_group_or_siblings() {
        let schema = load(
            r#"
            entity A;
            action "expand_privilege";
            @privilege_expansion("adds a scope")
            action add_scope in ["expand_privilege"] appliesTo { principal: [A], resource: [A] };
            action other in ["expand_privilege"] appliesTo { principal: [A], resource: [A] };
            "#,
        );
        assert_eq!(
            expansions(&schema),
            [("Action::\"add_scope\"", "adds a scope")]
        );
    }
}
