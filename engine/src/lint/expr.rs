//! Walking Cedar expressions in their JSON form (the EST of `Policy::to_json`): every node is
//! an object with one key naming the operator.

use serde_json::Value;

/// Fields of an operator's object that hold sub-expressions.
const CHILD_FIELDS: [&str; 6] = ["arg", "left", "right", "if", "then", "else"];

/// One expression node: its operator and its operand object or array.
pub(crate) fn node(e: &Value) -> Option<(&str, &Value)> {
    let obj = e.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// The direct sub-expressions of `e`.
pub(crate) fn children(e: &Value) -> Vec<&Value> {
    let Some((op, v)) = node(e) else {
        return Vec::new();
    };
    match (op, v) {
        ("Value" | "Var" | "Slot" | "Unknown", _) => Vec::new(),
        ("Set", Value::Array(items)) => items.iter().collect(),
        ("Record", Value::Object(fields)) => fields.values().collect(),
        // An extension function or method call: `{"decimal": [arg]}`, `{"lessThan": [a, b]}`.
        (_, Value::Array(args)) => args.iter().collect(),
        ("is", Value::Object(o)) => o.get("left").into_iter().chain(o.get("in")).collect(),
        (_, Value::Object(o)) => CHILD_FIELDS.iter().filter_map(|f| o.get(*f)).collect(),
        _ => Vec::new(),
    }
}

/// Calls `f` on `e` and every sub-expression, parents first.
pub(crate) fn walk<'a>(e: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    f(e);
    for c in children(e) {
        walk(c, f);
    }
}

/// Every sub-expression of the bodies of `conditions` (`[{"kind", "body"}]`).
pub(crate) fn all_nodes(conditions: &[Value]) -> Vec<&Value> {
    let mut out = Vec::new();
    for c in conditions {
        if let Some(body) = c.get("body") {
            walk(body, &mut |e| out.push(e));
        }
    }
    out
}

/// Whether `e` is a literal (`{"Value": ...}`).
pub(crate) fn is_literal(e: &Value) -> bool {
    matches!(node(e), Some(("Value", _)))
}

/// `Some(name)` when `e` is the variable `name` (`principal`, `context`, …).
pub(crate) fn var(e: &Value) -> Option<&str> {
    match node(e) {
        Some(("Var", Value::String(v))) => Some(v),
        _ => None,
    }
}

/// `Some((left, attr))` when `e` is `left.attr`.
pub(crate) fn get_attr(e: &Value) -> Option<(&Value, &str)> {
    match node(e) {
        Some((".", Value::Object(o))) => Some((o.get("left")?, o.get("attr")?.as_str()?)),
        _ => None,
    }
}

/// `Some((left, path))` when `e` is `left has a` or `left has a.b.c`.
pub(crate) fn has_attr(e: &Value) -> Option<(&Value, Vec<&str>)> {
    match node(e) {
        Some(("has", Value::Object(o))) => {
            let path = match o.get("attr")? {
                Value::String(a) => vec![a.as_str()],
                Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
                _ => return None,
            };
            Some((o.get("left")?, path))
        }
        _ => None,
    }
}

/// Whether `e` is `context.<attr>` (or `context.<attr>.…`) for the given top-level attribute.
pub(crate) fn is_context_attr(e: &Value, attr: &str) -> bool {
    match get_attr(e) {
        Some((left, a)) if a == attr => var(left) == Some("context"),
        Some((left, _)) => is_context_attr(left, attr),
        None => false,
    }
}

/// Whether some sub-expression of `e` satisfies `pred`.
pub(crate) fn any(e: &Value, pred: &dyn Fn(&Value) -> bool) -> bool {
    let mut found = false;
    walk(e, &mut |n| found = found || pred(n));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn conditions(text: &str) -> Vec<Value> {
        let p = cedar_policy::Policy::from_str(text).unwrap();
        p.to_json().unwrap()["conditions"]
            .as_array()
            .unwrap()
            .clone()
    }

    #[test]
    fn walks_every_node() {
        let c = conditions(
            "permit(principal, action, resource) when { if context has a.b then decimal(context.x).lessThan(decimal(\"1.0\")) else [1, -principal.n].contains(2) };",
        );
        let nodes = all_nodes(&c);
        let ops: Vec<&str> = nodes
            .iter()
            .filter_map(|n| node(n).map(|(k, _)| k))
            .collect();
        for want in [
            "if-then-else",
            "has",
            "lessThan",
            "decimal",
            ".",
            "Set",
            "neg",
            "contains",
        ] {
            assert!(ops.contains(&want), "{want} missing from {ops:?}");
        }
        assert!(nodes.iter().any(|n| is_context_attr(n, "x")));
        let has = nodes.iter().find_map(|n| has_attr(n)).unwrap();
        assert_eq!(has.1, ["a", "b"]);
    }
}
