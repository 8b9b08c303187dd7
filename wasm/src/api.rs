//! The module's calls as safe Rust: bytes in, JSON bytes out, errors as `{"error": ...}`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use tollgate_engine::approvals::{ApprovalRecord, Verification, parse_approvals, verify};
use tollgate_engine::keys::Keyring;
use tollgate_engine::limits::DEFAULT_LIMITS;
use tollgate_engine::lint::WorkflowFile;
use tollgate_engine::lint::report::json_findings;
use tollgate_engine::{
    CalendarDate, Decision, NOW, Pack, PackSource, PreparedEntities, ProposedAction, SourceFile,
    Timestamp, line_col,
};

use tollgate_wasm_contract::{ABI_VERSION, LoadOutput, ModuleInfo, PreparedOutput};

use crate::error::{AbiError, problem};
use crate::limits::{
    MAX_HIERARCHY_DEPTH, MAX_INPUT_BYTES, MAX_JSON_DEPTH, MAX_TEXT_DEPTH, check_bytes,
    check_hierarchy_depth, check_json_depth, too_deep_at,
};

/// The module's state: the packs loaded so far and the entity sets prepared for them, by handle.
///
/// Pack handles and entity set handles each count up from 1 and are never reused, so a handle
/// kept after `unload` (or `release_entities`) can never reach a pack (or set) made later.
#[derive(Debug, Default)]
pub struct Guest {
    packs: BTreeMap<u32, Loaded>,
    last_handle: u32,
    entity_sets: BTreeMap<u32, EntitySet>,
    last_entity_set: u32,
}

/// A loaded pack and what its decisions need that does not depend on the request.
#[derive(Debug)]
struct Loaded {
    pack: Pack,
    /// The entity set of a call without entities (the schema's action entities only), built
    /// once at load rather than per call; its error, if it has one, is every such call's error.
    no_entities: Result<PreparedEntities, String>,
}

/// Entities parsed and validated once against one pack's schema (`tollgate_prepare_entities`).
#[derive(Debug)]
struct EntitySet {
    /// The pack they were validated for: only that pack may use them.
    pack: u32,
    entities: PreparedEntities,
}

/// `tollgate_prepare_entities` input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrepareInput {
    #[serde(default)]
    entities: Value,
}

/// `tollgate_load` input: the pack's files by name and text (the engine's [`PackSource`]).
type LoadInput = PackSource;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideInput {
    request: Value,
    #[serde(default, deserialize_with = "present")]
    entities: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    entity_set: Option<u32>,
    #[serde(default)]
    at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyInput {
    request: Value,
    #[serde(default, deserialize_with = "present")]
    entities: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    entity_set: Option<u32>,
    approvals: Approvals,
    keyring: KeyringInput,
    #[serde(default)]
    at: Option<String>,
}

/// A field that is present, even as `null`: `Some` whenever the key is there, so that
/// `"entities": null` beside `"entity_set"` is refused as two sources of entities, and
/// `"entity_set": null` is not a number.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Approval records as JSON Lines text (the approvals file) or as an array of record objects.
#[derive(Deserialize)]
#[serde(untagged)]
enum Approvals {
    Lines(String),
    Records(Vec<Map<String, Value>>),
}

/// A keyring as its file's text or as the object `{"Human::\"alice\"": "ed25519:…"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeyringInput {
    Text(String),
    Object(Map<String, Value>),
}

/// `tollgate_lint` input: the pack's sources (lint also reports on packs that do not load), the
/// workflows, and the day exceptions are judged on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LintInput {
    policies: Vec<SourceFile>,
    #[serde(default)]
    schemas: Vec<SourceFile>,
    #[serde(default)]
    workflows: Vec<WorkflowInput>,
    #[serde(default)]
    at: Option<String>,
}

/// A workflow file, with the entities its `entities:` names when it names a file (the module
/// reads no files).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowInput {
    name: String,
    text: String,
    #[serde(default)]
    entities: Option<Value>,
}

impl Guest {
    /// No packs loaded.
    pub const fn new() -> Self {
        Self {
            packs: BTreeMap::new(),
            last_handle: 0,
            entity_sets: BTreeMap::new(),
            last_entity_set: 0,
        }
    }

