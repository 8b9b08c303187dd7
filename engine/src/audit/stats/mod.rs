//! Approval-fatigue numbers from an audit log: is the human gate still protecting anything?
//!
//! Approval controls erode where volume is high: people approve mechanically, and the gate
//! costs latency and attention without stopping anything. These statistics show a policy owner
//! who approves what, how fast, how often anyone says no, and which gates cause the load.
//!
//! Definitions (also in `docs/approvals.md`, "Approval fatigue"):
//! - An *approval request* is serve's approval id, or (CLI log) a request hash that needed
//!   approval. It is created at the first decision that needed it.
//! - An *approval record* counts once (keyed by its signature), whether or not it counted
//!   towards the request; time to approve runs from the request's creation to when the record
//!   was given (serve: received).
//! - Percentiles are nearest-rank: the p-th of n sorted values is the ⌈p·n/100⌉-th.
//! - A window (`since` ≤ t < `until`) filters decisions (a request counts where it was first
//!   decided) and records by their own time; days are the UTC calendar days from the window's
//!   first to its last day.

mod events;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::Duration;

pub use self::events::StatsInputError;
use self::events::{ApprovalEvent, DecisionEvent, Events, Verdict};
use crate::model::tier::Tier;
use crate::timestamp::{CalendarDate, Timestamp};

/// Thresholds of the flags, each with the default the CLI uses.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsOptions {
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
    /// Rubber stamp: a median time to approve under this many seconds (30)…
    pub rubber_stamp_seconds: u64,
    /// …over at least this many timed approvals (5), or
    pub rubber_stamp_min_timed: usize,
    /// every one of at least this many records an approval (20).
    pub rubber_stamp_min_records: usize,
    /// Burst: this many approvals (5) by one approver within one minute.
    pub burst: usize,
    /// Dual collapse: the second approval of a dual request within this many seconds (60) of
    /// the first…
    pub dual_collapse_seconds: u64,
    /// …for at least this many requests (3), and at least half of the pair's dual requests.
    pub dual_collapse_min: usize,
    /// A gate never rejected over at least this many approval requests (20) is a candidate to
    /// re-scope or automate.
    pub candidate_min_requests: usize,
    /// A gate rejected at least this share of the time (0.10) is doing its job.
    pub doing_its_job_rate: f64,
}

impl Default for StatsOptions {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            rubber_stamp_seconds: 30,
            rubber_stamp_min_timed: 5,
            rubber_stamp_min_records: 20,
            burst: 5,
            dual_collapse_seconds: 60,
            dual_collapse_min: 3,
            candidate_min_requests: 20,
            doing_its_job_rate: 0.10,
        }
    }
}

/// The statistics of one log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditStats {
    /// What was read and the window.
    pub window: Window,
    /// Per tier: decisions and the human workload.
    pub tiers: Vec<TierStats>,
    /// Per approver, by name.
    pub approvers: Vec<ApproverStats>,
    /// Per policy that required approval, most requests first.
    pub policies: Vec<PolicyStats>,
    /// Pairs of approvers on dual requests, with collapse counts.
    pub dual_pairs: Vec<PairStats>,
    /// Approval records per UTC day and approver (for charts).
    pub per_day: Vec<DayStats>,
    /// Every time to approve, in seconds, sorted (for the distribution).
    pub times_to_approve: Vec<f64>,
}

/// The window and what was read.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// First UTC day counted (`YYYY-MM-DD`), if any event fell in the window.
    pub first_day: Option<String>,
    /// Last UTC day counted.
    pub last_day: Option<String>,
    /// Days from the first to the last, both included (at least 1).
    pub days: u32,
    /// Records in the log.
    pub records: usize,
    /// Distinct requests decided in the window.
    pub decisions: usize,
    /// Distinct approval records in the window.
    pub approval_records: usize,
    /// Approval records the log repeated (a verification lists earlier ones again): counted once.
    pub repeated_approval_records: usize,
}

