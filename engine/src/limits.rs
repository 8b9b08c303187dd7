//! Bounds on the size and shape of input, checked before the data reaches Cedar or serde.
//!
//! Cedar and serde recurse once per level of nesting: a 2 KB policy of nested parentheses, or a
//! JSON context nested 100,000 deep, would exhaust the stack and abort the process. Counting
//! brackets first costs one pass over the bytes and turns such input into an ordinary error that
//! names the limit. The other limits (file size, entity and policy counts, workflow steps,
//! hierarchy depth) bound memory and time the same way.
//!
//! A process (one `tollgate` command) runs under one set of limits: [`Limits::install`] sets it
//! once, before any input is read, and every entry point of the engine reads it through
//! [`Limits::current`]. Without `install`, the defaults apply (the WebAssembly module never
//! changes them).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde_json::Value;

use crate::model::request::EntityRef;

/// One limit, by the name `--limit NAME=N` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Limit {
    /// The largest input file (or stdin, or WASM call input), in bytes.
    FileBytes,
    /// The deepest nesting of JSON arrays and objects, the outermost counting as 1.
    JsonDepth,
    /// The deepest nesting of `(`, `[` and `{` in a policy or schema text.
    TextDepth,
    /// The most entities in one entity set.
    Entities,
    /// The longest chain of entities through `parents`.
    HierarchyDepth,
    /// The most steps in one workflow.
    WorkflowSteps,
    /// The most policies in one pack.
    Policies,
}

impl Limit {
    /// Every limit, in the order the documentation lists them.
    pub const ALL: [Limit; 7] = [
        Limit::FileBytes,
        Limit::JsonDepth,
        Limit::TextDepth,
        Limit::Entities,
        Limit::HierarchyDepth,
        Limit::WorkflowSteps,
        Limit::Policies,
    ];

    /// The name `--limit` takes, e.g. `json-depth`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::FileBytes => "file-bytes",
            Limit::JsonDepth => "json-depth",
            Limit::TextDepth => "text-depth",
            Limit::Entities => "entities",
            Limit::HierarchyDepth => "hierarchy-depth",
            Limit::WorkflowSteps => "workflow-steps",
            Limit::Policies => "policies",
        }
    }

    /// The largest value the limit may be raised to. The depths are bounded because the stack
    /// the work runs on is sized for them ([`Limits::stack_bytes`]); JSON depth also by serde's
    /// own recursion bound (128 levels), which it must stay below for the limit to be the one
    /// reported.
    pub fn ceiling(self) -> usize {
        match self {
            Limit::JsonDepth => 120,
            Limit::TextDepth => 1_000,
            Limit::HierarchyDepth => 10_000,
            // 1 TiB where `usize` holds it; all of memory on 32-bit targets (wasm32).
            Limit::FileBytes => usize::try_from(1u64 << 40).unwrap_or(usize::MAX),
            Limit::Entities | Limit::WorkflowSteps | Limit::Policies => 100_000_000,
        }
    }

    /// What input over the limit holds, e.g. `JSON nesting deeper than 64`.
    fn excess(self, max: usize) -> String {
        match self {
            Limit::FileBytes => format!("larger than {max} bytes"),
            Limit::JsonDepth => format!("JSON nesting deeper than {max}"),
            Limit::TextDepth => format!("brackets nested deeper than {max}"),
            Limit::Entities => format!("more than {max} entities"),
            Limit::HierarchyDepth => format!("a chain of parents longer than {max} entities"),
            Limit::WorkflowSteps => format!("more than {max} steps"),
            Limit::Policies => format!("more than {max} policies"),
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Limit {
    type Err = BadLimit;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Limit::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| BadLimit::UnknownName(s.to_string()))
    }
}

/// A `NAME=N` setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadLimit {
    /// Not one of the limits.
    #[error(
        "unknown limit `{0}` (expected file-bytes, json-depth, text-depth, entities, hierarchy-depth, workflow-steps or policies)"
    )]
    UnknownName(String),
    /// Not `NAME=N` with N a positive integer.
    #[error("`{0}` is not NAME=N with N a positive integer")]
    Syntax(String),
    /// Above the limit's ceiling.
    #[error("{limit} can be raised to at most {ceiling}")]
    AboveCeiling {
        /// The limit.
        limit: Limit,
        /// Its ceiling.
        ceiling: usize,
    },
    /// [`Limits::install`] was called twice.
    #[error("the limits were already set for this process")]
    AlreadyInstalled,
}