    /// `tollgate_load`: loads `{"policies": [{"name", "text"}], "schemas": [...]}` and returns
    /// `{"handle", "policy_set", "policies", "warnings"}`.
    pub fn load(&mut self, input: &[u8]) -> Vec<u8> {
        respond(self.try_load(input))
    }

    /// `tollgate_prepare_entities`: parses and validates `{"entities": [...]}` once against the
    /// pack under `handle`; returns `{"entity_set", "entities"}`. Decide and verify then take
    /// `"entity_set"` instead of the entities, and skip that work.
    pub fn prepare_entities(&mut self, handle: u32, input: &[u8]) -> Vec<u8> {
        respond(self.try_prepare_entities(handle, input))
    }

    /// `tollgate_release_entities`: forgets the entity set; false if there was none.
    pub fn release_entities(&mut self, entity_set: u32) -> bool {
        self.entity_sets.remove(&entity_set).is_some()
    }

    /// How many entity sets are prepared.
    pub fn prepared(&self) -> usize {
        self.entity_sets.len()
    }

    /// `tollgate_decide`: decides `{"request", "entities" or "entity_set", "at"}` with the pack
    /// under `handle`;
    /// returns the decision JSON, exactly `serde_json::to_vec(&decision)` of the native engine.
    pub fn decide(&self, handle: u32, input: &[u8]) -> Vec<u8> {
        respond(self.try_decide(handle, input))
    }

    /// `tollgate_verify`: checks `{"request", "entities", "approvals", "keyring", "at"}` with the
    /// pack under `handle`; returns the verification JSON, as the CLI's `verify --format json`.
    pub fn verify(&self, handle: u32, input: &[u8]) -> Vec<u8> {
        respond(self.try_verify(handle, input))
    }

    /// `tollgate_unload`: forgets the pack under `handle` and the entity sets prepared for it;
    /// false if there was none.
    pub fn unload(&mut self, handle: u32) -> bool {
        let unloaded = self.packs.remove(&handle).is_some();
        self.entity_sets.retain(|_, set| set.pack != handle);
        unloaded
    }

    /// How many packs are loaded.
    pub fn loaded(&self) -> usize {
        self.packs.len()
    }

    fn pack(&self, handle: u32) -> Result<&Loaded, AbiError> {
        self.packs.get(&handle).ok_or(AbiError::BadHandle(handle))
    }