/// One tier.
#[derive(Debug, Clone, Serialize)]
pub struct TierStats {
    /// The tier.
    pub tier: Tier,
    /// Distinct requests decided at this tier.
    pub decisions: usize,
    /// Their share of all decisions (0 to 1).
    pub share: f64,
    /// Approval requests opened at this tier.
    pub approval_requests: usize,
    /// Human approvals they ask for (1 per single, 2 per dual).
    pub approvals_requested: usize,
    /// `approvals_requested` per day: the reviewer workload.
    pub approvals_requested_per_day: f64,
}

/// One approver.
#[derive(Debug, Clone, Serialize)]
pub struct ApproverStats {
    /// The approver's entity uid.
    pub approver: String,
    /// Approve records.
    pub approvals: usize,
    /// Reject records.
    pub rejections: usize,
    /// approvals / (approvals + rejections).
    pub approve_rate: f64,
    /// Median seconds from an approval request's creation to this approver's approval.
    pub median_seconds_to_approve: Option<f64>,
    /// 90th percentile of the same.
    pub p90_seconds_to_approve: Option<f64>,
    /// Approvals timed (the creation and the approval are both in the log).
    pub timed_approvals: usize,
    /// Approvals per day of the window.
    pub approvals_per_day: f64,
    /// Most approvals within any one minute.
    pub most_in_a_minute: usize,
    /// Why this approver's approvals look mechanical; empty when they do not.
    pub flags: Vec<Flag>,
}

/// A flag on an approver, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum Flag {
    /// Approves everything, or approves faster than anyone can read.
    RubberStamp {
        /// Why, in words.
        why: String,
    },
    /// Many approvals within one minute.
    Burst {
        /// Approvals within the busiest minute.
        approvals: usize,
    },
}

/// One policy that set a single or dual tier.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyStats {
    /// The policy's id.
    pub policy: String,
    /// Approval requests it determined.
    pub approval_requests: usize,
    /// Human approvals those requests asked for.
    pub approvals_requested: usize,
    /// Requests with at least one reject record.
    pub rejected: usize,
    /// rejected / approval_requests.
    pub rejection_rate: f64,
    /// Median seconds from creation to the approval that completed the request.
    pub median_wait_seconds: Option<f64>,
    /// What the numbers suggest.
    pub verdict: PolicyVerdict,
}

/// What a gate's numbers suggest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyVerdict {
    /// Never rejected over many requests: re-scope it or automate what it always allows.
    Candidate,
    /// Often rejected: it stops things.
    DoingItsJob,
    /// Too few requests, or in between.
    Undecided,
}

/// Two approvers who approved the same dual requests.
#[derive(Debug, Clone, Serialize)]
pub struct PairStats {
    /// The two approvers, in name order.
    pub approvers: [String; 2],
    /// Dual requests both approved.
    pub dual_requests: usize,
    /// Those whose second approval came within the collapse time of the first.
    pub collapsed: usize,
    /// Whether the pair acts as one: collapsed often enough.
    pub flagged: bool,
}

/// Approval records of one day.
#[derive(Debug, Clone, Serialize)]
pub struct DayStats {
    /// The UTC day.
    pub day: String,
    /// Approve records per approver.
    pub approvals: BTreeMap<String, usize>,
    /// Approval requests opened that day.
    pub approval_requests: usize,
}

/// Reads `log` and computes its statistics under `options`.
pub fn audit_stats(log: &str, options: &StatsOptions) -> Result<AuditStats, StatsInputError> {
    let events = Events::read(log)?;
    Ok(compute(&events, options))
}

fn in_window(t: Timestamp, o: &StatsOptions) -> bool {
    o.since.is_none_or(|s| t >= s) && o.until.is_none_or(|u| t < u)
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    let d: Duration = to.as_offset_date_time() - from.as_offset_date_time();
    d.as_seconds_f64().max(0.0)
}

