//! Bearer tokens: who may call which endpoint, and for which principals.
//!
//! The file maps a name to the SHA-256 of the token, its roles and (for gateways) the principals
//! it may decide for and the entity types it may add for one request. Only hashes are stored, so
//! the file can be read by operators without handing out the tokens.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tollgate_engine::EntityRef;

/// What a token may do. docs/serve.md has the table of endpoints per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Decides for its principals, opens, watches, consumes and reports on approval requests.
    Gateway,
    /// Lists and shows approval requests and posts signed records.
    Approver,
    /// Reads the audit chain, its head and the metrics.
    Auditor,
    /// Reloads the pack.
    Admin,
}

impl Role {
    /// The role's name as the token file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// The caller an endpoint acts for: a named token, or the loopback caller of a server started
/// without `--tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (`local` without tokens); approval requests remember who opened them.
    pub name: String,
    roles: BTreeSet<Role>,
    /// `None`: any principal (loopback without tokens).
    principals: Option<BTreeSet<String>>,
    entity_types: BTreeSet<String>,
}

impl Caller {
    /// The caller of a server without `--tokens`: gateway and approver on loopback; no admin, no
    /// audit, no caller entities.
    pub fn local() -> Self {
        Caller {
            name: "local".into(),
            roles: [Role::Gateway, Role::Approver].into_iter().collect(),
            principals: None,
            entity_types: BTreeSet::new(),
        }
    }

    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller may decide for `principal`.
    pub fn may_act_for(&self, principal: &EntityRef) -> bool {
        match &self.principals {
            None => true,
            Some(allowed) => allowed.contains(&principal.to_string()),
        }
    }

    /// Whether the caller may add an entity of type `ty` for one request.
    pub fn may_add_type(&self, ty: &str) -> bool {
        self.entity_types.contains(ty)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenJson {
    sha256: String,
    roles: Vec<Role>,
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    entity_types: Vec<String>,
}

/// The token file, read.
#[derive(Debug, Clone)]
pub struct Tokens {
    by_hash: Vec<([u8; 32], Caller)>,
}

/// A token file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenFileError(String);

impl Tokens {
    /// Reads the token file's JSON. Every entry needs a 64-hex `sha256` and at least one role;
    /// a gateway needs its principals; two names may not share a token.
    pub fn parse(text: &str) -> Result<Self, TokenFileError> {
        let value = tollgate_engine::json::parse(text)
            .map_err(|e| TokenFileError(format!("not JSON: {e}")))?;
        let map: BTreeMap<String, TokenJson> = serde_json::from_value(value).map_err(|e| {
            TokenFileError(format!(
                "{e} (expected {{\"name\": {{\"sha256\": \"<hex>\", \"roles\": [...], \"principals\": [...]}}}})"
            ))
        })?;
        let mut by_hash: Vec<([u8; 32], Caller)> = Vec::new();
        for (name, entry) in map {
            let hash = decode_hash(&entry.sha256)
                .ok_or_else(|| TokenFileError(format!("{name}: `sha256` must be 64 hex digits")))?;
            if entry.roles.is_empty() {
                return Err(TokenFileError(format!("{name}: `roles` is empty")));
            }
            let mut principals = BTreeSet::new();
            for p in &entry.principals {
                let entity: EntityRef = p.parse().map_err(|e| {
                    TokenFileError(format!("{name}: principal {p:?} is not an entity: {e}"))
                })?;
                principals.insert(entity.to_string());
            }
            if entry.roles.contains(&Role::Gateway) && principals.is_empty() {
                return Err(TokenFileError(format!(
                    "{name}: a gateway token needs `principals`: the agents it decides for"
                )));
            }
            if by_hash.iter().any(|(h, _)| *h == hash) {
                return Err(TokenFileError(format!(
                    "{name}: the same token is listed under another name"
                )));
            }
            by_hash.push((
                hash,
                Caller {
                    name,
                    roles: entry.roles.into_iter().collect(),
                    principals: Some(principals),
                    entity_types: entry.entity_types.into_iter().collect(),
                },
            ));
        }
        Ok(Tokens { by_hash })
    }

    /// The caller holding `token`, compared in constant time against every entry.
    pub fn caller(&self, token: &str) -> Option<&Caller> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (hash, caller) in &self.by_hash {
            if constant_time_eq(hash, &presented) {
                found = Some(caller);
            }
        }
        found
    }
}

/// The hash a token file stores for `token` (hex SHA-256).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(entries: &str) -> Result<Tokens, TokenFileError> {
        Tokens::parse(entries)
    }

    #[test]
    fn a_token_finds_its_caller_and_nothing_else_does() {
        let text = format!(
            r#"{{"gw": {{"sha256": "{}", "roles": ["gateway"], "principals": ["Agent::\"bot\""], "entity_types": ["Ticket"]}},
                "alice": {{"sha256": "{}", "roles": ["approver"]}}}}"#,
            token_hash("gw-secret"),
            token_hash("alice-secret")
        );
        let tokens = file(&text).unwrap();
        let gw = tokens.caller("gw-secret").unwrap();
        assert_eq!(gw.name, "gw");
        assert!(gw.has(Role::Gateway) && !gw.has(Role::Admin));
        assert!(gw.may_act_for(&"Agent::\"bot\"".parse().unwrap()));
        assert!(!gw.may_act_for(&"Agent::\"other\"".parse().unwrap()));
        assert!(gw.may_add_type("Ticket") && !gw.may_add_type("Human"));
        assert!(tokens.caller("alice-secret").unwrap().has(Role::Approver));
        assert!(tokens.caller("gw-secret ").is_none());
        assert!(tokens.caller("").is_none());
    }

    #[test]
    fn bad_token_files_are_refused_with_the_entry_named() {
        let h = token_hash("t");
        for (text, needle) in [
            (
                r#"{"a": {"sha256": "zz", "roles": ["admin"]}}"#.to_string(),
                "a: `sha256`",
            ),
            (
                format!(r#"{{"a": {{"sha256": "{h}", "roles": []}}}}"#),
                "a: `roles` is empty",
            ),
            (
                format!(r#"{{"a": {{"sha256": "{h}", "roles": ["gateway"]}}}}"#),
                "a: a gateway token needs",
            ),
            (
                format!(r#"{{"a": {{"sha256": "{h}", "roles": ["root"]}}}}"#),
                "unknown variant",
            ),
            (
                format!(r#"{{"a": {{"sha256": "{h}", "roles": ["admin"], "extra": 1}}}}"#),
                "unknown field",
            ),
            (
                format!(
                    r#"{{"a": {{"sha256": "{h}", "roles": ["admin"]}}, "b": {{"sha256": "{h}", "roles": ["auditor"]}}}}"#
                ),
                "b: the same token",
            ),
            (
                format!(
                    r#"{{"a": {{"sha256": "{h}", "roles": ["admin"]}}, "a": {{"sha256": "{h}", "roles": ["admin"]}}}}"#
                ),
                "duplicate",
            ),
        ] {
            let err = file(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should contain {needle}");
        }
    }
}