    /// The entities of a decide or verify call: inline (parsed and validated now), a prepared
    /// set of this pack, or none. Both inline and prepared is refused rather than one chosen.
    fn entities<'a>(
        &'a self,
        handle: u32,
        loaded: &'a Loaded,
        inline: Option<Value>,
        entity_set: Option<u32>,
    ) -> Result<Cow<'a, PreparedEntities>, AbiError> {
        match (inline, entity_set) {
            (Some(_), Some(_)) => Err(AbiError::EntitiesTwice),
            (None, Some(id)) => {
                let set = self
                    .entity_sets
                    .get(&id)
                    .ok_or(AbiError::BadEntitySet(id))?;
                if set.pack != handle {
                    return Err(AbiError::EntitySetOfOtherPack {
                        entity_set: id,
                        prepared_for: set.pack,
                        handle,
                    });
                }
                Ok(Cow::Borrowed(&set.entities))
            }
            (inline, None) => match inline {
                Some(value) if !is_no_entities(&value) => {
                    check_hierarchy_depth(&value)?;
                    Ok(Cow::Owned(loaded.pack.entities_from_json(&value)?))
                }
                _ => match &loaded.no_entities {
                    Ok(entities) => Ok(Cow::Borrowed(entities)),
                    Err(message) => Err(AbiError::Input(message.clone())),
                },
            },
        }
    }

    fn try_prepare_entities(
        &mut self,
        handle: u32,
        input: &[u8],
    ) -> Result<PreparedOutput, AbiError> {
        let loaded = self.pack(handle)?;
        let input: PrepareInput = parse(input)?;
        let id = self
            .last_entity_set
            .checked_add(1)
            .ok_or(AbiError::EntitySetsExhausted)?;
        check_hierarchy_depth(&input.entities)?;
        let entities = loaded.pack.entities_from_json(&input.entities)?;
        let output = PreparedOutput {
            entity_set: id,
            entities: input.entities.as_array().map_or(0, Vec::len),
        };
        self.last_entity_set = id;
        self.entity_sets.insert(
            id,
            EntitySet {
                pack: handle,
                entities,
            },
        );
        Ok(output)
    }

    fn try_load(&mut self, input: &[u8]) -> Result<LoadOutput, AbiError> {
        let source: LoadInput = parse(input)?;
        for file in source.policies.iter().chain(&source.schemas) {
            check_text_depth(file)?;
        }
        let handle = self
            .last_handle
            .checked_add(1)
            .ok_or(AbiError::HandlesExhausted)?;
        let pack = Pack::load(source)?;
        let no_entities = pack
            .entities_from_json(&Value::Null)
            .map_err(|e| AbiError::from(e).to_string());
        let output = LoadOutput {
            handle,
            policy_set: pack.hash().to_string(),
            policies: pack.policies().len(),
            warnings: pack.warnings().iter().map(problem).collect(),
        };
        self.last_handle = handle;
        self.packs.insert(handle, Loaded { pack, no_entities });
        Ok(output)
    }

    fn try_decide(&self, handle: u32, input: &[u8]) -> Result<Decision, AbiError> {
        let loaded = self.pack(handle)?;
        let pack = &loaded.pack;
        let input: DecideInput = parse(input)?;
        let request = ProposedAction::from_json(&input.request)?;
        let entities = self.entities(handle, loaded, input.entities, input.entity_set)?;
        let at = match (input.at, pack.needs_time(&request)) {
            (Some(at), _) => parse_at(&at)?,
            (None, true) => {
                return Err(AbiError::MissingAt {
                    why: format!(
                        "the pack fills context.{NOW} for {} from it",
                        request.action
                    ),
                });
            }
            // Not read by the decision (`needs_time` is false): any instant gives the same one.
            (None, false) => {
                Timestamp::from_unix_nanos(0).map_err(|e| AbiError::BadAt(e.to_string()))?
            }
        };
        Ok(pack.decide(&request, &entities, at)?)
    }

    fn try_verify(&self, handle: u32, input: &[u8]) -> Result<Verification, AbiError> {
        let loaded = self.pack(handle)?;
        let pack = &loaded.pack;
        let input: VerifyInput = parse(input)?;
        let request = ProposedAction::from_json(&input.request)?;
        let Some(at) = input.at else {
            return Err(AbiError::MissingAt {
                why: "approvals expire, so verification always needs the time".into(),
            });
        };
        let at = parse_at(&at)?;
        let entities = self.entities(handle, loaded, input.entities, input.entity_set)?;
        let approvals = match input.approvals {
            Approvals::Lines(text) => parse_approvals(&text),
            Approvals::Records(records) => records
                .into_iter()
                .enumerate()
                .map(|(i, record)| ApprovalRecord::parse(&Value::Object(record).to_string(), i + 1))
                .collect(),
        }
        .map_err(|e| AbiError::Input(format!("approvals: {e}")))?;
        let keyring = match input.keyring {
            KeyringInput::Text(text) => Keyring::parse(&text),
            KeyringInput::Object(map) => Keyring::parse(&Value::Object(map).to_string()),
        }
        .map_err(|e| AbiError::Input(format!("keyring: {e}")))?;
        Ok(verify(pack, &entities, &request, &approvals, &keyring, at)?)
    }
}

/// `tollgate_lint`: lints `{"policies", "schemas", "workflows", "at"}` and returns the findings
/// array of the CLI's `lint --format json` (files named as given). `at` is required: exceptions
/// expire, and the module has no clock.
pub fn lint(input: &[u8]) -> Vec<u8> {
    respond(try_lint(input))
}

