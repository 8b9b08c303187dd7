//! The example request corpus (`examples/requests.jsonl`): realistic proposed agent actions over
//! the reference schema and `examples/entities.json`, generated from a seed so that anyone can
//! reproduce the file (`TOLLGATE_REGENERATE=1 cargo test --test examples_corpus`).

use serde_json::{Map, Value, json};

use crate::synthetic::Rng;

const AGENTS: [&str; 4] = ["triage-bot", "ir-bot", "deploy-bot", "helper-bot"];
const HUMANS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items
        .get(rng.below(items.len() as u64) as usize)
        .copied()
        .unwrap_or("")
}

/// `count` requests from `seed`. Times are relative to 2026-06-01T12:00:00Z: evaluate with
/// `--at 2026-06-01T12:00:00Z` for reproducible delegation expiry.
pub fn requests(count: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (0..count).map(|i| one(&mut rng, i)).collect()
}

fn one(rng: &mut Rng, i: usize) -> Value {
    let agent = pick(rng, &AGENTS);
    let mut ctx = Map::new();
    ctx.insert(
        "request_id".into(),
        json!(format!("req-{seed:05}", seed = i + 1)),
    );
    let roll = rng.below(100);
    let (action, resource) = match roll {
        0..=29 => (
            pick(rng, &["summarize", "draft"]),
            format!(
                "Document::\"{}\"",
                pick(rng, &["incident-123", "exception-42"])
            ),
        ),
        30..=39 => (
            "read_secret_metadata",
            format!("Secret::\"{}\"", pick(rng, &["db-prod", "db-staging"])),
        ),
        40..=49 => (
            "read_logs",
            format!(
                "LogStream::\"{}\"",
                pick(rng, &["prod-audit", "dev-app", "dev-app"])
            ),
        ),
        50..=59 => {
            let env = pick(rng, &["staging", "staging", "prod"]);
            ctx.insert("environment".into(), json!(env));
            (
                pick(rng, &["deploy", "change_config"]),
                format!("Environment::\"{env}\""),
            )
        }
        60..=67 => {
            ctx.insert(
                "scopes".into(),
                json!([pick(
                    rng,
                    &["read:logs", "read:repo", "prod:write", "admin"]
                )]),
            );
            (
                "add_token_scope",
                format!("Token::\"{}\"", pick(rng, &["ci", "dev-ci"])),
            )
        }
        68..=74 => {
            ctx.insert(
                "session_minutes".into(),
                json!([10, 15, 30, 45, 90, 240][rng.below(6) as usize]),
            );
            (
                "extend_session",
                format!("Session::\"{}\"", pick(rng, &["s-dev", "s-prod"])),
            )
        }
        75..=79 => (
            "create_nhi",
            format!(
                "ServiceAccount::\"{}\"",
                pick(rng, &["report-bot-dev", "report-bot-prod"])
            ),
        ),
        80..=84 => {
            ctx.insert(
                "grantee".into(),
                json!({"type": "Agent", "id": pick(rng, &AGENTS)}),
            );
            (
                "grant_access",
                pick(
                    rng,
                    &["System::\"billing-api\"", "LogStream::\"prod-audit\""],
                )
                .to_string(),
            )
        }
        85..=87 => ("delegate", format!("Agent::\"{}\"", pick(rng, &AGENTS))),
        88..=92 => (
            "read_secret",
            format!("Secret::\"{}\"", pick(rng, &["db-prod", "db-staging"])),
        ),
        _ => (
            "rotate_secret",
            format!("Secret::\"{}\"", pick(rng, &["db-prod", "db-staging"])),
        ),
    };
    // About one request in six runs on delegated authority, some of it already expired.
    if rng.chance(16) {
        let hours = rng.below(6) as i64 - 1; // -1..=4 hours from the evaluation time
        let expires = format!("2026-06-01T{:02}:00:00Z", 12 + hours);
        ctx.insert(
            "delegation".into(),
            json!({"granted_by": {"type": "Human", "id": pick(rng, &HUMANS)}, "expires_at": expires}),
        );
    }
    if rng.chance(30) {
        ctx.insert(
            "recommendation".into(),
            json!({"summary": format!("{action} on {resource}"), "rationale": "proposed by the agent's plan"}),
        );
    }
    json!({
        "principal": format!("Agent::\"{agent}\""),
        "action": format!("Action::\"{action}\""),
        "resource": resource,
        "context": Value::Object(ctx),
    })
}

/// JSON Lines text of `requests`.
pub fn to_jsonl(requests: &[Value]) -> String {
    requests.iter().map(|r| format!("{r}\n")).collect()
}
