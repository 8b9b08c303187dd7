//! The pack's Cedar schema and the tollgate annotations read from it.
//!
//! `@human` on an entity type marks the principals that may approve; `@privilege_expansion` on
//! an action marks where an agent's privileges grow (the point a human gate must come before).
//! Both are plain Cedar schema annotations, read from the fragments the schema is built from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use cedar_policy::{EntityId, EntityNamespace, EntityTypeName, EntityUid, Schema, SchemaFragment};
use serde_json::Value;

use crate::source::{SourceDiagnostic, SourceFile};

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
    context_attributes: HashMap<EntityUid, BTreeSet<String>>,
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
                SourceDiagnostic::new("tollgate::schema", &home, (0, 0).into(), e.to_string())
                    .with_labels(labels, &home.text),
            ]
        })?;

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
        let mut expansion_actions = BTreeMap::new();
        for action in schema.actions() {
            let ns = namespace_of(&action.type_name().namespace());
            if let Some(why) = fragments
                .iter()
                .find_map(|f| f.action_annotation(ns.clone(), action.id(), EXPANSION_ANNOTATION))
            {
                expansion_actions.insert(action.to_string(), why.to_string());
            }
        }
        let context_attributes = context_attributes(&fragments);
        Ok(Self {
            schema,
            human_types,
            expansion_actions,
            context_attributes,
        })
    }

    /// The Cedar schema.
    pub fn cedar(&self) -> &Schema {
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

    /// Actions marked `@privilege_expansion`, as `Action::"id"` with the annotation's text.
    pub fn expansion_actions(&self) -> &BTreeMap<String, String> {
        &self.expansion_actions
    }

    /// Whether `action` (written `Action::"id"`) expands privilege.
    pub fn is_expansion(&self, action: &str) -> bool {
        self.expansion_actions.contains_key(action)
    }

    /// Whether the context of `action` declares a top-level attribute `name`.
    pub fn context_declares(&self, action: &EntityUid, name: &str) -> bool {
        self.context_attributes
            .get(action)
            .is_some_and(|attrs| attrs.contains(name))
    }
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
            SourceDiagnostic::new("tollgate::schema", file, (0, 0).into(), message)
                .with_labels(labels, &file.text),
        )
    })
}

/// Top-level context attribute names per action, read from the fragments' JSON form so that
/// common-type references (`context: AgentContext`) are followed.
fn context_attributes(fragments: &[SchemaFragment]) -> HashMap<EntityUid, BTreeSet<String>> {
    let jsons: Vec<Value> = fragments
        .iter()
        .filter_map(|f| f.clone().to_json_value().ok())
        .collect();
    let mut common: HashMap<String, Value> = HashMap::new();
    for json in &jsons {
        for (ns, def) in json.as_object().into_iter().flatten() {
            for (name, ty) in def
                .get("commonTypes")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                common.insert(qualify(ns, name), ty.clone());
            }
        }
    }
    let mut out = HashMap::new();
    for json in &jsons {
        for (ns, def) in json.as_object().into_iter().flatten() {
            let Some(actions) = def.get("actions").and_then(Value::as_object) else {
                continue;
            };
            for (name, action) in actions {
                let Some(context) = action.get("appliesTo").and_then(|a| a.get("context")) else {
                    continue;
                };
                let attrs = record_attributes(context, ns, &common);
                let type_name = qualify(ns, "Action");
                if let Ok(ty) = EntityTypeName::from_str(&type_name) {
                    let uid = EntityUid::from_type_name_and_id(ty, EntityId::new(name));
                    out.insert(uid, attrs);
                }
            }
        }
    }
    out
}

fn qualify(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}::{name}")
    }
}

fn record_attributes(ty: &Value, ns: &str, common: &HashMap<String, Value>) -> BTreeSet<String> {
    let mut current = ty;
    // Common types may refer to each other; a bounded walk cannot loop on a malformed schema.
    for _ in 0..32 {
        let kind = current
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind == "Record" {
            return current
                .get("attributes")
                .and_then(Value::as_object)
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default();
        }
        let name = if kind == "EntityOrCommon" {
            current
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
        } else {
            kind
        };
        let found = if name.contains("::") {
            common.get(name)
        } else {
            common.get(&qualify(ns, name)).or_else(|| common.get(name))
        };
        match found {
            Some(next) => current = next,
            None => break,
        }
    }
    BTreeSet::new()
}
