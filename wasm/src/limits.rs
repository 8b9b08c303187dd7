//! Caps checked before anything is parsed.
//!
//! Cedar (and serde) recurse once per level of nesting, and on wasm32 Cedar's stack guard
//! (`stacker`) cannot measure the stack, so deeply nested input would exhaust the stack and
//! trap, losing every pack loaded in the instance. Counting brackets first costs one pass over
//! the bytes and turns such input into an ordinary error.

use std::collections::HashMap;

use serde_json::Value;
use tollgate_engine::EntityRef;

use crate::error::AbiError;

/// The largest input any call accepts, in bytes (also the largest buffer `tollgate_alloc`
/// hands out): generous for a pack or a request with its entities, small enough that a hostile
/// input cannot fill the module's memory.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// The deepest nesting of JSON arrays and objects accepted in any input, the outermost object
/// counting as 1. Requests, entities and approvals in practice stay below 10.
pub const MAX_JSON_DEPTH: usize = 64;

/// The deepest nesting of `(`, `[` and `{` accepted in a policy or schema text.
pub const MAX_TEXT_DEPTH: usize = 64;

/// The longest chain of entities through `parents` accepted in an entity set. Cedar computes the
/// transitive closure of the hierarchy with a recursive depth-first search, one level per entity
/// on the path; real hierarchies (people, teams, groups of groups) are a handful deep.
pub const MAX_HIERARCHY_DEPTH: usize = 100;

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

