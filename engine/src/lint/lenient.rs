//! The pack lint analyses: loaded without refusing what lint reports (invalid tiers, strict
//! validation errors), so that every problem is reported at once.

use crate::model::policy::RejectedPolicy;
use crate::pack::{LoadError, Pack, ValidationIssue};
use crate::source::PackSource;

/// A pack loaded for analysis, with what `Pack::load` would have refused it for. Its pack
/// must never serve real decisions: lint only decides workflow steps with it.
#[derive(Debug, Clone)]
pub(crate) struct LenientPack {
    /// The policies with a valid tier.
    pub(crate) pack: Pack,
    /// Policies set aside because of their `@tier`.
    pub(crate) rejected: Vec<RejectedPolicy>,
    /// Strict validation errors, over every policy (set-aside ones included).
    pub(crate) validation_errors: Vec<ValidationIssue>,
    /// Strict validation warnings, likewise.
    pub(crate) validation_warnings: Vec<ValidationIssue>,
}

impl LenientPack {
    /// Loads `source` for analysis. Problems that leave nothing to analyse (a file that does
    /// not parse, a template, an empty or duplicate id, a broken schema) still fail.
    pub(crate) fn load(source: PackSource) -> Result<Self, LoadError> {
        let (pack, rejected, validation_errors, validation_warnings) =
            Pack::load_for_analysis(source)?;
        Ok(Self {
            pack,
            rejected,
            validation_errors,
            validation_warnings,
        })
    }
}
