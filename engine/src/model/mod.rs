//! What the engine reasons about, free of how it is computed: tiers, policies, requests and
//! decisions.

pub(crate) mod call;
pub(crate) mod decision;
pub(crate) mod policy;
pub(crate) mod request;
pub(crate) mod tier;
