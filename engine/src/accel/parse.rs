//! Loading work done on text: a large file parsed in two halves.
//!
//! Reference path: `PolicySet::from_str` on the whole file. Held equal by the `pack::load` test
//! `large_texts_parse_in_two_halves_with_whole_text_positions` and, over generated packs, by
//! every differential test that loads a pack.

use std::str::FromStr;

use cedar_policy::PolicySet;

use super::parallel;
use crate::lexical::policy_boundary_after;

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
