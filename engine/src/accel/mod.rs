//! Speed-ups, behind one seam. Each makes something the plain algorithm does faster and
//! none decides anything differently: every file names its reference path (what the engine
//! does without it) and the differential test that holds the two equal. The plain algorithm
//! in `pack/` reads straight through, calling in here where a speed-up applies.
//!
//! - `index`: per action, only the policies whose scope can match it, forbids as forbids (vs.
//!   every policy as a permit in one evaluation).
//! - `validation`: strict validation scoped to the actions each policy reaches (vs. validating
//!   every policy against the whole schema).
//! - `context`: a request's context built without Cedar's JSON parser (vs. the parser).
//! - `request_check`: a request checked against the schema from its JSON (vs. Cedar's request
//!   validation, which clones the context to type-check it).
//! - `uid`: `Type::"id"` read without Cedar's parser (vs. the parser).
//! - `parse`: large files parsed in halves (vs. the whole file).
//! - `parallel`: two threads where there are two cores (vs. one after the other).
//! - `memo`: per-thread memos of values Cedar is slow to build (vs. building them each time).

pub(crate) mod context;
pub(crate) mod index;
pub(crate) mod memo;
pub(crate) mod parallel;
pub(crate) mod parse;
pub(crate) mod request_check;
pub(crate) mod uid;
pub(crate) mod validation;
