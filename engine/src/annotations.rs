//! tollgate's own annotation keys, and refusing keys that look like a misspelling of one.
//!
//! Cedar accepts any annotation key, so `@teir("dual")` parses: without a check, the permit
//! would simply have no `@tier` and become `single`, one approval instead of two, and nothing
//! would stop the pack from loading. A key that is not one of tollgate's but is close to one
//! is therefore refused. Close means: equal once case, `_` and `-` are ignored (`@Tier`,
//! `@reviewBy`, `@expansion-ok`), or within a small edit distance of it after that folding:
//! the optimal string alignment distance (Levenshtein plus the swap of two adjacent
//! characters), at most 1 for keys of up to 4 characters (`tier`, `id`) and at most 2 for
//! longer ones. Other keys stay allowed: packs may carry their own annotations.

use crate::lexical::{code_only, is_ident_byte};
use crate::model::policy::AnnotationKey;
use crate::schema::{EXPANSION_ANNOTATION, HUMAN_ANNOTATION};

/// The annotation keys tollgate reads on policies.
pub(crate) const POLICY_KEYS: &[&str] = &[
    AnnotationKey::Tier.as_str(),
    AnnotationKey::Id.as_str(),
    AnnotationKey::Reason.as_str(),
    AnnotationKey::Control.as_str(),
    AnnotationKey::Owner.as_str(),
    AnnotationKey::ReviewBy.as_str(),
    AnnotationKey::ExpansionOk.as_str(),
];

/// The annotation keys tollgate reads on schema entity types and actions.
pub(crate) const SCHEMA_KEYS: &[&str] = &[HUMAN_ANNOTATION, EXPANSION_ANNOTATION];

/// The key of `known` that `key` was most likely meant to be, when `key` is not itself one of
/// them but is close to one (see the module documentation). `None` for an exact or a far key.
pub(crate) fn misspelling_of(key: &str, known: &[&'static str]) -> Option<&'static str> {
    if known.contains(&key) {
        return None;
    }
    let folded = fold(key);
    known
        .iter()
        .filter_map(|&k| {
            let target = fold(k);
            let allowed = if target.len() <= 4 { 1 } else { 2 };
            let distance = osa_distance(&folded, &target);
            (distance <= allowed).then_some((distance, k))
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, k)| k)
}

/// `key` compared loosely: lower case, without `_` and `-` (so camelCase and kebab-case fold).
fn fold(key: &str) -> Vec<char> {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// two adjacent characters, each costing 1 (no substring is edited twice).
fn osa_distance(a: &[char], b: &[char]) -> usize {
    // Three rows of the dynamic-programming table: two back, one back, current.
    let width = b.len() + 1;
    let mut before: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let deletion = previous.get(j + 1).map_or(usize::MAX, |d| d + 1);
            let insertion = row.get(j).map_or(usize::MAX, |d| d + 1);
            let substitution = previous.get(j).map_or(usize::MAX, |d| d + cost);
            let mut best = deletion.min(insertion).min(substitution);
            let swapped =
                i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca) && ca != cb;
            if swapped && let Some(d) = before.get(j - 1) {
                best = best.min(d + 1);
            }
            row.push(best);
        }
        before = std::mem::replace(&mut previous, row);
    }
    previous.last().copied().unwrap_or(0)
}

/// The byte offset of the annotation `@key` in Cedar text (a policy or a `.cedarschema` file),
/// outside strings and comments.
pub(crate) fn find_in_cedar(text: &str, key: &str) -> Option<usize> {
    let code = code_only(text);
    let needle = format!("@{key}");
    let needle = needle.as_bytes();
    (0..code.len()).find(|&at| {
        code.get(at..at + needle.len()) == Some(needle)
            && !code
                .get(at + needle.len())
                .copied()
                .is_some_and(is_ident_byte)
    })
}

