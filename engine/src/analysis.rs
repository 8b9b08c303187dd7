//! The Cedar view of a loaded pack, for exact analysers built on Cedar's symbolic compiler
//! (the `tollgate-smt` crate).
//!
//! Unlike the rest of the public surface this module names Cedar types: an analyser must
//! compile the very policies and schema the engine decides with, not a re-parse that could
//! drift from them. It changes with the engine's Cedar version.

use cedar_policy::{EntityUid, Policy, Schema};

use crate::lint::{Location, Origin, Span};
use crate::model::policy::PolicyInfo;
use crate::pack::Pack;
use crate::timestamp::CalendarDate;

/// The Cedar schema the pack validates and decides with.
pub fn cedar_schema(pack: &Pack) -> Option<&Schema> {
    pack.schema().map(crate::schema::PackSchema::cedar)
}

/// The Cedar policy behind `policy` (its Cedar id is its `@id`).
pub fn cedar_policy(policy: &PolicyInfo) -> &Policy {
    policy.cedar()
}

/// Whether `uid` is the approval action (`Action::"approve"` in any namespace): the action an
/// approver's eligibility is decided on.
pub fn is_approve(uid: &EntityUid) -> bool {
    crate::lint::is_approve(uid)
}

/// Whether the schema marks `action` `@privilege_expansion`.
pub fn is_expansion(pack: &Pack, action: &EntityUid) -> bool {
    pack.schema().is_some_and(|s| s.is_expansion_uid(action))
}

/// Whether `policy` is an owned exception still in force on `today`: `@expansion_ok` with an
/// `@owner` and a `@review_by` that is not before `today`. Expansion analyses leave these out,
/// as the `ungated-expansion` rule does.
pub fn is_live_exception(policy: &PolicyInfo, today: CalendarDate) -> bool {
    crate::lint::is_owned_exception(policy)
        && policy
            .annotation(crate::AnnotationKey::ReviewBy)
            .and_then(|d| d.parse::<CalendarDate>().ok())
            .is_some_and(|d| d >= today)
}

/// Where `policy`'s head (`permit (...)` or `forbid (...)`) is in its file: where lint
/// findings about a policy point.
pub fn head_location(pack: &Pack, policy: &PolicyInfo) -> Location {
    let text = pack
        .source()
        .policies
        .iter()
        .find(|f| f.name == policy.file())
        .map_or("", |f| f.text.as_str());
    let (offset, len) = policy.span();
    let head = crate::lint::text::PolicyText::new(text, offset, len).head();
    Location {
        origin: Origin::Policy,
        file: policy.file().to_string(),
        span: Span::in_text(text, head.0, head.1),
    }
}

/// The pack as lint analyses it: policies with an invalid `@tier` set aside, and those that
/// fail strict validation kept (lint reports both). For analysers that must say what they can
/// about a pack `Pack::load` refuses; it must never serve real decisions.
pub fn load_lenient(source: crate::PackSource) -> Result<Pack, crate::LoadError> {
    Pack::load_for_analysis(source).map(|(pack, ..)| pack)
}
