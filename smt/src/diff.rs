//! `tollgate diff --smt`: is the head pack's tier ever lower than the base's, for any request
//! the schema allows? Head is weaker somewhere exactly when, at some level L (auto, single,
//! dual), head read at L allows a request that base read at L does not.

use std::time::{Duration, Instant};

use cedar_policy::{RequestEnv, Schema};
use cedar_policy_symcc::CompiledPolicySet;
use tollgate_engine::analysis::cedar_schema;
use tollgate_engine::{CalendarDate, Decision, Pack, Tier};

use crate::SmtError;
use crate::counterexample::Confirmed;
use crate::never_errors::scan;
use crate::reading::{ActionReach, describe, envs, fingerprint, reading, schema_fingerprint};
use crate::session::{Answer, Query, Session};

/// The levels a reading is taken at: a tier below `deny`.
const LEVELS: [Tier; 3] = [Tier::Auto, Tier::Single, Tier::Dual];

/// The answer for one request environment.
#[derive(Debug, Clone)]
pub enum DiffVerdict {
    /// No request gets a lower tier under head: proved.
    NotWeaker,
    /// A request whose tier head lowers, decided by both packs.
    Weaker {
        /// The level at which head's reading allows what base's does not.
        level: Tier,
        /// The request, with head's decision.
        head: Box<Confirmed>,
        /// Base's decision on it.
        base: Box<Decision>,
    },
    /// Not established: a forbid or gate can error, the solver gave up, or a counterexample
    /// was not confirmed. Never "not weaker".
    Unknown(String),
}

/// One request environment's comparison.
#[derive(Debug, Clone)]
pub struct ActionDiff {
    /// Principal type.
    pub principal_type: String,
    /// Action.
    pub action: String,
    /// Resource type.
    pub resource_type: String,
    /// The answer.
    pub verdict: DiffVerdict,
    /// Wall time.
    pub elapsed: Duration,
}

/// Compares `head` with `base` over every request environment of head's schema (both packs
/// are compiled against it; a base policy that does not fit it makes its actions unknown).
/// Requests are bound to times from the start of `today` on, as in the lint checks.
pub fn weakenings(
    session: &mut Session,
    base: &Pack,
    head: &Pack,
    today: CalendarDate,
) -> Result<Vec<ActionDiff>, SmtError> {
    let schema = cedar_schema(head).ok_or(SmtError::NoSchema)?;
    if cedar_schema(base).is_none() {
        return Err(SmtError::NoSchema);
    }
    let reach = ActionReach::of(schema);
    Ok(envs(schema)
        .into_iter()
        .map(|env| compare(session, (base, head), schema, &reach, &env, today))
        .collect())
}

fn compare(
    session: &mut Session,
    (base, head): (&Pack, &Pack),
    schema: &Schema,
    reach: &ActionReach,
    env: &RequestEnv,
    today: CalendarDate,
) -> ActionDiff {
    let start = Instant::now();
    let (principal_type, action, resource_type) = describe(env);
    let verdict = (|| {
        for (side, pack) in [("base", base), ("head", head)] {
            let errors = scan(session, pack, schema, env, reach);
            if let Some(why) = errors.unknown {
                return DiffVerdict::Unknown(format!("{side}: {why}"));
            }
            if !errors.may_error.is_empty() {
                return DiffVerdict::Unknown(format!(
                    "{side}'s {} can error here: tollgate counts an erroring forbid or gate as matched where Cedar's reading skips it, so no weakening cannot be shown",
                    errors.may_error.join(", ")
                ));
            }
        }
        let schema_text = schema_fingerprint(head);
        let today_text = today.to_string();
        for level in LEVELS {
            let compiled = |pack: &Pack| {
                reading(pack, level, &|_| false, env.action(), today, reach).and_then(|set| {
                    CompiledPolicySet::compile(&set, env, schema)
                        .map(|c| (fingerprint(&set), c))
                        .map_err(|e| format!("symbolic compilation failed: {e}"))
                })
            };
            let ((head_text, head_set), (base_text, base_set)) =
                match (compiled(head), compiled(base)) {
                    (Ok(h), Ok(b)) => (h, b),
                    (Err(e), _) => return DiffVerdict::Unknown(format!("head: {e}")),
                    (_, Err(e)) => return DiffVerdict::Unknown(format!("base: {e}")),
                };
            let level_text = level.to_string();
            let key = session.key([
                "weaker",
                principal_type.as_str(),
                action.as_str(),
                resource_type.as_str(),
                level_text.as_str(),
                today_text.as_str(),
                head_text.as_str(),
                base_text.as_str(),
                schema_text.as_str(),
            ]);
            match session.ask(&key, Query::Implies(&head_set, &base_set)).0 {
                Answer::Holds => {}
                Answer::Unknown(why) => return DiffVerdict::Unknown(why),
                Answer::Fails(counterexample) => {
                    return match (
                        counterexample.decide(head, today),
                        counterexample.decide(base, today),
                    ) {
                        (Ok(h), Ok(b)) if h.tier < b.tier => DiffVerdict::Weaker {
                            level,
                            head: Box::new(Confirmed {
                                counterexample,
                                decision: h,
                            }),
                            base: Box::new(b),
                        },
                        (Ok(h), Ok(b)) => DiffVerdict::Unknown(format!(
                            "the solver's request is not weaker when decided (head `{}`, base `{}`)",
                            h.tier, b.tier
                        )),
                        (Err(e), _) | (_, Err(e)) => DiffVerdict::Unknown(format!(
                            "the solver's request could not be decided: {e}"
                        )),
                    };
                }
            }
        }
        DiffVerdict::NotWeaker
    })();
    ActionDiff {
        principal_type,
        action,
        resource_type,
        verdict,
        elapsed: start.elapsed(),
    }
}