/// The byte offset of the first bracket that opens level `max + 1`, if any. Brackets inside
/// string literals (`"..."`, with backslash escapes) and, when `comments` is set, inside `//`
/// line comments (Cedar's) do not count. Malformed text is left for the real parser to report.
pub(crate) fn too_deep_at(text: &str, max: usize, comments: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_comment = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if in_comment {
            in_comment = b != b'\n';
        } else if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'/' if comments && bytes.get(i + 1) == Some(&b'/') => in_comment = true,
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > max {
                        return Some(i);
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    None
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

/// Refuses an entity set (Cedar's entities JSON) whose hierarchy could drive Cedar's depth-first
/// search deeper than [`MAX_HIERARCHY_DEPTH`].
///
/// The bound is the longest path of the hierarchy's condensation (each strongly connected
/// component counted as all of its members), which no depth-first path can exceed, whatever
/// order Cedar visits entities in. Computed without recursion. Entries that are not entities
/// with readable uids are skipped: Cedar reports them.
pub(crate) fn check_hierarchy_depth(entities: &Value) -> Result<(), AbiError> {
    let Value::Array(entities) = entities else {
        return Ok(());
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut edges: Vec<Vec<usize>> = Vec::new();
    let mut node = |key: String, edges: &mut Vec<Vec<usize>>| {
        let next = index.len();
        let id = *index.entry(key).or_insert(next);
        if id == edges.len() {
            edges.push(Vec::new());
        }
        id
    };
    for entity in entities {
        let Some(child) = entity.get("uid").and_then(uid_key) else {
            continue;
        };
        let child = node(child, &mut edges);
        let parents: Vec<usize> = entity
            .get("parents")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(uid_key)
                    .map(|p| node(p, &mut edges))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(out) = edges.get_mut(child) {
            out.extend(parents);
        }
    }
    let depth = longest_condensed_path(&edges);
    if depth > MAX_HIERARCHY_DEPTH {
        return Err(AbiError::HierarchyTooDeep {
            depth,
            max: MAX_HIERARCHY_DEPTH,
        });
    }
    Ok(())
}

/// `Type::"id"` for any spelling Cedar's entities JSON accepts for a uid.
fn uid_key(uid: &Value) -> Option<String> {
    let uid = uid.get("__entity").unwrap_or(uid);
    if let Some(expr) = uid.get("__expr").and_then(Value::as_str) {
        return expr.parse::<EntityRef>().ok().map(|r| r.to_string());
    }
    match (uid.get("type"), uid.get("id")) {
        (Some(Value::String(t)), Some(Value::String(i))) => {
            EntityRef::from_json(&serde_json::json!({"type": t, "id": i}), "uid")
                .ok()
                .map(|r| r.to_string())
        }
        _ => match uid {
            Value::String(s) => s.parse::<EntityRef>().ok().map(|r| r.to_string()),
            _ => None,
        },
    }
}

/// The longest path through the condensation of `edges` (node → successors), each strongly
/// connected component weighing its size. Iterative Tarjan: components come out successors
/// first, so each one's depth is known when it is emitted.
fn longest_condensed_path(edges: &[Vec<usize>]) -> usize {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut order = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut component_depth: Vec<usize> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut counter = 0;
    let mut longest = 0;
    for start in 0..n {
        if order.get(start) != Some(&UNSEEN) {
            continue;
        }
        // (node, index of the next successor to look at)
        let mut calls: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(&mut (node, ref mut next)) = calls.last_mut() {
            if *next == 0 && order.get(node) == Some(&UNSEEN) {
                set(&mut order, node, counter);
                set(&mut low, node, counter);
                counter += 1;
                stack.push(node);
                set(&mut on_stack, node, true);
            }
            let successors = edges.get(node).map(Vec::as_slice).unwrap_or_default();
            if let Some(&succ) = successors.get(*next) {
                *next += 1;
                if get(&order, succ) == UNSEEN {
                    calls.push((succ, 0));
                } else if get(&on_stack, succ) {
                    let m = get(&low, node).min(get(&order, succ));
                    set(&mut low, node, m);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let m = get(&low, parent).min(get(&low, node));
                set(&mut low, parent, m);
            }
            if get(&low, node) == get(&order, node) {
                // Pop the component rooted at `node`; its successors' components are done.
                let id = component_depth.len();
                let mut members = Vec::new();
                while let Some(member) = stack.pop() {
                    set(&mut on_stack, member, false);
                    set(&mut component, member, id);
                    members.push(member);
                    if member == node {
                        break;
                    }
                }
                let below = members
                    .iter()
                    .flat_map(|&m| edges.get(m).into_iter().flatten())
                    .map(|&s| get(&component, s))
                    .filter(|&c| c != id && c != UNSEEN)
                    .map(|c| component_depth.get(c).copied().unwrap_or(0))
                    .max()
                    .unwrap_or(0);
                let depth = members.len() + below;
                longest = longest.max(depth);
                component_depth.push(depth);
            }
        }
    }
    longest
}

fn get<T: Copy + Default>(v: &[T], i: usize) -> T {
    v.get(i).copied().unwrap_or_default()
}

fn set<T>(v: &mut [T], i: usize, value: T) {
    if let Some(slot) = v.get_mut(i) {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert_eq!(too_deep_at(&nested(3), 3, false), None);
        assert_eq!(too_deep_at(&nested(4), 3, false), Some(3));
        assert_eq!(too_deep_at(r#"{"a": "[[[[[[", "b": [1]}"#, 2, false), None);
        // An escaped quote does not end the string.
        assert_eq!(too_deep_at(r#"["\"[[[[", 1]"#, 1, false), None);
        assert_eq!(too_deep_at(r#"["\\", [[1]]]"#, 2, false), Some(8));
        // Closing brackets never take the depth below zero.
        assert_eq!(too_deep_at("]]]]][[", 1, false), Some(6));
    }

    #[test]
    fn cedar_comments_do_not_count_only_when_asked() {
        let text = "permit(principal, action, resource) // ((((((\n when { [[1]] };";
        assert_eq!(too_deep_at(text, 3, true), None);
        assert!(too_deep_at(text, 3, false).is_some());
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
        // Wide is fine: 10,000 people in one group.
        let wide = Value::Array(
            (0..10_000)
                .map(|i| serde_json::json!({"uid": {"type": "H", "id": format!("h{i}")}, "attrs": {}, "parents": [{"type": "G", "id": "all"}]}))
                .collect(),
        );
        assert_eq!(check_hierarchy_depth(&wide), Ok(()));
    }

    #[test]
    fn cycles_count_every_member() {
        let edges = vec![vec![1], vec![2], vec![0, 3], vec![]];
        assert_eq!(longest_condensed_path(&edges), 4);
        let edges = vec![vec![0]];
        assert_eq!(longest_condensed_path(&edges), 1);
        let diamond = vec![vec![1, 2], vec![3], vec![3], vec![]];
        assert_eq!(longest_condensed_path(&diamond), 3);
        assert_eq!(longest_condensed_path(&[]), 0);
        // Spellings of one uid are one node: string, __expr and {"type", "id"}.
        let mixed = serde_json::json!([
            {"uid": "G::\"a\"", "attrs": {}, "parents": [{"__expr": "G::\"b\""}]},
            {"uid": {"type": "G", "id": "b"}, "attrs": {}, "parents": [{"type": "G", "id": "a"}]},
        ]);
        let Value::Array(list) = &mixed else { panic!() };
        assert_eq!(list.len(), 2);
        assert_eq!(check_hierarchy_depth(&mixed), Ok(()));
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