fn try_lint(input: &[u8]) -> Result<Value, AbiError> {
    let input: LintInput = parse(input)?;
    for file in input.policies.iter().chain(&input.schemas) {
        check_text_depth(file)?;
    }
    let Some(at) = input.at else {
        return Err(AbiError::MissingAt {
            why: "exceptions expire on their review date, so lint always needs the day".into(),
        });
    };
    // A day (`2026-06-01`) as `tollgate lint --today` takes, or an instant.
    let today = match at.parse::<CalendarDate>() {
        Ok(day) => day,
        Err(_) => CalendarDate::of(parse_at(&at)?),
    };
    let mut workflows = Vec::with_capacity(input.workflows.len());
    for w in input.workflows {
        let source = SourceFile::new(w.name, w.text);
        check_text_depth(&source)?;
        let parsed = WorkflowFile::parse(source)?;
        let parsed = match (w.entities, parsed.entities_path()) {
            (Some(entities), _) => {
                check_hierarchy_depth(&entities)?;
                parsed.with_entities(entities)
            }
            (None, Some(path)) => {
                return Err(AbiError::Input(format!(
                    "{}: names the entities file `{path}`, and the module reads no files: pass its content as the workflow's `entities`",
                    parsed.source.name
                )));
            }
            (None, None) => parsed,
        };
        workflows.push(parsed);
    }
    let source = PackSource {
        policies: input.policies,
        schemas: input.schemas,
    };
    let findings = tollgate_engine::lint::lint(source, &workflows, today)?;
    serde_json::to_value(json_findings(&findings, |l| l.file.clone()))
        .map_err(|e| AbiError::Internal(e.to_string()))
}

/// `tollgate_version`: `{"tollgate", "abi", "max_input_bytes", "max_json_depth",
/// "max_text_depth", "max_hierarchy_depth", "lint", "prepared_entities"}`.
pub fn version() -> Vec<u8> {
    respond(Ok(ModuleInfo {
        tollgate: env!("CARGO_PKG_VERSION").into(),
        abi: ABI_VERSION,
        max_input_bytes: MAX_INPUT_BYTES,
        max_json_depth: MAX_JSON_DEPTH,
        max_text_depth: MAX_TEXT_DEPTH,
        max_hierarchy_depth: MAX_HIERARCHY_DEPTH,
        lint: true,
        prepared_entities: true,
    }))
}

/// Whether `value` stands for no entities (`null` or `[]`): the pack's cached empty set then
/// serves, the same set `entities_from_json` would build from it.
fn is_no_entities(value: &Value) -> bool {
    value.is_null() || value.as_array().is_some_and(Vec::is_empty)
}

/// The bytes of a result: the value's JSON, or the error's.
fn respond<T: Serialize>(result: Result<T, AbiError>) -> Vec<u8> {
    let bytes = result.and_then(|value| {
        serde_json::to_vec(&value).map_err(|e| AbiError::Internal(e.to_string()))
    });
    bytes.unwrap_or_else(|e| e.to_json())
}

/// Size, UTF-8 and nesting checks, then the JSON shape.
fn parse<T: serde::de::DeserializeOwned>(input: &[u8]) -> Result<T, AbiError> {
    let text = check_bytes(input)?;
    check_json_depth(text)?;
    // serde would also read a struct from an array of its fields in order; the ABI takes
    // objects only.
    if !text.trim_start().starts_with('{') {
        return Err(AbiError::BadJson("expected a JSON object".into()));
    }
    // Strict: a duplicate key, or keys beside an `__entity` escape, would mean one thing to
    // the module and another to a reader of the same bytes.
    let value = tollgate_engine::json::parse_with(text, &DEFAULT_LIMITS)?;
    serde_json::from_value(value).map_err(|e| AbiError::BadJson(e.to_string()))
}

fn check_text_depth(file: &SourceFile) -> Result<(), AbiError> {
    match too_deep_at(&file.text, MAX_TEXT_DEPTH, true) {
        None => Ok(()),
        Some(offset) => {
            let at = line_col(&file.text, offset);
            Err(AbiError::TextTooDeep {
                file: file.name.clone(),
                line: at.line,
                column: at.column,
                max: MAX_TEXT_DEPTH,
            })
        }
    }
}

fn parse_at(at: &str) -> Result<Timestamp, AbiError> {
    at.parse()
        .map_err(|e: tollgate_engine::BadTimestamp| AbiError::BadAt(e.to_string()))
}

#[cfg(test)]
mod tests;