/// Input over a limit: refused before it is parsed or handed to Cedar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} (limit {limit}; raise it with --limit {limit}=N)", limit.excess(*max))]
pub struct LimitExceeded {
    /// The limit.
    pub limit: Limit,
    /// Its value.
    pub max: usize,
}

/// The limits in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// [`Limit::FileBytes`].
    pub file_bytes: usize,
    /// [`Limit::JsonDepth`].
    pub json_depth: usize,
    /// [`Limit::TextDepth`].
    pub text_depth: usize,
    /// [`Limit::Entities`].
    pub entities: usize,
    /// [`Limit::HierarchyDepth`].
    pub hierarchy_depth: usize,
    /// [`Limit::WorkflowSteps`].
    pub workflow_steps: usize,
    /// [`Limit::Policies`].
    pub policies: usize,
}

/// The defaults: generous for real packs, requests and entity sets (which nest under 10 levels,
/// hold hierarchies a handful deep, and packs a few thousand policies), small enough that the
/// work fits the stack and memory of an ordinary process.
pub const DEFAULT_LIMITS: Limits = Limits {
    file_bytes: 16 * 1024 * 1024,
    json_depth: 64,
    text_depth: 64,
    entities: 100_000,
    hierarchy_depth: 100,
    workflow_steps: 1_000,
    policies: 100_000,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

static CURRENT: OnceLock<Limits> = OnceLock::new();

impl Limits {
    /// The value of one limit.
    pub fn get(&self, limit: Limit) -> usize {
        match limit {
            Limit::FileBytes => self.file_bytes,
            Limit::JsonDepth => self.json_depth,
            Limit::TextDepth => self.text_depth,
            Limit::Entities => self.entities,
            Limit::HierarchyDepth => self.hierarchy_depth,
            Limit::WorkflowSteps => self.workflow_steps,
            Limit::Policies => self.policies,
        }
    }

    /// Sets one limit; values above its [ceiling](Limit::ceiling), and zero, are refused.
    pub fn set(&mut self, limit: Limit, value: usize) -> Result<(), BadLimit> {
        if value == 0 {
            return Err(BadLimit::Syntax(format!("{limit}=0")));
        }
        if value > limit.ceiling() {
            return Err(BadLimit::AboveCeiling {
                limit,
                ceiling: limit.ceiling(),
            });
        }
        let slot = match limit {
            Limit::FileBytes => &mut self.file_bytes,
            Limit::JsonDepth => &mut self.json_depth,
            Limit::TextDepth => &mut self.text_depth,
            Limit::Entities => &mut self.entities,
            Limit::HierarchyDepth => &mut self.hierarchy_depth,
            Limit::WorkflowSteps => &mut self.workflow_steps,
            Limit::Policies => &mut self.policies,
        };
        *slot = value;
        Ok(())
    }

    /// Applies a `NAME=N` setting, as `--limit` takes it.
    pub fn apply(&mut self, setting: &str) -> Result<(), BadLimit> {
        let (name, value) = setting
            .split_once('=')
            .ok_or_else(|| BadLimit::Syntax(setting.to_string()))?;
        let limit: Limit = name.trim().parse()?;
        let value: usize = value
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|_| BadLimit::Syntax(setting.to_string()))?;
        self.set(limit, value)
    }

    /// The limits of this process: those [installed](Limits::install), or the defaults.
    pub fn current() -> Limits {
        CURRENT.get().copied().unwrap_or_default()
    }

    /// Sets the limits of this process, once, before any input is read.
    pub fn install(self) -> Result<(), BadLimit> {
        CURRENT.set(self).map_err(|_| BadLimit::AlreadyInstalled)
    }

    /// The stack a thread parsing and evaluating input under these limits needs, in bytes.
    ///
    /// Measured on x86-64 (the workspace's optimised dev profile): Cedar's parser takes about
    /// 18 KiB of stack per nested bracket (999 nested parentheses need 17.3 MiB, a trivial
    /// policy 0.1 MiB) and an `if` about 2 KiB. 32 KiB per level of text and JSON depth keeps
    /// a margin of nearly 2x, 2 KiB per hierarchy level covers Cedar's depth-first search, over
    /// a 16 MiB base for everything that does not nest. About 20 MiB with the defaults, 71 MiB
    /// at the ceilings; stacks are reserved, not committed: only the pages used cost memory.
    pub fn stack_bytes(&self) -> usize {
        const BASE: usize = 16 << 20;
        const PER_NESTING_LEVEL: usize = 32 << 10;
        const PER_HIERARCHY_LEVEL: usize = 2 << 10;
        let nesting = self.text_depth.saturating_add(self.json_depth);
        BASE.saturating_add(nesting.saturating_mul(PER_NESTING_LEVEL))
            .saturating_add(self.hierarchy_depth.saturating_mul(PER_HIERARCHY_LEVEL))
    }

    /// Refuses input longer than [`Limit::FileBytes`].
    pub fn check_bytes(&self, len: usize) -> Result<(), LimitExceeded> {
        self.check(Limit::FileBytes, len)
    }

    /// Refuses a count over a limit (entities, steps, policies, bytes).
    pub fn check(&self, limit: Limit, count: usize) -> Result<(), LimitExceeded> {
        let max = self.get(limit);
        if count > max {
            return Err(LimitExceeded { limit, max });
        }
        Ok(())
    }

    /// The byte offset of the first bracket of JSON `text` nested deeper than
    /// [`Limit::JsonDepth`], if any.
    pub fn json_too_deep_at(&self, text: &str) -> Option<usize> {
        too_deep_at(text, self.json_depth, false)
    }

    /// The byte offset of the first bracket of a policy or schema text nested deeper than
    /// [`Limit::TextDepth`], if any.
    pub fn text_too_deep_at(&self, text: &str) -> Option<usize> {
        too_deep_at(text, self.text_depth, true)
    }

    /// Refuses an entity set (Cedar's entities JSON) with more than [`Limit::Entities`]
    /// entities, or whose hierarchy could drive Cedar's depth-first search deeper than
    /// [`Limit::HierarchyDepth`].
    pub fn check_entities(&self, entities: &Value) -> Result<(), LimitExceeded> {
        if let Value::Array(list) = entities {
            self.check(Limit::Entities, list.len())?;
        }
        self.check(Limit::HierarchyDepth, hierarchy_depth(entities))
    }
}

