//! `--smt` for `lint` and `diff`: exact answers from Cedar's symbolic compiler and cvc5.

use std::time::Duration;

use miette::miette;
use serde::Serialize;
use tollgate_engine::lint::Finding;
use tollgate_engine::{CalendarDate, Pack, PackSource, Tier};
use tollgate_smt::{ActionDiff, Cache, Cvc5, DiffVerdict, Session, exact_lint, merge, weakenings};

use crate::args::SmtArgs;
use crate::io::eprint;

/// A solver session as the flags ask, or an error (exit 2) when no usable cvc5 is found.
pub fn session(args: &SmtArgs) -> miette::Result<Session> {
    let cvc5 = Cvc5::find().map_err(|e| {
        miette!(
            help = "install cvc5 (Debian: `apt-get install cvc5`) or point CVC5 at its executable",
            "--smt needs the cvc5 solver: {e}"
        )
    })?;
    let cache = if args.no_smt_cache {
        None
    } else {
        match Cache::default_dir().map(Cache::at) {
            Some(Ok(cache)) => Some(cache),
            Some(Err(e)) => {
                eprint(&format!("note: --smt runs without its cache: {e}\n"));
                None
            }
            None => None,
        }
    };
    Session::new(cvc5, Duration::from_millis(args.smt_timeout.max(1)), cache)
        .map_err(|e| miette!("{e}"))
}

/// `lint --smt`: the scope findings with `ungated-expansion` and `self-approval` answered
/// exactly. A pack that does not load strictly cannot be compiled; its scope findings stand.
pub fn lint(
    session: &mut Session,
    source: PackSource,
    scope: Vec<Finding>,
    today: CalendarDate,
) -> miette::Result<Vec<Finding>> {
    let pack = match Pack::load(source.clone()) {
        Ok(pack) => pack,
        Err(_) => match tollgate_engine::analysis::load_lenient(source) {
            // A request environment whose policies do not typecheck cannot be compiled and
            // comes out unknown (an error), never proved.
            Ok(pack) => {
                eprint(
                    "warning: --smt: the pack does not load strictly (see its schema and tier findings): exact analysis runs on the policies with a valid tier, and environments it cannot compile are unknown\n",
                );
                pack
            }
            Err(_) => return Ok(scope),
        },
    };
    let exact = exact_lint(session, &pack, today).map_err(|e| miette!("--smt: {e}"))?;
    let stats = session.stats();
    eprint(&format!(
        "exact analysis (cvc5 {}): {} request environments, {} queries ({} from the cache, {} unknown), {} ms in the solver, slowest query {} ms\n",
        session.cvc5().version(),
        exact.results.len(),
        stats.queries,
        stats.cached,
        stats.unknown,
        stats.solver_time.as_millis(),
        stats.slowest.as_millis(),
    ));
    Ok(merge(scope, exact))
}

/// One request environment of `diff --smt`, as reported.
#[derive(Debug, Serialize)]
pub struct EnvReport {
    principal_type: String,
    action: String,
    resource_type: String,
    verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<Tier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<Tier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<Tier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    elapsed_ms: u128,
}

/// What one environment's comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Verdict {
    /// Proved: no request of it gets a lower tier under head.
    NotWeaker,
    /// A request that does, decided by both packs.
    Weaker,
    /// Not established: never taken as "not weaker".
    Unknown,
}

/// `diff --smt`'s whole answer.
#[derive(Debug, Serialize)]
pub struct DiffReport {
    solver: String,
    environments: Vec<EnvReport>,
    summary: DiffSummary,
}

#[derive(Debug, Default, Serialize)]
struct DiffSummary {
    environments: usize,
    not_weaker: usize,
    weaker: usize,
    unknown: usize,
}

/// Compares the packs over every request head's schema allows.
pub fn diff(
    session: &mut Session,
    base: &Pack,
    head: &Pack,
    today: CalendarDate,
) -> miette::Result<DiffReport> {
    let results = weakenings(session, base, head, today).map_err(|e| miette!("--smt: {e}"))?;
    let mut summary = DiffSummary {
        environments: results.len(),
        ..DiffSummary::default()
    };
    let environments = results
        .into_iter()
        .map(|r| {
            let report = env_report(r);
            match report.verdict {
                Verdict::Weaker => summary.weaker += 1,
                Verdict::Unknown => summary.unknown += 1,
                Verdict::NotWeaker => summary.not_weaker += 1,
            }
            report
        })
        .collect();
    Ok(DiffReport {
        solver: format!("cvc5 {}", session.cvc5().version()),
        environments,
        summary,
    })
}

fn env_report(r: ActionDiff) -> EnvReport {
    let mut out = EnvReport {
        principal_type: r.principal_type,
        action: r.action,
        resource_type: r.resource_type,
        verdict: Verdict::NotWeaker,
        level: None,
        base: None,
        head: None,
        counterexample: None,
        reason: None,
        elapsed_ms: r.elapsed.as_millis(),
    };
    match r.verdict {
        DiffVerdict::NotWeaker => {}
        DiffVerdict::Weaker { level, head, base } => {
            out.verdict = Verdict::Weaker;
            out.level = Some(level);
            out.base = Some(base.tier);
            out.head = Some(head.decision.tier);
            out.counterexample = Some(head.counterexample.to_json());
        }
        DiffVerdict::Unknown(why) => {
            out.verdict = Verdict::Unknown;
            out.reason = Some(why);
        }
    }
    out
}

impl DiffReport {
    /// Whether the run fails: something weaker, or something not established.
    pub fn fails(&self) -> bool {
        self.summary.weaker > 0 || self.summary.unknown > 0
    }

    /// The text form: each weaker or unknown environment, then the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for e in &self.environments {
            let which = format!("{} {} {}", e.principal_type, e.action, e.resource_type);
            match e.verdict {
                Verdict::Weaker => {
                    let tier = |t: Option<Tier>| t.map_or_else(String::new, |t| t.to_string());
                    out.push_str(&format!(
                        "WEAKER   {which}: {} -> {}\n  counterexample: {}\n",
                        tier(e.base),
                        tier(e.head),
                        e.counterexample
                            .as_ref()
                            .map_or_else(String::new, ToString::to_string)
                    ));
                }
                Verdict::Unknown => out.push_str(&format!(
                    "UNKNOWN  {which}: {}\n",
                    e.reason.as_deref().unwrap_or_default()
                )),
                Verdict::NotWeaker => {}
            }
        }
        let s = &self.summary;
        out.push_str(&format!(
            "{} request environments ({}): {} not weaker (proved), {} weaker, {} unknown\n",
            s.environments, self.solver, s.not_weaker, s.weaker, s.unknown
        ));
        out
    }
}
