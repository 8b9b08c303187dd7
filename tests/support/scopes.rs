//! Generated Cedar action scopes, for the property tests that compare tollgate with Cedar.

#![allow(dead_code, reason = "each test file uses part of it")]

use proptest::prelude::*;

/// `action`, `action == A`, `action in A` or `action in [A, B]`, with `A`, `B` from `actions`.
pub fn action_scope(actions: &'static [&'static str]) -> impl Strategy<Value = String> {
    let action = move || prop::sample::select(actions);
    prop_oneof![
        Just("action".to_string()),
        action().prop_map(|a| format!("action == Action::\"{a}\"")),
        action().prop_map(|a| format!("action in Action::\"{a}\"")),
        prop::collection::vec(action(), 1..3).prop_map(|v| format!(
            "action in [{}]",
            v.iter()
                .map(|a| format!("Action::\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    ]
}