/// The byte offset of the first bracket that opens level `max + 1`, if any. Brackets inside
/// string literals (`"..."`, with backslash escapes) and, when `comments` is set (Cedar text),
/// inside `//` line comments do not count. Malformed text is left for the real parser to report.
///
/// In Cedar text an `if` nests too, without brackets: every `if` after another in the same
/// bracket and the same list item or statement is inside it (its condition, `then` or `else`
/// branch), so `if a then b else if c then …` recurses once per `if`. Each `if` counts as a
/// level until the bracket it is in closes, or a `,` or `;` ends its expression.
pub fn too_deep_at(text: &str, max: usize, comments: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    // Per open bracket (and the outermost level), the `if`s counted in it.
    let mut ifs: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_comment = false;
    let mut i = 0;
    let is_word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
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
                    ifs.push(0);
                    if depth > max {
                        return Some(i);
                    }
                }
                b')' | b']' | b'}' if ifs.len() > 1 => {
                    let inner = ifs.pop().unwrap_or(0);
                    depth = depth.saturating_sub(1 + inner);
                }
                b',' | b';' if comments => {
                    if let Some(here) = ifs.last_mut() {
                        depth = depth.saturating_sub(*here);
                        *here = 0;
                    }
                }
                b'i' if comments
                    && bytes.get(i + 1) == Some(&b'f')
                    && !is_word(bytes.get(i + 2))
                    && !is_word(i.checked_sub(1).and_then(|j| bytes.get(j))) =>
                {
                    depth += 1;
                    if let Some(here) = ifs.last_mut() {
                        *here += 1;
                    }
                    if depth > max {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// A bound on how deep Cedar's depth-first search through an entity set's hierarchy can go:
/// the longest path of the hierarchy's condensation (each strongly connected component counted
/// as all of its members), which no depth-first path can exceed, whatever order Cedar visits
/// entities in. Computed without recursion. Entries that are not entities with readable uids
/// are skipped: Cedar reports them.
pub fn hierarchy_depth(entities: &Value) -> usize {
    let Value::Array(entities) = entities else {
        return 0;
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
    longest_condensed_path(&edges)
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
    fn nested_ifs_count_as_levels_in_cedar_text() {
        let chain = |n: usize| {
            format!(
                "permit(principal, action, resource) when {{ {}true{} }};",
                "if true then ".repeat(n),
                " else false".repeat(n)
            )
        };
        // `when {` is one level, each `if` one more.
        assert_eq!(too_deep_at(&chain(3), 4, true), None);
        assert!(too_deep_at(&chain(4), 4, true).is_some());
        // Not in JSON, strings or words that contain `if`.
        assert_eq!(too_deep_at(&chain(4), 4, false), None);
        let words = r#"permit(principal, action, resource) when { context.iffy && "if if if" == context.diff };"#;
        assert_eq!(too_deep_at(words, 2, true), None);
        // Siblings in a list, a record or separate policies do not add up.
        let siblings = "permit(principal, action, resource) when { [if a then 1 else 2, if b then 3 else 4] == [1, 3] }; permit(principal, action, resource) when { if c then true else false };";
        assert_eq!(too_deep_at(siblings, 3, true), None);
        assert!(too_deep_at(siblings, 2, true).is_some());
        // A bracket closing takes its `if`s with it.
        let closed =
            "when { (if a then b else c) && (if d then e else f) && (if g then h else i) }";
        assert_eq!(too_deep_at(closed, 3, true), None);
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
        let limits = Limits::default();
        // n entities pointing at n + 1 distinct uids: a path of n + 1.
        assert_eq!(hierarchy_depth(&chain(99)), 100);
        assert_eq!(limits.check_entities(&chain(99)), Ok(()));
        assert_eq!(
            limits.check_entities(&chain(100)),
            Err(LimitExceeded {
                limit: Limit::HierarchyDepth,
                max: 100
            })
        );
        // Wide is fine: 10,000 people in one group.
        let wide = Value::Array(
            (0..10_000)
                .map(|i| serde_json::json!({"uid": {"type": "H", "id": format!("h{i}")}, "attrs": {}, "parents": [{"type": "G", "id": "all"}]}))
                .collect(),
        );
        assert_eq!(limits.check_entities(&wide), Ok(()));
    }

    #[test]
    fn entity_count_is_bounded() {
        let mut limits = Limits::default();
        limits.set(Limit::Entities, 3).unwrap();
        let four = Value::Array((0..4).map(|i| serde_json::json!({"uid": {"type": "H", "id": format!("h{i}")}, "attrs": {}, "parents": []})).collect());
        let err = limits.check_entities(&four).unwrap_err();
        assert_eq!(
            err.to_string(),
            "more than 3 entities (limit entities; raise it with --limit entities=N)"
        );
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
        assert_eq!(hierarchy_depth(&mixed), 2);
    }

    #[test]
    fn settings_parse_and_respect_ceilings() {
        let mut limits = Limits::default();
        limits.apply("json-depth=100").unwrap();
        assert_eq!(limits.json_depth, 100);
        limits.apply("file-bytes=1_000").unwrap();
        assert_eq!(limits.file_bytes, 1000);
        assert!(matches!(
            limits.apply("json-depth=1000"),
            Err(BadLimit::AboveCeiling { .. })
        ));
        assert!(matches!(
            limits.apply("jsondepth=3"),
            Err(BadLimit::UnknownName(_))
        ));
        assert!(matches!(limits.apply("entities"), Err(BadLimit::Syntax(_))));
        assert!(matches!(
            limits.apply("entities=0"),
            Err(BadLimit::Syntax(_))
        ));
        for limit in Limit::ALL {
            assert_eq!(limit.name().parse::<Limit>(), Ok(limit));
            assert!(Limits::default().get(limit) <= limit.ceiling());
        }
    }
}