/// The byte offset of the member `"key":` of an `"annotations"` object in a JSON schema file
/// (the first one; else the first such member anywhere).
pub(crate) fn find_in_json(text: &str, key: &str) -> Option<usize> {
    let needle = format!("\"{key}\"");
    let member = |from: usize, to: usize| {
        let window = text.get(from..to)?;
        window
            .match_indices(&needle)
            .map(|(at, _)| from + at)
            .find(|&at| {
                text.get(at + needle.len()..)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
    };
    text.match_indices("\"annotations\"")
        .find_map(|(at, _)| {
            // Annotation values are strings: the object ends at the first `}` after it.
            let end = text.get(at..)?.find('}').map_or(text.len(), |e| at + e);
            member(at, end)
        })
        .or_else(|| member(0, text.len()))
}

/// One line saying which keys tollgate reads, for the help of a misspelling.
pub(crate) fn keys_help(known: &[&str], on: &str) -> String {
    let keys: Vec<String> = known.iter().map(|k| format!("@{k}")).collect();
    format!(
        "tollgate reads {} on {on}; a key this close to one of them is refused so that a typo cannot change a decision unnoticed (a key of your own must differ more)",
        keys.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(key: &str) -> Option<&'static str> {
        misspelling_of(key, POLICY_KEYS)
    }

    #[test]
    fn exact_keys_pass() {
        for k in POLICY_KEYS {
            assert_eq!(policy(k), None, "{k}");
        }
        for k in SCHEMA_KEYS {
            assert_eq!(misspelling_of(k, SCHEMA_KEYS), None, "{k}");
        }
    }

    #[test]
    fn one_edit_on_short_keys() {
        assert_eq!(policy("teir"), Some("tier")); // a swap: one edit here, two for Levenshtein
        assert_eq!(policy("tir"), Some("tier"));
        assert_eq!(policy("tiers"), Some("tier"));
        assert_eq!(policy("tler"), Some("tier"));
        assert_eq!(policy("ids"), Some("id"));
        assert_eq!(policy("i"), Some("id"));
        // Two edits from a short key: allowed.
        assert_eq!(policy("tr"), None);
        assert_eq!(policy("tierxy"), None);
        assert_eq!(policy("xyz"), None);
    }

    #[test]
    fn two_edits_on_longer_keys() {
        assert_eq!(policy("reveiw_by"), Some("review_by"));
        assert_eq!(policy("reviw_by"), Some("review_by"));
        assert_eq!(policy("raeson"), Some("reason"));
        assert_eq!(policy("resaon"), Some("reason"));
        assert_eq!(policy("controls"), Some("control"));
        assert_eq!(policy("ownr"), Some("owner"));
        assert_eq!(policy("expnsion_k"), Some("expansion_ok"));
        // Three edits: allowed.
        assert_eq!(policy("rsn"), None);
        assert_eq!(policy("review"), Some("review_by")); // `_by` is one character after folding
        assert_eq!(policy("preview"), None);
    }

    #[test]
    fn case_underscores_and_dashes_fold() {
        assert_eq!(policy("Tier"), Some("tier"));
        assert_eq!(policy("TIER"), Some("tier"));
        assert_eq!(policy("ID"), Some("id"));
        assert_eq!(policy("Reason"), Some("reason"));
        assert_eq!(policy("reviewBy"), Some("review_by"));
        assert_eq!(policy("Review-By"), Some("review_by"));
        assert_eq!(policy("reviewby"), Some("review_by"));
        assert_eq!(policy("expansionOk"), Some("expansion_ok"));
        assert_eq!(
            misspelling_of("privilege-expansion", SCHEMA_KEYS),
            Some("privilege_expansion")
        );
        assert_eq!(
            misspelling_of("privilegeExpansion", SCHEMA_KEYS),
            Some("privilege_expansion")
        );
        assert_eq!(misspelling_of("Human", SCHEMA_KEYS), Some("human"));
        assert_eq!(misspelling_of("humans", SCHEMA_KEYS), Some("human"));
    }

    #[test]
    fn far_keys_are_the_packs_own() {
        for k in [
            "note",
            "doc",
            "rule",
            "team",
            "ticket",
            "severity",
            "risk",
            "deprecated",
        ] {
            assert_eq!(policy(k), None, "{k}");
            assert_eq!(misspelling_of(k, SCHEMA_KEYS), None, "{k}");
        }
    }

    #[test]
    fn distance_is_optimal_string_alignment() {
        let d = |a: &str, b: &str| {
            osa_distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("", ""), 0);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("teir", "tier"), 1);
        assert_eq!(d("ca", "abc"), 3); // OSA, not full Damerau (which gives 2)
        assert_eq!(d("abcd", "badc"), 2);
    }

    #[test]
    fn finds_keys_outside_strings_and_comments() {
        let text = "// @teir here\n@reason(\"@teir\") @teirs(\"x\") @teir(\"dual\") permit(principal, action, resource);";
        let at = find_in_cedar(text, "teir").unwrap();
        assert_eq!(text.get(at..at + 11), Some("@teir(\"dual"));
        assert_eq!(find_in_cedar(text, "tier"), None);
        let json = r#"{"": {"entityTypes": {"humna": {"annotations": {"humna": ""}}}}}"#;
        let at = find_in_json(json, "humna").unwrap();
        assert_eq!(json.get(at..at + 11), Some("\"humna\": \"\""));
    }
}
