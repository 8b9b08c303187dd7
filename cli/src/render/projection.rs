//! `simulate --per-day N`: the human workload a pack would make at N requests a day, projected
//! from a sample of requests, and the policies that drive it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};
use tollgate_engine::{Decision, Tier};

use super::{shown, thousands};

/// How many of the top policies the projection names.
const TOP: usize = 5;

/// The sample's decisions, as far as the workload goes.
#[derive(Debug, Default, Clone)]
pub struct Projection {
    sampled: usize,
    single: usize,
    dual: usize,
    errors: usize,
    /// Per policy that set a single or dual tier: the approvals it asked for in the sample.
    policies: BTreeMap<String, Driving>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Driving {
    requests: usize,
    approvals: usize,
}

/// One policy's projected load.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    /// The policy's id.
    pub policy: String,
    /// Requests a day it would send to people.
    pub requests_per_day: f64,
    /// Approvals a day those requests would ask for.
    pub approvals_per_day: f64,
}

impl Projection {
    /// Counts one line: its decision, or `None` when it could not be decided (such lines count
    /// in the sample: a request that errors still arrives).
    pub fn add(&mut self, decision: Option<&Decision>) {
        self.sampled += 1;
        let Some(d) = decision else {
            self.errors += 1;
            return;
        };
        let approvals = match d.tier {
            Tier::Single => {
                self.single += 1;
                1
            }
            Tier::Dual => {
                self.dual += 1;
                2
            }
            Tier::Auto | Tier::Deny => return,
        };
        // A decision set by several policies counts for each: each alone would have asked.
        let mut seen: Vec<&str> = Vec::new();
        for p in &d.determining {
            let id = p.id.as_str();
            if matches!(p.tier, Tier::Single | Tier::Dual) && !seen.contains(&id) {
                seen.push(id);
                let entry = self.policies.entry(id.to_string()).or_default();
                entry.requests += 1;
                entry.approvals += approvals;
            }
        }
    }

    /// Adds another slice's counts (the workers count their own lines).
    pub fn merge(&mut self, other: Projection) {
        self.sampled += other.sampled;
        self.single += other.single;
        self.dual += other.dual;
        self.errors += other.errors;
        for (id, d) in other.policies {
            let entry = self.policies.entry(id).or_default();
            entry.requests += d.requests;
            entry.approvals += d.approvals;
        }
    }

    fn scale(&self, per_day: f64) -> f64 {
        if self.sampled == 0 {
            0.0
        } else {
            per_day / self.sampled as f64
        }
    }

    /// The policies that drive the most approvals, most first (ties by id).
    pub fn drivers(&self, per_day: f64) -> Vec<Driver> {
        let scale = self.scale(per_day);
        let mut all: Vec<(&String, &Driving)> = self.policies.iter().collect();
        all.sort_by(|a, b| b.1.approvals.cmp(&a.1.approvals).then_with(|| a.0.cmp(b.0)));
        all.into_iter()
            .take(TOP)
            .map(|(id, d)| Driver {
                policy: id.clone(),
                requests_per_day: d.requests as f64 * scale,
                approvals_per_day: d.approvals as f64 * scale,
            })
            .collect()
    }

    /// `{per_day, sampled, single_per_day, dual_per_day, approvals_per_day, top_policies}`.
    pub fn json(&self, per_day: f64) -> Value {
        let scale = self.scale(per_day);
        json!({
            "per_day": per_day,
            "sampled": self.sampled,
            "errors_in_sample": self.errors,
            "single_per_day": self.single as f64 * scale,
            "dual_per_day": self.dual as f64 * scale,
            "approvals_per_day": (self.single + 2 * self.dual) as f64 * scale,
            "top_policies": self.drivers(per_day).iter().map(|d| json!({
                "policy": d.policy,
                "requests_per_day": d.requests_per_day,
                "approvals_per_day": d.approvals_per_day,
            })).collect::<Vec<_>>(),
        })
    }

    /// The projection for people.
    pub fn text(&self, per_day: f64) -> String {
        let scale = self.scale(per_day);
        let single = self.single as f64 * scale;
        let dual = self.dual as f64 * scale;
        let mut s = format!(
            "at {} requests/day this pack asks people for ~{} single and ~{} dual approvals/day (~{} approvals, from {} sampled requests)\n",
            round(per_day),
            round(single),
            round(dual),
            round(single + 2.0 * dual),
            self.sampled
        );
        let drivers = self.drivers(per_day);
        if !drivers.is_empty() {
            let _ = writeln!(s, "driven most by:");
            for d in drivers {
                let _ = writeln!(
                    s,
                    "  {:<40} ~{} approvals/day ({} requests)",
                    shown(&d.policy),
                    round(d.approvals_per_day),
                    round(d.requests_per_day)
                );
            }
        }
        s
    }
}

/// A projected count as people read it: whole numbers with thousands separators, and one
/// decimal below 10.
fn round(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}")
    } else {
        thousands(x.round() as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::round;

    #[test]
    fn projected_counts_read_as_people_say_them() {
        assert_eq!(round(3.25), "3.2");
        assert_eq!(round(1833.4), "1,833");
        assert_eq!(round(1_000_000.0), "1,000,000");
    }
}
