//! Reading `Type::"id"` without Cedar's full parser, for the spelling nearly every request uses.
//!
//! Reference path: `EntityUid::from_str` (Cedar's parser), which takes every string this does
//! not answer for. Held equal by the property test `quick_uid_agrees_with_cedar` below (every
//! uid this reads, Cedar's parser reads the same).

use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid};

use super::memo::{Memo, memoised};

/// `Type::"id"` with a plain ASCII id: the spelling nearly every request uses, read without
/// Cedar's full parser (a noticeable part of a decision's time). Anything else returns `None`
/// and goes to `EntityUid::from_str`. Such an id is its own Cedar string literal, and the type
/// name is still checked by Cedar (`EntityTypeName::from_str`, memoised), so both readings agree
/// wherever this one answers (a property test checks it).
pub(crate) fn quick_uid(s: &str) -> Option<EntityUid> {
    let (ty, id) = s.strip_suffix('"')?.rsplit_once("::\"")?;
    let plain_type = !ty.is_empty()
        && ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    // Cedar reads a uid only in its normalised spelling, where the id is written as
    // `escape_debug` writes it: printable ASCII other than quotes and backslash is unchanged.
    let plain_id = id
        .bytes()
        .all(|b| (b.is_ascii_graphic() || b == b' ') && !matches!(b, b'"' | b'\'' | b'\\'));
    if !plain_type || !plain_id {
        return None;
    }
    Some(EntityUid::from_type_name_and_id(
        type_name(ty)?,
        EntityId::new(id),
    ))
}

/// `EntityTypeName::from_str`, memoised per thread: requests name few types, and each parse
/// runs Cedar's parser. The memo is cleared when it grows, so hostile input cannot grow it.
fn type_name(ty: &str) -> Option<EntityTypeName> {
    thread_local! {
        static TYPES: Memo<Option<EntityTypeName>> = Memo::default();
    }
    memoised(&TYPES, ty, |ty| EntityTypeName::from_str(ty).ok())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn quick_uid_reads_the_plain_spelling_and_leaves_the_rest() {
        let uid = quick_uid("NS::Agent::\"a b::c\"").unwrap();
        assert_eq!(uid, EntityUid::from_str("NS::Agent::\"a b::c\"").unwrap());
        for s in [
            "Agent::\"a\\\"b\"",
            "Agent :: \"a\"",
            "if::\"a\"",
            "::\"a\"",
            "Agent::\"a",
            "Agent::'a'",
        ] {
            assert!(quick_uid(s).is_none(), "{s}");
        }
    }

    proptest! {
        /// Wherever the quick reading answers, Cedar's parser gives the same uid.
        #[test]
        fn quick_uid_agrees_with_cedar(
            ty in prop::sample::select(vec!["Agent", "NS::Agent", "A::B::C", "if", "in", "_x", "9a", "Agent:", ""]),
            id in "[a-z\"'\\\\: é\u{0}\u{301}\n\t~-]{0,8}",
        ) {
            let s = format!("{ty}::\"{id}\"");
            if let Some(uid) = quick_uid(&s) {
                prop_assert_eq!(Some(uid), EntityUid::from_str(&s).ok(), "{}", s);
            }
        }
    }
}
