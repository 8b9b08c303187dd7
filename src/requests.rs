//! Distinct, valid requests for the reference pack (`policies/`, `schemas/`,
//! `examples/entities.json`), generated from a seed: for timing `tollgate simulate` on requests
//! that all differ, and for differential tests that need many of them.
//!
//! Every request fits the schema: principals are the agents of the entity file (and a few
//! unknown ones, whose attribute reads error), resources are of the types the action applies
//! to, and the context fields have the schema's types. Each line carries a unique `request_id`,
//! and principal, resource and the other context fields vary too, so no two requests hash
//! alike and none shares its decision inputs with a neighbour by construction.

use serde_json::{Map, Value, json};

use crate::synthetic::Rng;

/// One of `items` (which must not be empty).
fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

const AGENTS: [&str; 6] = [
    "triage-bot",
    "ir-bot",
    "deploy-bot",
    "helper-bot",
    "unknown-bot",
    "new-bot",
];
const HUMANS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "mallory"];

/// Each action and the resources it applies to, as `Type::"id"` (some not in the entity file).
const ACTIONS: [(&str, &[&str]); 13] = [
    (
        "summarize",
        &[
            "Document::\"incident-123\"",
            "Document::\"exception-42\"",
            "Document::\"d-new\"",
        ],
    ),
    (
        "draft",
        &[
            "Document::\"incident-123\"",
            "Document::\"exception-42\"",
            "Document::\"d-new\"",
        ],
    ),
    (
        "read_secret_metadata",
        &[
            "Secret::\"db-prod\"",
            "Secret::\"db-staging\"",
            "Secret::\"s-new\"",
        ],
    ),
    (
        "read_logs",
        &[
            "LogStream::\"prod-audit\"",
            "LogStream::\"dev-app\"",
            "LogStream::\"l-new\"",
        ],
    ),
    (
        "deploy",
        &[
            "Environment::\"prod\"",
            "Environment::\"staging\"",
            "Environment::\"e-new\"",
        ],
    ),
    (
        "change_config",
        &["Environment::\"prod\"", "Environment::\"staging\""],
    ),
    (
        "read_secret",
        &["Secret::\"db-prod\"", "Secret::\"db-staging\""],
    ),
    (
        "rotate_secret",
        &[
            "Secret::\"db-prod\"",
            "Secret::\"db-staging\"",
            "Secret::\"s-new\"",
        ],
    ),
    (
        "add_token_scope",
        &["Token::\"ci\"", "Token::\"dev-ci\"", "Token::\"t-new\""],
    ),
    (
        "extend_session",
        &[
            "Session::\"s-prod\"",
            "Session::\"s-dev\"",
            "Session::\"x-new\"",
        ],
    ),
    (
        "create_nhi",
        &[
            "ServiceAccount::\"report-bot-dev\"",
            "ServiceAccount::\"report-bot-prod\"",
            "ServiceAccount::\"unlabelled-bot\"",
            "ServiceAccount::\"sa-new\"",
        ],
    ),
    (
        "grant_access",
        &[
            "System::\"billing-api\"",
            "LogStream::\"prod-audit\"",
            "LogStream::\"dev-app\"",
        ],
    ),
    ("delegate", &[]),
];

const SCOPES: [&str; 6] = [
    "read:repo",
    "write:repo",
    "admin",
    "prod:write",
    "read:logs",
    "deploy",
];
const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

/// The evaluation time the generated delegations are spread around: `--at` for simulate.
pub const AT: &str = "2026-06-01T12:00:00Z";

/// The `n`-th request of the sequence `rng` generates, as a JSON object (one line of a requests
/// file). Requests with different `n` differ at least in `request_id`.
pub fn request(rng: &mut Rng, n: u64) -> Value {
    let agent = *pick(rng, &AGENTS);
    let (action, resources) = *pick(rng, &ACTIONS);
    let resource = if action == "delegate" {
        format!("Agent::{:?}", pick(rng, &AGENTS))
    } else {
        (*pick(rng, resources)).to_string()
    };
    let mut context = Map::new();
    context.insert(
        "request_id".into(),
        json!(format!("req-{n:08}-{:04x}", rng.below(1 << 16))),
    );
    match action {
        "deploy" | "change_config" => {
            context.insert("environment".into(), json!(pick(rng, &ENVIRONMENTS)));
        }
        "add_token_scope" if !rng.chance(5) => {
            let scopes: Vec<&str> = SCOPES.iter().copied().filter(|_| rng.chance(30)).collect();
            context.insert("scopes".into(), json!(scopes));
        }
        "extend_session" if !rng.chance(5) => {
            context.insert("session_minutes".into(), json!(rng.below(240) as i64 - 5));
        }
        "grant_access" | "delegate" if !rng.chance(10) => {
            context.insert(
                "grantee".into(),
                json!({"type": "Agent", "id": pick(rng, &AGENTS)}),
            );
        }
        _ => {}
    }
    if rng.chance(20) {
        // Expiry within two hours either side of `AT`, to the second.
        let offset = rng.below(4 * 3600) as i64 - 2 * 3600;
        let secs = 12 * 3600 + offset;
        let (day, secs) = if secs < 0 {
            (31, secs + 86_400)
        } else if secs >= 86_400 {
            (2, secs - 86_400)
        } else {
            (1, secs)
        };
        let month = if day == 31 { 5 } else { 6 };
        let expires = format!(
            "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        context.insert(
            "delegation".into(),
            json!({"granted_by": {"type": "Human", "id": pick(rng, &HUMANS)}, "expires_at": expires}),
        );
    }
    if rng.chance(30) {
        let mut recommendation = Map::new();
        recommendation.insert(
            "summary".into(),
            json!(format!("{action} on {resource}, step {}", rng.below(1000))),
        );
        if rng.chance(50) {
            recommendation.insert(
                "rationale".into(),
                json!(format!("plan item {}", rng.below(100))),
            );
        }
        context.insert("recommendation".into(), Value::Object(recommendation));
    }
    json!({
        "principal": format!("Agent::{agent:?}"),
        "action": format!("Action::{action:?}"),
        "resource": resource,
        "context": context,
    })
}

/// The first `count` requests for `seed`.
pub fn requests(seed: u64, count: u64) -> impl Iterator<Item = Value> {
    let mut rng = Rng::new(seed);
    (0..count).map(move |n| request(&mut rng, n))
}
