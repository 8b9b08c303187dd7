//! `--format sarif`: SARIF 2.1.0 for code-scanning UIs. The rules that fired are listed with
//! their documentation and control tags; each result's level comes from its finding's
//! severity; locations are relative to the working directory (the repository root in CI),
//! with 1-based regions whose columns count Unicode code points.

use serde_json::{Value, json};
use tollgate_engine::lint::{Finding, Location, RuleId, Severity, rule};

use super::{Emitter, Sources};

/// SARIF 2.1.0.
pub struct Sarif;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

impl Emitter for Sarif {
    fn emit(&self, findings: &[Finding], sources: &Sources) -> miette::Result<String> {
        let mut fired: Vec<RuleId> = findings.iter().map(|f| f.rule).collect();
        fired.sort_unstable();
        fired.dedup();
        let rules: Vec<Value> = fired.iter().map(|&id| rule_descriptor(id)).collect();
        let results: Vec<Value> = findings
            .iter()
            .map(|f| {
                let index = fired.iter().position(|&id| id == f.rule).unwrap_or(0);
                result(f, index, sources)
            })
            .collect();
        let log = json!({
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "tollgate",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://example.invalid/tollgate/docs/lint.md",
                    "rules": rules,
                }},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }],
        });
        let mut text = serde_json::to_string_pretty(&log).map_err(|e| miette::miette!("{e}"))?;
        text.push('\n');
        Ok(text)
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `gate-after-expansion` → `GateAfterExpansion`, SARIF's readable rule name.
fn pascal(id: RuleId) -> String {
    id.as_str()
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn rule_descriptor(id: RuleId) -> Value {
    let Some(r) = rule(id) else {
        return json!({"id": id.as_str()});
    };
    let doc = r.explanation();
    let mut tags = vec!["security".to_string()];
    tags.extend(r.controls().iter().map(|c| c.as_str().to_string()));
    json!({
        "id": id.as_str(),
        "name": pascal(id),
        "shortDescription": {"text": r.summary()},
        "fullDescription": {"text": doc},
        "help": {"text": doc, "markdown": doc},
        "helpUri": format!("https://example.invalid/tollgate/docs/lint.md#{}", id.as_str()),
        "defaultConfiguration": {"level": level(r.severity())},
        "properties": {
            "tags": tags,
            "precision": "high",
            // GitHub code scanning ranks security alerts by this score (0.0–10.0).
            "security-severity": match r.severity() {
                Severity::Error => "8.0",
                Severity::Warning => "4.0",
            },
        },
    })
}

fn physical(l: &Location, sources: &Sources) -> Value {
    json!({
        "artifactLocation": {"uri": uri(&sources.path(l))},
        "region": {
            "startLine": l.span.start.line,
            "startColumn": l.span.start.column,
            "endLine": l.span.end.line,
            "endColumn": l.span.end.column,
        },
    })
}

/// A relative path as a URI reference: each segment percent-encoded where needed.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn result(f: &Finding, index: usize, sources: &Sources) -> Value {
    let related: Vec<Value> = f
        .related
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "id": i,
                "physicalLocation": physical(&r.location, sources),
                "message": {"text": r.message},
            })
        })
        .collect();
    let mut out = json!({
        "ruleId": f.rule.as_str(),
        "ruleIndex": index,
        "level": level(f.severity),
        "message": {"text": format!("{} (fix: {})", f.message, f.hint)},
        "locations": [{"physicalLocation": physical(&f.location, sources)}],
        "relatedLocations": related,
        "properties": {
            "policies": f.policies.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "controls": f.controls.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "hint": f.hint,
        },
    });
    if let (Some(example), Some(properties)) = (&f.counterexample, out.get_mut("properties")) {
        properties["counterexample"] = example.clone();
    }
    out
}
