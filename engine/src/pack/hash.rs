//! The pack's identity: one hash over its files, the same from the CLI and the WASM module.

use serde_json::{Value, json};

use crate::canonical::Sha256Digest;
use crate::source::{PackSource, SourceFile};

/// The policy-set hash: SHA-256 over the canonical JSON (see [`crate::to_canonical_json`]) of
/// `{"policies": [{"name", "text"}…], "schemas": [{"name", "text"}…]}` with both lists sorted by
/// name — the same shape the WASM ABI loads, so either host hashes the same files alike.
pub fn pack_hash(source: &PackSource) -> Sha256Digest {
    let files = |list: &[SourceFile]| {
        let mut sorted: Vec<&SourceFile> = list.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        Value::Array(
            sorted
                .iter()
                .map(|f| json!({"name": f.name, "text": f.text}))
                .collect(),
        )
    };
    let value = json!({"policies": files(&source.policies), "schemas": files(&source.schemas)});
    // Only strings in this value: canonicalisation cannot fail; hash the empty string if it did.
    Sha256Digest::of_bytes(
        crate::to_canonical_json(&value)
            .unwrap_or_default()
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_names_and_texts_not_order() {
        let a = PackSource {
            policies: vec![
                SourceFile::new("a.cedar", "x"),
                SourceFile::new("b.cedar", "y"),
            ],
            schemas: vec![],
        };
        let mut b = a.clone();
        b.policies.reverse();
        assert_eq!(pack_hash(&a), pack_hash(&b));
        let mut c = a.clone();
        c.policies[0].name = "c.cedar".into();
        assert_ne!(pack_hash(&a), pack_hash(&c));
        let mut d = a.clone();
        d.schemas.push(SourceFile::new("a.cedar", "x"));
        assert_ne!(pack_hash(&a), pack_hash(&d));
    }
}
