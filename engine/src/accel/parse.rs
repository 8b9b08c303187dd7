//! Loading work done on text: a large file parsed in two halves, and forbids' shadows built by
//! swapping the keyword in their text.
//!
//! Reference paths: `PolicySet::from_str` on the whole file, and a forbid's shadow through
//! Cedar's JSON form (`pack::load::shadow_by_json`). Held equal by the `pack::load` tests
//! `large_texts_parse_in_two_halves_with_whole_text_positions`,
//! `shadows_from_text_equal_shadows_through_json` and `a_text_that_does_not_swap_takes_the_json_route`,
//! and, over generated packs, by every differential test that loads a pack.

use std::str::FromStr;

use cedar_policy::{Policy, PolicySet};

use super::parallel;
use crate::lexical::{policy_boundary_after, swap_effect};
use crate::pack::in_source_order;

/// The policies of a large `text` as two sets that together hold the same policies in the same
/// order, or `None` (a small text, or a half that does not parse: the caller parses the whole,
/// so that errors are reported exactly as for the whole).
///
/// The text is cut at a policy boundary and its halves parsed on two threads; the second half is
/// padded with spaces to its offset, so every source position Cedar records is what parsing the
/// whole text gives.
pub(crate) fn in_halves(text: &str) -> Option<Vec<PolicySet>> {
    /// Below this size (about 400 policies) one thread parses faster than two.
    const WORTH_SPLITTING: usize = 64 * 1024;
    if text.len() < WORTH_SPLITTING {
        return None;
    }
    let cut = policy_boundary_after(text, text.len() / 2)?;
    let (first, second) = (text.get(..cut)?, text.get(cut..)?);
    let padded = " ".repeat(cut) + second;
    match parallel::join(
        true,
        || PolicySet::from_str(first).ok(),
        || PolicySet::from_str(&padded).ok(),
    ) {
        (Some(a), Some(b)) => Some(vec![a, b]),
        _ => None,
    }
}

/// For each policy (with its source text), its shadow built from text when it is a forbid whose
/// text with `forbid` swapped for `permit` parses to exactly that forbid as a permit (checked on
/// effect, annotations and scope); `None` otherwise. The swapped texts are parsed together, as
/// one set, which costs what parsing the pack did.
pub(crate) fn shadows_from_text(policies: &[(&Policy, &str)]) -> Vec<Option<Policy>> {
    let swapped: Vec<Option<String>> = policies
        .iter()
        .map(|(p, text)| match p.effect() {
            cedar_policy::Effect::Forbid => swap_effect(text),
            cedar_policy::Effect::Permit => None,
        })
        .collect();
    let batch: Vec<&str> = swapped.iter().flatten().map(String::as_str).collect();
    let parsed = PolicySet::from_str(&batch.join("\n")).ok();
    let mut parsed = parsed
        .as_ref()
        .map(in_source_order)
        .filter(|parsed| parsed.len() == batch.len())
        .unwrap_or_default()
        .into_iter();
    policies
        .iter()
        .zip(swapped)
        .map(|((policy, _), swapped)| {
            let shadow = swapped.and_then(|_| parsed.next())?;
            is_shadow_of(shadow, policy).then(|| shadow.new_id(policy.id().clone()))
        })
        .collect()
}

/// Whether `shadow` is `policy` as a permit, as far as cheap checks tell.
fn is_shadow_of(shadow: &Policy, policy: &Policy) -> bool {
    shadow.effect() == cedar_policy::Effect::Permit
        && shadow.annotations().eq(policy.annotations())
        && shadow.principal_constraint() == policy.principal_constraint()
        && shadow.action_constraint() == policy.action_constraint()
        && shadow.resource_constraint() == policy.resource_constraint()
}