/// Nearest-rank percentile of sorted `values`.
fn percentile(values: &[f64], p: u32) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let rank = (u64::from(p) * n as u64).div_ceil(100).max(1);
    values
        .get(usize::try_from(rank).ok()?.saturating_sub(1))
        .copied()
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// An approval request: created at its first decision.
struct Unit<'a> {
    created: Timestamp,
    first: &'a DecisionEvent,
}

fn compute(events: &Events, o: &StatsOptions) -> AuditStats {
    // Approval requests, from every decision (creation may precede the window).
    let mut units: BTreeMap<&str, Unit<'_>> = BTreeMap::new();
    for d in &events.decisions {
        if d.approvals_required == 0 {
            continue;
        }
        let unit = units.entry(&d.unit).or_insert(Unit {
            created: d.time,
            first: d,
        });
        if d.time < unit.created {
            unit.created = d.time;
            unit.first = d;
        }
    }

    // Requests, each counted where it was first decided (a later verification of it is not a
    // new decision), if that is in the window.
    let mut first_decided: BTreeMap<&str, &DecisionEvent> = BTreeMap::new();
    for d in &events.decisions {
        let entry = first_decided.entry(&d.request_hash).or_insert(d);
        if d.time < entry.time {
            *entry = d;
        }
    }
    let decided: BTreeMap<&str, &DecisionEvent> = first_decided
        .into_iter()
        .filter(|(_, d)| in_window(d.time, o))
        .collect();
    let approvals: Vec<&ApprovalEvent> = events
        .approvals
        .iter()
        .filter(|a| a.time.is_none_or(|t| in_window(t, o)))
        .collect();
    let opened: Vec<(&str, &Unit<'_>)> = units
        .iter()
        .filter(|(_, u)| in_window(u.created, o))
        .map(|(k, u)| (*k, u))
        .collect();

    // Days: from the window's first event (or `since`) to its last (or `until`).
    let mut times: Vec<Timestamp> = decided.values().map(|d| d.time).collect();
    times.extend(approvals.iter().filter_map(|a| a.time));
    let first = o.since.or_else(|| times.iter().min().copied());
    let last = o
        .until
        .map(|u| {
            Timestamp::from_offset_date_time(u.as_offset_date_time() - Duration::nanoseconds(1))
                .unwrap_or(u)
        })
        .or_else(|| times.iter().max().copied());
    let days = match (first, last) {
        (Some(f), Some(l)) if l >= f => {
            let span = CalendarDate::of(l).start_of_day().as_offset_date_time()
                - CalendarDate::of(f).start_of_day().as_offset_date_time();
            u32::try_from(span.whole_days())
                .unwrap_or(u32::MAX)
                .saturating_add(1)
        }
        _ => 1,
    };
    let per_day_rate = |n: usize| n as f64 / f64::from(days);

    // Tiers.
    let total = decided.len();
    let tiers = Tier::ALL
        .iter()
        .map(|&tier| {
            let decisions = decided.values().filter(|d| d.tier == tier).count();
            let requests: Vec<_> = opened
                .iter()
                .filter(|(_, u)| u.first.tier == tier)
                .collect();
            let requested = requests
                .iter()
                .map(|(_, u)| usize::from(u.first.approvals_required))
                .sum();
            TierStats {
                tier,
                decisions,
                share: ratio(decisions, total),
                approval_requests: requests.len(),
                approvals_requested: requested,
                approvals_requested_per_day: per_day_rate(requested),
            }
        })
        .collect();

    // Approvers.
    let mut by_approver: BTreeMap<&str, Vec<&ApprovalEvent>> = BTreeMap::new();
    for a in &approvals {
        by_approver.entry(&a.approver).or_default().push(a);
    }
    let mut times_to_approve = Vec::new();
    let approvers = by_approver
        .iter()
        .map(|(name, records)| {
            let approves: Vec<_> = records
                .iter()
                .filter(|a| a.verdict == Verdict::Approve)
                .collect();
            let rejections = records.len() - approves.len();
            let mut timed: Vec<f64> = approves
                .iter()
                .filter_map(|a| Some(seconds(units.get(a.unit.as_str())?.created, a.time?)))
                .collect();
            timed.sort_by(f64::total_cmp);
            times_to_approve.extend(timed.iter().copied());
            let median = percentile(&timed, 50);
            let mut at: Vec<Timestamp> = approves.iter().filter_map(|a| a.time).collect();
            at.sort();
            let most_in_a_minute = most_within(&at, Duration::minutes(1));
            let mut flags = Vec::new();
            let mut why = Vec::new();
            if records.len() >= o.rubber_stamp_min_records && rejections == 0 {
                why.push(format!(
                    "approved all {} requests they decided",
                    records.len()
                ));
            }
            if let Some(m) = median.filter(|m| {
                timed.len() >= o.rubber_stamp_min_timed && *m < o.rubber_stamp_seconds as f64
            }) {
                why.push(format!(
                    "median time to approve {m:.0} s over {} approvals (under {} s)",
                    timed.len(),
                    o.rubber_stamp_seconds
                ));
            }
            if !why.is_empty() {
                flags.push(Flag::RubberStamp {
                    why: why.join("; "),
                });
            }
            if most_in_a_minute >= o.burst {
                flags.push(Flag::Burst {
                    approvals: most_in_a_minute,
                });
            }
            ApproverStats {
                approver: (*name).to_string(),
                approvals: approves.len(),
                rejections,
                approve_rate: ratio(approves.len(), records.len()),
                median_seconds_to_approve: median,
                p90_seconds_to_approve: percentile(&timed, 90),
                timed_approvals: timed.len(),
                approvals_per_day: per_day_rate(approves.len()),
                most_in_a_minute,
                flags,
            }
        })
        .collect();
    times_to_approve.sort_by(f64::total_cmp);

    // Per approval request: its records in time order.
    let mut records_of: BTreeMap<&str, Vec<&ApprovalEvent>> = BTreeMap::new();
    for a in &events.approvals {
        records_of.entry(&a.unit).or_default().push(a);
    }
    for list in records_of.values_mut() {
        list.sort_by_key(|a| a.time);
    }
    // When the request got the approvals it needed (the k-th distinct approver), and from whom.
    let completion = |unit: &str, needed: u8| -> Option<(Timestamp, Vec<&str>)> {
        let mut who: Vec<&str> = Vec::new();
        for a in records_of.get(unit)? {
            if a.verdict == Verdict::Approve && !who.contains(&a.approver.as_str()) {
                who.push(&a.approver);
                if who.len() == usize::from(needed) {
                    return Some((a.time?, who));
                }
            }
        }
        None
    };
    let rejected = |unit: &str| {
        records_of
            .get(unit)
            .is_some_and(|l| l.iter().any(|a| a.verdict == Verdict::Reject))
    };

    // Policies.
    let mut by_policy: BTreeMap<&str, Vec<(&str, &Unit<'_>)>> = BTreeMap::new();
    for (key, unit) in &opened {
        let mut seen = BTreeSet::new();
        for (id, tier) in &unit.first.determining {
            if matches!(tier, Tier::Single | Tier::Dual) && seen.insert(id.as_str()) {
                by_policy.entry(id).or_default().push((key, unit));
            }
        }
    }
    let mut policies: Vec<PolicyStats> = by_policy
        .iter()
        .map(|(id, list)| {
            let rejected_n = list.iter().filter(|(k, _)| rejected(k)).count();
            let mut waits: Vec<f64> = list
                .iter()
                .filter_map(|(k, u)| {
                    let (done, _) = completion(k, u.first.approvals_required)?;
                    Some(seconds(u.created, done))
                })
                .collect();
            waits.sort_by(f64::total_cmp);
            let rate = ratio(rejected_n, list.len());
            let verdict = if list.len() >= o.candidate_min_requests && rejected_n == 0 {
                PolicyVerdict::Candidate
            } else if rejected_n > 0 && rate >= o.doing_its_job_rate {
                PolicyVerdict::DoingItsJob
            } else {
                PolicyVerdict::Undecided
            };
            PolicyStats {
                policy: (*id).to_string(),
                approval_requests: list.len(),
                approvals_requested: list
                    .iter()
                    .map(|(_, u)| usize::from(u.first.approvals_required))
                    .sum(),
                rejected: rejected_n,
                rejection_rate: rate,
                median_wait_seconds: percentile(&waits, 50),
                verdict,
            }
        })
        .collect();
    policies.sort_by(|a, b| {
        b.approval_requests
            .cmp(&a.approval_requests)
            .then_with(|| a.policy.cmp(&b.policy))
    });

    // Dual collapse.
    let mut pairs: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for (key, unit) in &opened {
        if unit.first.tier != Tier::Dual {
            continue;
        }
        let Some(list) = records_of.get(key) else {
            continue;
        };
        let mut firsts: Vec<&ApprovalEvent> = Vec::new();
        for a in list {
            if a.verdict == Verdict::Approve
                && a.time.is_some()
                && !firsts.iter().any(|f| f.approver == a.approver)
            {
                firsts.push(a);
            }
        }
        let (Some(a), Some(b)) = (firsts.first(), firsts.get(1)) else {
            continue;
        };
        let (Some(ta), Some(tb)) = (a.time, b.time) else {
            continue;
        };
        let pair = if a.approver <= b.approver {
            (a.approver.clone(), b.approver.clone())
        } else {
            (b.approver.clone(), a.approver.clone())
        };
        let entry = pairs.entry(pair).or_default();
        entry.0 += 1;
        if seconds(ta, tb) <= o.dual_collapse_seconds as f64 {
            entry.1 += 1;
        }
    }
    let dual_pairs = pairs
        .into_iter()
        .map(|((a, b), (joint, collapsed))| PairStats {
            approvers: [a, b],
            dual_requests: joint,
            collapsed,
            flagged: collapsed >= o.dual_collapse_min && collapsed.saturating_mul(2) >= joint,
        })
        .collect();

    // Per day.
    let mut per_day: BTreeMap<String, DayStats> = BTreeMap::new();
    let day = |t: Timestamp| CalendarDate::of(t).to_string();
    for a in approvals.iter().filter(|a| a.verdict == Verdict::Approve) {
        if let Some(t) = a.time {
            let d = day(t);
            let entry = per_day.entry(d.clone()).or_insert_with(|| DayStats {
                day: d,
                approvals: BTreeMap::new(),
                approval_requests: 0,
            });
            *entry.approvals.entry(a.approver.clone()).or_default() += 1;
        }
    }
    for (_, u) in &opened {
        let d = day(u.created);
        per_day
            .entry(d.clone())
            .or_insert_with(|| DayStats {
                day: d,
                approvals: BTreeMap::new(),
                approval_requests: 0,
            })
            .approval_requests += 1;
    }

    AuditStats {
        window: Window {
            first_day: first.map(day),
            last_day: last.map(day),
            days,
            records: events.records,
            decisions: total,
            approval_records: approvals.len(),
            repeated_approval_records: events.repeated_approvals,
        },
        tiers,
        approvers,
        policies,
        dual_pairs,
        per_day: per_day.into_values().collect(),
        times_to_approve,
    }
}

/// The most instants of sorted `at` within any window of length `span`.
fn most_within(at: &[Timestamp], span: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, t) in at.iter().enumerate() {
        while let Some(s) = at.get(start) {
            if t.as_offset_date_time() - s.as_offset_date_time() >= span {
                start += 1;
            } else {
                break;
            }
        }
        best = best.max(end + 1 - start);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 50), Some(2.0));
        assert_eq!(percentile(&v, 90), Some(4.0));
        assert_eq!(percentile(&[7.0], 90), Some(7.0));
        assert_eq!(percentile(&[], 50), None);
    }
}
