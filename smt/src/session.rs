//! One solver process, reused across queries, with a per-query time limit and the cache.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet, Env};

use crate::SmtError;
use crate::cache::{Cache, Cached, QueryKey};
use crate::counterexample::Counterexample;
use crate::solver::Cvc5;

/// How long past the solver's own limit we wait before killing it.
const GRACE: Duration = Duration::from_secs(2);

/// A query for the solver.
pub(crate) enum Query<'a> {
    /// Does the set deny every request? (A counterexample is one it allows.)
    AlwaysDenies(&'a CompiledPolicySet),
    /// Does every request the first allows, the second allow too?
    Implies(&'a CompiledPolicySet, &'a CompiledPolicySet),
    /// Can the policy never error? (A counterexample is one where it does.)
    NeverErrors(&'a CompiledPolicy),
}

/// What a query answered.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Holds,
    Fails(Counterexample),
    Unknown(String),
}

/// Counts for a report.
#[derive(Debug, Clone, Default)]
pub struct SessionStats {
    /// Queries asked (including those the cache answered).
    pub queries: usize,
    /// Answered from the cache.
    pub cached: usize,
    /// Answered `unknown` (time limit or failure).
    pub unknown: usize,
    /// Time in the solver, summed.
    pub solver_time: Duration,
    /// The slowest single query.
    pub slowest: Duration,
}

/// Exact analysis state: the solver, its limits, the cache, and answers so far.
pub struct Session {
    cvc5: Cvc5,
    timeout: Duration,
    cache: Option<Cache>,
    runtime: tokio::runtime::Runtime,
    compiler: Option<CedarSymCompiler<LocalSolver>>,
    memo: HashMap<QueryKey, Answer>,
    stats: SessionStats,
}

impl Session {
    /// A session with `cvc5`, giving each query at most `timeout`, caching in `cache`.
    pub fn new(cvc5: Cvc5, timeout: Duration, cache: Option<Cache>) -> Result<Self, SmtError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SmtError::Runtime(e.to_string()))?;
        Ok(Self {
            cvc5,
            timeout,
            cache,
            runtime,
            compiler: None,
            memo: HashMap::new(),
            stats: SessionStats::default(),
        })
    }

    /// The solver.
    pub fn cvc5(&self) -> &Cvc5 {
        &self.cvc5
    }

    /// Counts so far.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// The parts every key starts with: what a cached answer must have been produced by.
    pub(crate) fn key<'a>(&'a self, parts: impl IntoIterator<Item = &'a str>) -> QueryKey {
        QueryKey::new(std::iter::once(self.cvc5.version()).chain(parts))
    }

    /// Asks `query`, known by `key`; the second value says whether the cache answered.
    pub(crate) fn ask(&mut self, key: &QueryKey, query: Query<'_>) -> (Answer, bool) {
        self.stats.queries += 1;
        if let Some(answer) = self.memo.get(key) {
            self.stats.cached += 1;
            return (answer.clone(), true);
        }
        if let Some(cached) = self.cache.as_ref().and_then(|c| c.get(key)) {
            self.stats.cached += 1;
            let answer = match cached {
                Cached::Holds => Answer::Holds,
                Cached::Fails { counterexample } => Answer::Fails(counterexample),
            };
            self.memo.insert(key.clone(), answer.clone());
            return (answer, true);
        }
        let start = Instant::now();
        let answer = self.solve(query);
        let spent = start.elapsed();
        self.stats.solver_time += spent;
        self.stats.slowest = self.stats.slowest.max(spent);
        match &answer {
            Answer::Holds => self.store(key, Cached::Holds),
            Answer::Fails(counterexample) => self.store(
                key,
                Cached::Fails {
                    counterexample: counterexample.clone(),
                },
            ),
            Answer::Unknown(_) => self.stats.unknown += 1,
        }
        self.memo.insert(key.clone(), answer.clone());
        (answer, false)
    }

    fn store(&self, key: &QueryKey, answer: Cached) {
        if let Some(cache) = &self.cache {
            cache.put(key, &answer);
        }
    }

    fn solve(&mut self, query: Query<'_>) -> Answer {
        if self.compiler.is_none() {
            // The solver's pipes register with the runtime's reactor: spawn inside it.
            let _entered = self.runtime.enter();
            match self
                .cvc5
                .spawn(self.timeout)
                .and_then(|s| CedarSymCompiler::new(s).map_err(|e| e.to_string()))
            {
                Ok(c) => self.compiler = Some(c),
                Err(e) => return Answer::Unknown(format!("cannot start cvc5: {e}")),
            }
        }
        let Some(compiler) = self.compiler.as_mut() else {
            return Answer::Unknown("cannot start cvc5".into());
        };
        let limit = self.timeout + GRACE;
        let outcome = self
            .runtime
            .block_on(async { tokio::time::timeout(limit, run(compiler, query)).await });
        match outcome {
            Ok(Ok(None)) => Answer::Holds,
            Ok(Ok(Some(env))) => match Counterexample::from_env(&env) {
                Ok(c) => Answer::Fails(c),
                Err(e) => {
                    Answer::Unknown(format!("the solver's counterexample cannot be read: {e}"))
                }
            },
            Ok(Err(cedar_policy_symcc::err::Error::SolverUnknown)) => Answer::Unknown(format!(
                "cvc5 {} gave no answer within {} ms",
                self.cvc5.version(),
                self.timeout.as_millis()
            )),
            Ok(Err(e)) => {
                // The solver process may be in any state: start a fresh one next time.
                self.compiler = None;
                Answer::Unknown(format!("the solver failed: {e}"))
            }
            Err(_) => {
                self.compiler = None;
                Answer::Unknown(format!(
                    "cvc5 {} did not answer within {} ms and was stopped",
                    self.cvc5.version(),
                    limit.as_millis()
                ))
            }
        }
    }
}

async fn run(
    compiler: &mut CedarSymCompiler<LocalSolver>,
    query: Query<'_>,
) -> Result<Option<Env>, cedar_policy_symcc::err::Error> {
    match query {
        Query::AlwaysDenies(set) => {
            compiler
                .check_always_denies_with_counterexample_opt(set)
                .await
        }
        Query::Implies(a, b) => compiler.check_implies_with_counterexample_opt(a, b).await,
        Query::NeverErrors(p) => compiler.check_never_errors_with_counterexample_opt(p).await,
    }
}
