//! The exact `ungated-expansion` and `self-approval` checks: can the level-0 reading (what
//! decides `auto`) allow any request of the environments in question?

use std::time::Instant;

use cedar_policy::{RequestEnv, Schema};
use cedar_policy_symcc::CompiledPolicySet;
use tollgate_engine::analysis::{cedar_schema, is_approve, is_expansion, is_live_exception};
use tollgate_engine::{CalendarDate, Pack, PolicyInfo, Tier};

use crate::SmtError;
use crate::check::{Check, ExactResult, Semantics, Verdict};
use crate::counterexample::Confirmed;
use crate::never_errors::scan;
use crate::reading::{ActionReach, describe, envs, fingerprint, reading, schema_fingerprint};
use crate::session::{Answer, Query, Session};

/// For each request environment of a `@privilege_expansion` action: is there a request the
/// engine decides `auto`? Owned exceptions still in force on `today` (`@expansion_ok` with
/// `@owner` and a `@review_by` not before it) are left out, as the scope rule leaves them out.
pub fn ungated_expansion(
    session: &mut Session,
    pack: &Pack,
    today: CalendarDate,
) -> Result<Vec<ExactResult>, SmtError> {
    each_env(
        session,
        pack,
        today,
        Check::UngatedExpansion,
        &|env| is_expansion(pack, env.action()),
        &|p| is_live_exception(p, today),
    )
}

/// For each request environment of `approve` whose principal type is not `@human`: is there a
/// request the engine decides `auto`, which would make that principal an eligible approver?
pub fn self_approval(
    session: &mut Session,
    pack: &Pack,
    today: CalendarDate,
) -> Result<Vec<ExactResult>, SmtError> {
    let human = |ty: &str| pack.schema().is_some_and(|s| s.is_human_type(ty));
    each_env(
        session,
        pack,
        today,
        Check::SelfApproval,
        &|env| is_approve(env.action()) && !human(&env.principal().to_string()),
        &|_| false,
    )
}

/// `check` on each request environment `wanted` picks, with the policies `skip` names left
/// out of the reading.
fn each_env(
    session: &mut Session,
    pack: &Pack,
    today: CalendarDate,
    check: Check,
    wanted: &dyn Fn(&RequestEnv) -> bool,
    skip: &dyn Fn(&PolicyInfo) -> bool,
) -> Result<Vec<ExactResult>, SmtError> {
    let schema = cedar_schema(pack).ok_or(SmtError::NoSchema)?;
    let reach = ActionReach::of(schema);
    let target = Target {
        pack,
        schema,
        reach: &reach,
        today,
    };
    Ok(envs(schema)
        .into_iter()
        .filter(|env| wanted(env))
        .map(|env| auto_reachable(session, &target, &env, check, skip))
        .collect())
}

/// The pack under analysis, its Cedar schema and action groups, and the day.
#[derive(Clone, Copy)]
struct Target<'a> {
    pack: &'a Pack,
    schema: &'a Schema,
    reach: &'a ActionReach,
    today: CalendarDate,
}

/// Whether some request of `env` is decided `auto`: an always-denies query on the level-0
/// reading, its counterexample confirmed by the engine.
fn auto_reachable(
    session: &mut Session,
    target: &Target<'_>,
    env: &RequestEnv,
    check: Check,
    skip: &dyn Fn(&PolicyInfo) -> bool,
) -> ExactResult {
    let Target {
        pack,
        schema,
        reach,
        today,
    } = *target;
    let start = Instant::now();
    let (principal_type, action, resource_type) = describe(env);
    let errors = scan(session, pack, schema, env, reach);
    let semantics = match (&errors.unknown, errors.may_error.is_empty()) {
        (Some(_), _) => Semantics::Unchecked,
        (None, true) => Semantics::Exact,
        (None, false) => Semantics::FailClosed {
            may_error: errors.may_error.clone(),
        },
    };
    let mut queries = errors.queries;
    let mut cached = errors.cached;
    let verdict = match reading(pack, Tier::Auto, skip, env.action(), today, reach).and_then(
        |set| {
            CompiledPolicySet::compile(&set, env, schema)
                .map(|c| (set, c))
                .map_err(|e| format!("symbolic compilation failed: {e}"))
        },
    ) {
        Err(e) => Verdict::Unknown(e),
        Ok((set, compiled)) => {
            let set_text = fingerprint(&set);
            let schema_text = schema_fingerprint(pack);
            let today_text = today.to_string();
            let key = session.key([
                check.rule().as_str(),
                "always-denies",
                principal_type.as_str(),
                action.as_str(),
                resource_type.as_str(),
                today_text.as_str(),
                set_text.as_str(),
                schema_text.as_str(),
            ]);
            let (answer, from_cache) = session.ask(&key, Query::AlwaysDenies(&compiled));
            queries += 1;
            cached += usize::from(from_cache);
            match answer {
                Answer::Holds => Verdict::Proved,
                Answer::Unknown(why) => Verdict::Unknown(why),
                Answer::Fails(counterexample) => match counterexample.decide(pack, today) {
                    Ok(decision) if decision.tier == Tier::Auto => {
                        Verdict::Found(Box::new(Confirmed {
                            counterexample,
                            decision,
                        }))
                    }
                    Ok(decision) => Verdict::Unknown(format!(
                        "the solver's request reaches `auto` in Cedar's reading but the engine decides it `{}`{}: other requests may still reach `auto`",
                        decision.tier,
                        if errors.may_error.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (it counts erroring {} as matched)",
                                errors.may_error.join(", ")
                            )
                        }
                    )),
                    Err(e) => Verdict::Unknown(format!(
                        "the solver's request could not be decided by the engine: {e}"
                    )),
                },
            }
        }
    };
    ExactResult {
        check,
        principal_type,
        action,
        resource_type,
        verdict,
        semantics,
        elapsed: start.elapsed(),
        queries,
        cached,
    }
}
