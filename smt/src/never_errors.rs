//! Which forbids and gates can error in a request environment: where Cedar's reading (which
//! skips an erroring policy) and tollgate's decision (which counts it as matched) can differ.

use cedar_policy::{RequestEnv, Schema};
use cedar_policy_symcc::CompiledPolicy;
use tollgate_engine::Pack;
use tollgate_engine::analysis::cedar_policy;

use crate::reading::{ActionReach, describe, restricting, schema_fingerprint};
use crate::session::{Answer, Query, Session};

/// What the never-errors queries for one environment found.
pub(crate) struct ErrorScan {
    /// Forbids and gates that can error here.
    pub(crate) may_error: Vec<String>,
    /// Why some could not be decided, if any could not.
    pub(crate) unknown: Option<String>,
    /// Queries asked, and how many the cache answered.
    pub(crate) queries: usize,
    pub(crate) cached: usize,
}

/// Runs `check_never_errors` on every forbid and gate of `pack` that can match `env`'s action (compiled against
/// `schema`, which may be another pack's for a diff).
pub(crate) fn scan(
    session: &mut Session,
    pack: &Pack,
    schema: &Schema,
    env: &RequestEnv,
    reach: &ActionReach,
) -> ErrorScan {
    let (p, a, r) = describe(env);
    let schema_text = schema_fingerprint(pack);
    let mut out = ErrorScan {
        may_error: Vec::new(),
        unknown: None,
        queries: 0,
        cached: 0,
    };
    for policy in restricting(pack, env.action(), reach) {
        let cedar = cedar_policy(policy);
        let compiled = match CompiledPolicy::compile(cedar, env, schema) {
            Ok(c) => c,
            Err(e) => {
                out.unknown.get_or_insert(format!(
                    "`{}` does not compile for {p}, {a}, {r}: {e}",
                    policy.id()
                ));
                continue;
            }
        };
        let text = cedar.to_string();
        let key = session.key([
            "never-errors",
            p.as_str(),
            a.as_str(),
            r.as_str(),
            policy.id().as_str(),
            text.as_str(),
            schema_text.as_str(),
        ]);
        let (answer, cached) = session.ask(&key, Query::NeverErrors(&compiled));
        out.queries += 1;
        out.cached += usize::from(cached);
        match answer {
            Answer::Holds => {}
            Answer::Fails(_) => out.may_error.push(policy.id().to_string()),
            Answer::Unknown(why) => {
                out.unknown
                    .get_or_insert(format!("never-errors on `{}`: {why}", policy.id()));
            }
        }
    }
    out
}
