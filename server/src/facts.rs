//! Whose facts count: entities come from the server; a gateway may add a few for one request,
//! only of types its token allows and never ones that could change who may approve.

use std::collections::HashSet;

use serde_json::Value;
use tollgate_engine::ProposedAction;

use crate::state::{Loaded, entity_uid};
use crate::tokens::Caller;

/// The most entities a gateway may add to one request.
pub const MAX_ADDED_ENTITIES: usize = 256;

/// Checks a gateway's additions for one request. Refused: a type the token does not list, an
/// action entity, a `@human` type, the principal, an entity the server already has, and any
/// `parents` — an agent must not be able to declare itself human, drop its `acting_for`, join a
/// group or rewrite a resource the policies trust.
pub fn check_additions(
    loaded: &Loaded,
    caller: &Caller,
    request: &ProposedAction,
    extra: &[Value],
) -> Result<(), String> {
    if extra.len() > MAX_ADDED_ENTITIES {
        return Err(format!(
            "entities: at most {MAX_ADDED_ENTITIES} may be added to one request"
        ));
    }
    let schema = loaded.pack.schema();
    let mut seen = HashSet::new();
    for (i, item) in extra.iter().enumerate() {
        let at = format!("entities[{i}]");
        let Some(uid) = entity_uid(item) else {
            return Err(format!(
                "{at}: needs a `uid` of the form {{\"type\", \"id\"}}"
            ));
        };
        let ty = uid.type_name();
        if ty == "Action" || ty.ends_with("::Action") {
            return Err(format!("{at}: {uid}: action entities come from the schema"));
        }
        if schema.is_some_and(|s| s.is_human_type(&ty)) {
            return Err(format!(
                "{at}: {uid}: {ty} is a @human type: people come from the server's entities"
            ));
        }
        if uid == request.principal {
            return Err(format!(
                "{at}: {uid} is the principal: facts about who acts come from the server"
            ));
        }
        if loaded.knows(&uid) {
            return Err(format!(
                "{at}: {uid} is one of the server's entities and cannot be redefined"
            ));
        }
        if !caller.may_add_type(&ty) {
            return Err(format!(
                "{at}: {uid}: this token may not add entities of type {ty}"
            ));
        }
        match item.get("parents") {
            None => {}
            Some(Value::Array(p)) if p.is_empty() => {}
            Some(_) => {
                return Err(format!(
                    "{at}: {uid}: added entities may not have `parents` (group membership comes from the server)"
                ));
            }
        }
        if !seen.insert(uid.to_string()) {
            return Err(format!("{at}: {uid} is added twice"));
        }
    }
    Ok(())
}
