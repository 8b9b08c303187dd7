//! Shared set-up for the exact-analysis tests: the solver (or a printed reason to skip) and
//! packs from files or text.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tollgate_engine::fs::read_pack;
use tollgate_engine::{CalendarDate, Pack, PackSource, SourceFile};
use tollgate_smt::{Cvc5, Session};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A session on the machine's cvc5, or `None` after printing why the test is skipped.
/// With `TOLLGATE_REQUIRE_SMT=1` (as `.ci/run` sets) a missing solver fails the test.
pub fn session() -> Option<Session> {
    match Cvc5::find() {
        Ok(cvc5) => Some(Session::new(cvc5, Duration::from_secs(20), None).unwrap()),
        Err(e) => {
            assert!(
                std::env::var_os("TOLLGATE_REQUIRE_SMT").is_none(),
                "TOLLGATE_REQUIRE_SMT is set but the solver is unusable: {e}"
            );
            eprintln!("skipped: exact analysis needs cvc5 ({e})");
            None
        }
    }
}

/// The day the tests analyse for.
pub fn today() -> CalendarDate {
    "2026-12-03".parse().unwrap()
}

/// The reference pack.
pub fn reference() -> Pack {
    let root = root();
    Pack::load(read_pack(&root.join("policies"), Some(&root.join("schemas"))).unwrap()).unwrap()
}

/// A pack of one policy file and one schema file.
pub fn pack(schema: &str, policies: &str) -> Pack {
    Pack::load(PackSource {
        policies: vec![SourceFile::new("p.cedar", policies)],
        schemas: vec![SourceFile::new("s.cedarschema", schema)],
    })
    .unwrap()
}

/// A small schema: agents and humans, tokens and documents, an expansion action in a group,
/// and an approval action open to agents as well as humans (a schema mistake self-approval
/// must catch when a policy lets an agent through).
pub const SCHEMA: &str = r#"
@human
entity Human in [Group];
entity Group;
entity Agent { team: String };
entity Token { environment: String, uses: Long };
entity Document;
type Ctx = { now: datetime, scopes?: Set<String> };
action "expand_privilege";
@privilege_expansion("adds a scope to a token")
action add_token_scope in ["expand_privilege"] appliesTo { principal: [Agent], resource: [Token, Document], context: Ctx };
action read appliesTo { principal: [Agent], resource: [Document], context: Ctx };
action approve appliesTo { principal: [Human, Agent], resource: [Token, Document], context: { requested_action: String } };
"#;
