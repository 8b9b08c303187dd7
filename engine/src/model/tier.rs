//! The four approval tiers and how a policy's effect and `@tier` annotation map onto them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How much human control an action needs. Ordered from least to most restrictive, so `max`
/// is "the stricter of" and `min` is "the more permissive of".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Allowed with no human.
    Auto,
    /// Allowed once one human approves.
    Single,
    /// Allowed once two distinct humans approve (dual control).
    Dual,
    /// Never allowed.
    Deny,
}

impl Tier {
    /// All tiers, least restrictive first.
    pub const ALL: [Tier; 4] = [Tier::Auto, Tier::Single, Tier::Dual, Tier::Deny];

    /// Number of distinct human approvals the tier needs; `None` for `deny`, which no number of
    /// approvals can lift.
    pub fn approvals_required(self) -> Option<u8> {
        match self {
            Tier::Auto => Some(0),
            Tier::Single => Some(1),
            Tier::Dual => Some(2),
            Tier::Deny => None,
        }
    }

    /// The tier's name as written in `@tier("...")` and in decision JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Auto => "auto",
            Tier::Single => "single",
            Tier::Dual => "dual",
            Tier::Deny => "deny",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a string that names no tier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a tier (expected auto, single, dual or deny)")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Tier::Auto),
            "single" => Ok(Tier::Single),
            "dual" => Ok(Tier::Dual),
            "deny" => Ok(Tier::Deny),
            other => Err(UnknownTier(other.to_string())),
        }
    }
}

/// Whether a Cedar policy grants or restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// A Cedar `permit`.
    Permit,
    /// A Cedar `forbid`.
    Forbid,
}

impl Effect {
    /// `permit` or `forbid`, as written in Cedar.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role a policy plays in the decision, derived from its effect and `@tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyRole {
    /// A permit: grants the action at this tier (`auto`, `single` or `dual`).
    Permit(Tier),
    /// A forbid with `@tier("single"|"dual")`: where it matches, at least this tier is needed.
    Gate(Tier),
    /// A forbid without `@tier`: denies whatever else matches.
    Forbid,
}

impl PolicyRole {
    /// The tier this policy contributes: its grant level, its gate level, or `deny`.
    pub fn tier(self) -> Tier {
        match self {
            PolicyRole::Permit(t) | PolicyRole::Gate(t) => t,
            PolicyRole::Forbid => Tier::Deny,
        }
    }

    /// The Cedar effect the policy was written with.
    pub fn effect(self) -> Effect {
        match self {
            PolicyRole::Permit(_) => Effect::Permit,
            PolicyRole::Gate(_) | PolicyRole::Forbid => Effect::Forbid,
        }
    }

    /// Classifies a policy by its effect and raw `@tier` value (`None` when absent), following
    /// the annotation table of docs/design.md. Anything outside the table is rejected rather than guessed,
    /// because a mistyped tier that silently became `auto` would remove a human from the loop.
    pub fn classify(effect: Effect, tier_annotation: Option<&str>) -> Result<Self, InvalidTier> {
        let Some(raw) = tier_annotation else {
            return Ok(match effect {
                // A permit with no tier still needs a human: the safe default (lint warns).
                Effect::Permit => PolicyRole::Permit(Tier::Single),
                Effect::Forbid => PolicyRole::Forbid,
            });
        };
        let tier = Tier::from_str(raw).map_err(|_| InvalidTier::Unknown(raw.to_string()))?;
        match (effect, tier) {
            (Effect::Permit, Tier::Auto | Tier::Single | Tier::Dual) => {
                Ok(PolicyRole::Permit(tier))
            }
            (Effect::Forbid, Tier::Single | Tier::Dual) => Ok(PolicyRole::Gate(tier)),
            (Effect::Permit, Tier::Deny) => Err(InvalidTier::PermitDeny),
            (Effect::Forbid, Tier::Auto) => Err(InvalidTier::ForbidAuto),
            (Effect::Forbid, Tier::Deny) => Err(InvalidTier::ForbidDeny),
        }
    }
}

