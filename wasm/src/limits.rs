//! Caps checked before anything is parsed: the engine's default [limits], fixed (the module
//! takes no settings).
//!
//! Cedar (and serde) recurse once per level of nesting, and on wasm32 Cedar's stack guard
//! (`stacker`) cannot measure the stack, so deeply nested input would exhaust the stack and
//! trap, losing every pack loaded in the instance. Counting brackets first costs one pass over
//! the bytes and turns such input into an ordinary error.
//!
//! [limits]: tollgate_engine::limits

use serde_json::Value;
pub(crate) use tollgate_engine::limits::too_deep_at;
use tollgate_engine::limits::{DEFAULT_LIMITS, hierarchy_depth};

use crate::error::AbiError;

/// The largest input any call accepts, in bytes (also the largest buffer `tollgate_alloc`
/// hands out): generous for a pack or a request with its entities, small enough that a hostile
/// input cannot fill the module's memory.
pub const MAX_INPUT_BYTES: usize = DEFAULT_LIMITS.file_bytes;

/// The deepest nesting of JSON arrays and objects accepted in any input, the outermost object
/// counting as 1. Requests, entities and approvals in practice stay below 10.
pub const MAX_JSON_DEPTH: usize = DEFAULT_LIMITS.json_depth;

/// The deepest nesting of `(`, `[` and `{` accepted in a policy or schema text.
pub const MAX_TEXT_DEPTH: usize = DEFAULT_LIMITS.text_depth;

/// The longest chain of entities through `parents` accepted in an entity set. Cedar computes the
/// transitive closure of the hierarchy with a recursive depth-first search, one level per entity
/// on the path; real hierarchies (people, teams, groups of groups) are a handful deep.
pub const MAX_HIERARCHY_DEPTH: usize = DEFAULT_LIMITS.hierarchy_depth;

/// Refuses empty and oversized input, and input that is not UTF-8.
pub(crate) fn check_bytes(input: &[u8]) -> Result<&str, AbiError> {
    if input.is_empty() {
        return Err(AbiError::Empty);
    }
    if input.len() > MAX_INPUT_BYTES {
        return Err(AbiError::TooLarge {
            len: input.len(),
            max: MAX_INPUT_BYTES,
        });
    }
    std::str::from_utf8(input).map_err(|e| AbiError::NotUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Refuses JSON nested deeper than [`MAX_JSON_DEPTH`].
pub(crate) fn check_json_depth(text: &str) -> Result<(), AbiError> {
    match too_deep_at(text, MAX_JSON_DEPTH, false) {
        Some(offset) => Err(AbiError::TooDeep {
            offset,
            max: MAX_JSON_DEPTH,
        }),
        None => Ok(()),
    }
}

/// Refuses an entity set (Cedar's entities JSON) with more entities than the engine's default
/// limit, or whose hierarchy could drive Cedar's depth-first search deeper than
/// [`MAX_HIERARCHY_DEPTH`] (see [`hierarchy_depth`]).
pub(crate) fn check_hierarchy_depth(entities: &Value) -> Result<(), AbiError> {
    if let Value::Array(list) = entities
        && list.len() > DEFAULT_LIMITS.entities
    {
        return Err(AbiError::Input(format!(
            "entities: {} entities; the module accepts at most {}",
            list.len(),
            DEFAULT_LIMITS.entities
        )));
    }
    let depth = hierarchy_depth(entities);
    if depth > MAX_HIERARCHY_DEPTH {
        return Err(AbiError::HierarchyTooDeep {
            depth,
            max: MAX_HIERARCHY_DEPTH,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    fn chain(n: usize) -> Value {
        Value::Array(
            (0..n)
                .map(|i| {
                    serde_json::json!({"uid": {"type": "G", "id": format!("g{i}")}, "attrs": {},
                        "parents": [{"__entity": {"type": "G", "id": format!("g{}", i + 1)}}]})
                })
                .collect(),
        )
    }

    #[test]
    fn hierarchy_depth_is_the_longest_chain_of_parents() {
        // n entities pointing at n + 1 distinct uids: a path of n + 1.
        assert_eq!(
            check_hierarchy_depth(&chain(MAX_HIERARCHY_DEPTH - 1)),
            Ok(())
        );
        assert_eq!(
            check_hierarchy_depth(&chain(MAX_HIERARCHY_DEPTH)),
            Err(AbiError::HierarchyTooDeep {
                depth: MAX_HIERARCHY_DEPTH + 1,
                max: MAX_HIERARCHY_DEPTH
            })
        );
    }

    #[test]
    fn bytes_are_checked_before_parsing() {
        assert_eq!(check_bytes(b""), Err(AbiError::Empty));
        assert_eq!(
            check_bytes(b"{\"a\": \"\xff\"}"),
            Err(AbiError::NotUtf8 { offset: 7 })
        );
        let big = vec![b' '; MAX_INPUT_BYTES + 1];
        assert!(matches!(
            check_bytes(&big),
            Err(AbiError::TooLarge { len, .. }) if len == MAX_INPUT_BYTES + 1
        ));
        assert_eq!(check_bytes(b"{}"), Ok("{}"));
        assert!(check_json_depth(&nested(MAX_JSON_DEPTH)).is_ok());
        assert!(check_json_depth(&nested(MAX_JSON_DEPTH + 1)).is_err());
    }
}
