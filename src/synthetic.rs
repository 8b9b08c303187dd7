//! Synthetic policy packs of any size, with a realistic mix: mostly single-action scopes, some
//! action groups, a few unconstrained policies; permits, gates and forbids; conditions on
//! principal and resource attributes and on context. Deterministic for a given seed.

use std::fmt::Write as _;

use serde_json::{Value, json};
use tollgate_engine::{PackSource, SourceFile};

/// A small deterministic generator (SplitMix64), so packs do not depend on a crate's RNG.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Shape of a synthetic pack.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Number of policies.
    pub policies: usize,
    /// Number of actions (each in one of `actions / 10` groups).
    pub actions: usize,
}

impl Shape {
    /// About 20 policies per action, as in a pack where each action has a handful of rules.
    pub fn of(policies: usize) -> Self {
        Self {
            policies,
            actions: (policies / 20).max(10),
        }
    }
    fn groups(&self) -> usize {
        (self.actions / 10).max(1)
    }
}

const ENVS: [&str; 3] = ["dev", "staging", "prod"];

/// The schema of a synthetic pack.
pub fn schema(shape: Shape) -> String {
    let mut s = String::from(
        "entity Team;\nentity User in [Team] { level: Long, team: String };\nentity Res { env: String, owner: String };\n",
    );
    for g in 0..shape.groups() {
        let _ = writeln!(s, "action \"grp{g}\";");
    }
    for a in 0..shape.actions {
        let _ = writeln!(
            s,
            "action act{a} in [\"grp{}\"] appliesTo {{ principal: [User], resource: [Res], context: {{ n: Long, env: String }} }};",
            a % shape.groups()
        );
    }
    s
}

/// The policies of a synthetic pack: 90% `action ==`, 8% `action in` a group, 2% unconstrained;
/// 60% permits, 30% gates, 10% forbids.
pub fn policies(shape: Shape, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut s = String::new();
    for i in 0..shape.policies {
        let roll = rng.below(100);
        let action = if roll < 90 {
            format!(
                "action == Action::\"act{}\"",
                rng.below(shape.actions as u64)
            )
        } else if roll < 98 {
            format!(
                "action in Action::\"grp{}\"",
                rng.below(shape.groups() as u64)
            )
        } else {
            "action".to_string()
        };
        let kind = rng.below(100);
        let head = if kind < 60 {
            ["@tier(\"auto\")", "@tier(\"single\")", "@tier(\"dual\")"][rng.below(3) as usize]
                .to_string()
                + " permit"
        } else if kind < 90 {
            ["@tier(\"single\")", "@tier(\"dual\")"][rng.below(2) as usize].to_string() + " forbid"
        } else {
            "forbid".to_string()
        };
        let env = ENVS[rng.below(3) as usize];
        let cond = match rng.below(4) {
            0 => format!("principal.level > {}", rng.below(5)),
            1 => format!(
                "resource.env == \"{env}\" && context.n < {}",
                rng.below(100)
            ),
            2 => format!(
                "context.env == \"{env}\" && principal.team == \"t{}\"",
                rng.below(4)
            ),
            _ => format!(
                "principal in Team::\"t{}\" && context.n > {}",
                rng.below(4),
                rng.below(100)
            ),
        };
        let _ = writeln!(
            s,
            "@id(\"p{i}\") {head} (principal, {action}, resource) when {{ {cond} }};"
        );
    }
    s
}

/// A pack source for `shape`.
pub fn pack(shape: Shape, seed: u64) -> PackSource {
    PackSource {
        policies: vec![SourceFile::new("synthetic.cedar", policies(shape, seed))],
        schemas: vec![SourceFile::new("synthetic.cedarschema", schema(shape))],
    }
}

/// Entities for synthetic requests: 4 teams, 50 users, 50 resources.
pub fn entities() -> Value {
    let mut out = Vec::new();
    for t in 0..4 {
        out.push(
            json!({"uid": {"type": "Team", "id": format!("t{t}")}, "attrs": {}, "parents": []}),
        );
    }
    for u in 0..50 {
        out.push(json!({"uid": {"type": "User", "id": format!("u{u}")},
            "attrs": {"level": u % 6, "team": format!("t{}", u % 4)},
            "parents": [{"type": "Team", "id": format!("t{}", u % 4)}]}));
    }
    for r in 0..50 {
        out.push(json!({"uid": {"type": "Res", "id": format!("r{r}")},
            "attrs": {"env": ENVS[r % 3], "owner": format!("u{r}")}, "parents": []}));
    }
    Value::Array(out)
}

/// `count` requests over the pack's actions.
pub fn requests(shape: Shape, count: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed ^ 0xA5A5);
    (0..count)
        .map(|_| {
            json!({
                "principal": {"type": "User", "id": format!("u{}", rng.below(50))},
                "action": {"type": "Action", "id": format!("act{}", rng.below(shape.actions as u64))},
                "resource": {"type": "Res", "id": format!("r{}", rng.below(50))},
                "context": {"n": rng.below(120), "env": ENVS[rng.below(3) as usize]},
            })
        })
        .collect()
}