/// A `@tier` annotation outside the table of docs/design.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTier {
    /// The value is not a tier name.
    #[error("`@tier(\"{0}\")` is not a tier: use auto, single or dual")]
    Unknown(String),
    /// `@tier("deny") permit`: a permit cannot deny.
    #[error(
        "`@tier(\"deny\")` on a permit: a permit grants; write a `forbid` without `@tier` to deny"
    )]
    PermitDeny,
    /// `@tier("auto") forbid`: a gate that requires nothing.
    #[error("`@tier(\"auto\")` on a forbid: a gate must require `single` or `dual`")]
    ForbidAuto,
    /// `@tier("deny") forbid`: redundant and ambiguous, so rejected.
    #[error("`@tier(\"deny\")` on a forbid: a plain `forbid` without `@tier` already denies")]
    ForbidDeny,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_least_to_most_restrictive() {
        assert!(Tier::Auto < Tier::Single);
        assert!(Tier::Single < Tier::Dual);
        assert!(Tier::Dual < Tier::Deny);
    }

    #[test]
    fn approvals_required_per_tier() {
        assert_eq!(Tier::Auto.approvals_required(), Some(0));
        assert_eq!(Tier::Single.approvals_required(), Some(1));
        assert_eq!(Tier::Dual.approvals_required(), Some(2));
        assert_eq!(Tier::Deny.approvals_required(), None);
    }

    #[test]
    fn round_trips_names() {
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>(), Ok(t));
            assert_eq!(serde_json::to_string(&t).ok(), Some(format!("\"{t}\"")));
        }
        assert!("Auto".parse::<Tier>().is_err());
        assert!("".parse::<Tier>().is_err());
    }

    // One test per row of the annotation table of docs/design.md.
    #[test]
    fn annotation_table_rows() {
        use PolicyRole as R;
        assert_eq!(
            R::classify(Effect::Permit, Some("auto")),
            Ok(R::Permit(Tier::Auto))
        );
        assert_eq!(
            R::classify(Effect::Permit, Some("single")),
            Ok(R::Permit(Tier::Single))
        );
        assert_eq!(
            R::classify(Effect::Permit, None),
            Ok(R::Permit(Tier::Single))
        );
        assert_eq!(
            R::classify(Effect::Permit, Some("dual")),
            Ok(R::Permit(Tier::Dual))
        );
        assert_eq!(R::classify(Effect::Forbid, None), Ok(R::Forbid));
        assert_eq!(
            R::classify(Effect::Forbid, Some("single")),
            Ok(R::Gate(Tier::Single))
        );
        assert_eq!(
            R::classify(Effect::Forbid, Some("dual")),
            Ok(R::Gate(Tier::Dual))
        );
    }

    #[test]
    fn invalid_combinations_are_rejected() {
        use PolicyRole as R;
        assert_eq!(
            R::classify(Effect::Permit, Some("deny")),
            Err(InvalidTier::PermitDeny)
        );
        assert_eq!(
            R::classify(Effect::Forbid, Some("auto")),
            Err(InvalidTier::ForbidAuto)
        );
        assert_eq!(
            R::classify(Effect::Forbid, Some("deny")),
            Err(InvalidTier::ForbidDeny)
        );
        for bad in ["", "AUTO", "none", "triple", " single"] {
            assert_eq!(
                R::classify(Effect::Permit, Some(bad)),
                Err(InvalidTier::Unknown(bad.into()))
            );
            assert_eq!(
                R::classify(Effect::Forbid, Some(bad)),
                Err(InvalidTier::Unknown(bad.into()))
            );
        }
    }

    #[test]
    fn role_tier_and_effect() {
        assert_eq!(PolicyRole::Forbid.tier(), Tier::Deny);
        assert_eq!(PolicyRole::Gate(Tier::Dual).effect(), Effect::Forbid);
        assert_eq!(PolicyRole::Permit(Tier::Auto).effect(), Effect::Permit);
    }
}
