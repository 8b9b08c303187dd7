//! `tollgate audit stats` on a hand-built serve export and on a log the CLI writes itself.
//!
//! The expected numbers are worked out by hand from the story `scripts/audit_example.py`
//! tells (its docstring), not computed by that script.

mod support;

use serde_json::Value;
use support::desk::{DEPLOY, Desk};
use support::{ENTITIES, s, text, tollgate};

const EXPORT: &str = "examples/audit/serve-export.jsonl";

fn stats(args: &[&str]) -> Value {
    let mut all = vec!["audit", "stats", "--format", "json"];
    all.extend_from_slice(args);
    let out = tollgate(&all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_str(&text(&out.stdout)).unwrap()
}

fn approver<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["approver"] == format!("Human::\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} in {stats}"))
}

fn policy<'a>(stats: &'a Value, id: &str) -> &'a Value {
    stats["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == id)
        .unwrap_or_else(|| panic!("no {id} in {stats}"))
}

fn tier<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tier"] == name)
        .unwrap()
}

fn flags(a: &Value) -> Vec<String> {
    a["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_serve_export_gives_the_hand_computed_numbers() {
    let st = stats(&[EXPORT]);
    let w = &st["window"];
    assert_eq!(w["first_day"], "2026-06-01");
    assert_eq!(w["last_day"], "2026-06-03");
    assert_eq!(w["days"], 3);
    // 22 token + 10 deploy + 1 deploy retry + 4 production + 14 auto + 2 deny requests.
    assert_eq!(w["decisions"], 53);
    // 22 alice + 10 bob + 4 carol + 4 dave; the two consumes repeat approvals serve's `record`
    // events already carry, and do not count again.
    assert_eq!(w["approval_records"], 40);

    // Tiers: single = 22 + 10 + the retry; 32 approval requests (the retry found one), 32
    // approvals asked over 3 days; dual: 4 requests, 8 approvals.
    assert_eq!(tier(&st, "single")["decisions"], 33);
    assert_eq!(tier(&st, "single")["approval_requests"], 32);
    assert_eq!(tier(&st, "single")["approvals_requested"], 32);
    assert!(
        (tier(&st, "single")["approvals_requested_per_day"]
            .as_f64()
            .unwrap()
            - 32.0 / 3.0)
            .abs()
            < 1e-9
    );
    assert_eq!(tier(&st, "dual")["approvals_requested"], 8);
    assert_eq!(tier(&st, "auto")["decisions"], 14);
    assert_eq!(tier(&st, "deny")["decisions"], 2);
    assert!((tier(&st, "auto")["share"].as_f64().unwrap() - 14.0 / 53.0).abs() < 1e-9);

    // alice: all 22 approved, each 5 s after opening; 6 on day 1 fall within one minute.
    let alice = approver(&st, "alice");
    assert_eq!(alice["approvals"], 22);
    assert_eq!(alice["rejections"], 0);
    assert_eq!(alice["approve_rate"], 1.0);
    assert_eq!(alice["median_seconds_to_approve"], 5.0);
    assert_eq!(alice["most_in_a_minute"], 6);
    assert_eq!(flags(alice), ["rubber_stamp", "burst"]);
    let why = alice["flags"][0]["why"].as_str().unwrap();
    assert!(
        why.contains("approved all 22") && why.contains("median time to approve 5 s"),
        "{why}"
    );

    // bob: 6 approvals after 120, 300, 600, 900, 1200, 1800 s and 4 rejects. Nearest rank:
    // the median is the 3rd of 6 (600 s), the p90 the 6th (1800 s). Not flagged.
    let bob = approver(&st, "bob");
    assert_eq!(
        (bob["approvals"].as_u64(), bob["rejections"].as_u64()),
        (Some(6), Some(4))
    );
    assert_eq!(bob["approve_rate"], 0.6);
    assert_eq!(bob["median_seconds_to_approve"], 600.0);
    assert_eq!(bob["p90_seconds_to_approve"], 1800.0);
    assert!(flags(bob).is_empty());
    assert!((bob["approvals_per_day"].as_f64().unwrap() - 2.0).abs() < 1e-9);

    // dave second on the dual requests: 130, 130, 130, 400 s; median the 2nd (130), p90 the 4th.
    let dave = approver(&st, "dave");
    assert_eq!(dave["median_seconds_to_approve"], 130.0);
    assert_eq!(dave["p90_seconds_to_approve"], 400.0);
    assert!(flags(dave).is_empty(), "4 approvals: too few to call");

    // Gates.
    let token = policy(&st, "gate-token-scope");
    assert_eq!(
        (
            token["approval_requests"].as_u64(),
            token["rejected"].as_u64()
        ),
        (Some(22), Some(0))
    );
    assert_eq!(token["verdict"], "candidate");
    assert_eq!(token["median_wait_seconds"], 5.0);
    let deploy = policy(&st, "gate-deploy");
    assert_eq!(
        (
            deploy["approval_requests"].as_u64(),
            deploy["rejected"].as_u64()
        ),
        (Some(10), Some(4))
    );
    assert_eq!(deploy["rejection_rate"], 0.4);
    assert_eq!(deploy["verdict"], "doing_its_job");
    // Completed at bob's approvals: 120 … 1800 s; the 3rd of 6.
    assert_eq!(deploy["median_wait_seconds"], 600.0);
    let prod = policy(&st, "gate-production");
    assert_eq!(
        (
            prod["approval_requests"].as_u64(),
            prod["approvals_requested"].as_u64()
        ),
        (Some(4), Some(8))
    );
    assert_eq!(prod["verdict"], "undecided");
    assert_eq!(prod["median_wait_seconds"], 130.0);
    // Most requests first.
    assert_eq!(st["policies"][0]["policy"], "gate-token-scope");

    // carol + dave: 3 of 4 second approvals within 30 s of the first.
    let pairs = st["dual_pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        pairs[0]["approvers"],
        serde_json::json!(["Human::\"carol\"", "Human::\"dave\""])
    );
    assert_eq!(
        (
            pairs[0]["dual_requests"].as_u64(),
            pairs[0]["collapsed"].as_u64()
        ),
        (Some(4), Some(3))
    );
    assert_eq!(pairs[0]["flagged"], true);
    // Tighter than their 30 s: not collapsed.
    let strict = stats(&[EXPORT, "--dual-collapse-seconds", "20"]);
    assert_eq!(strict["dual_pairs"][0]["collapsed"], 0);
    assert_eq!(strict["dual_pairs"][0]["flagged"], false);
}

#[test]
fn a_window_counts_only_what_happened_in_it() {
    // Days 2 and 3: alice's 10 day-2 approvals (10 minutes apart), all of bob's and the dual ones.
    let st = stats(&[EXPORT, "--since", "2026-06-02T00:00:00Z"]);
    assert_eq!(st["window"]["days"], 2);
    assert_eq!(st["window"]["first_day"], "2026-06-02");
    // 10 token + 11 deploy + 4 production + 9 auto (those on days 2 and 3) + 2 deny.
    assert_eq!(st["window"]["decisions"], 36);
    let alice = approver(&st, "alice");
    assert_eq!(alice["approvals"], 10);
    assert_eq!(alice["most_in_a_minute"], 1);
    // Ten approvals are too few for "approved everything", but a 5 s median still flags.
    assert_eq!(flags(alice), ["rubber_stamp"]);
    assert!(
        !alice["flags"][0]["why"]
            .as_str()
            .unwrap()
            .contains("approved all")
    );
    assert_eq!(policy(&st, "gate-token-scope")["verdict"], "undecided");

    // Day 1 only: alice's first 12, nothing else approved.
    let st = stats(&[EXPORT, "--until", "2026-06-02T00:00:00Z"]);
    assert_eq!(st["window"]["days"], 1);
    assert_eq!(st["window"]["last_day"], "2026-06-01");
    assert_eq!(st["approvers"].as_array().unwrap().len(), 1);
    assert_eq!(approver(&st, "alice")["approvals"], 12);
    assert_eq!(approver(&st, "alice")["most_in_a_minute"], 6);
}

#[test]
fn the_cli_log_counts_each_approval_once_and_times_it_from_the_decision() {
    let desk = Desk::new(&["alice", "dave"]);
    let log = desk.path("audit.jsonl");
    let decide = tollgate(&[
        "decide",
        "--request",
        DEPLOY,
        "--entities",
        ENTITIES,
        "--at",
        "2026-06-01T12:00:00Z",
        "--audit",
        s(&log),
    ]);
    assert!(
        decide.status.code().is_some_and(|c| c != 2),
        "{}",
        text(&decide.stderr)
    );
    assert!(
        desk.approve("alice", &["--at", "2026-06-01T12:00:40Z"])
            .status
            .success()
    );
    // Pending (exit 3), recorded with alice's approval…
    let pending = desk.verify(&["--at", "2026-06-01T12:01:00Z", "--audit", s(&log)]);
    assert_eq!(pending.status.code(), Some(3), "{}", text(&pending.stderr));
    assert!(
        desk.approve("dave", &["--at", "2026-06-01T12:05:00Z"])
            .status
            .success()
    );
    // …then allowed, listing alice's approval again.
    let allowed = desk.verify(&["--at", "2026-06-01T12:06:00Z", "--audit", s(&log)]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));

    let st = stats(&[s(&log)]);
    assert_eq!(st["window"]["decisions"], 1);
    assert_eq!(st["window"]["approval_records"], 2);
    assert_eq!(st["window"]["repeated_approval_records"], 1);
    assert_eq!(approver(&st, "alice")["approvals"], 1);
    assert_eq!(approver(&st, "alice")["median_seconds_to_approve"], 40.0);
    assert_eq!(approver(&st, "dave")["median_seconds_to_approve"], 300.0);
    assert_eq!(tier(&st, "dual")["approvals_requested"], 2);
    let pairs = st["dual_pairs"].as_array().unwrap();
    assert_eq!(pairs[0]["dual_requests"], 1);
    assert_eq!(pairs[0]["collapsed"], 0, "260 s apart");
}

#[test]
fn the_table_names_the_flags() {
    let out = tollgate(&["audit", "stats", EXPORT]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    assert!(t.contains("rubber stamp: approved all 22"), "{t}");
    assert!(t.contains("burst: 6 approvals within a minute"), "{t}");
    assert!(t.contains("never rejected: re-scope or automate?"), "{t}");
    assert!(t.contains("often rejected: doing its job"), "{t}");
    assert!(t.contains("dual collapse: two people acting as one"), "{t}");
}

#[test]
fn the_html_page_is_well_formed_self_contained_and_escapes_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = std::fs::read_to_string(support::repo().join(EXPORT)).unwrap();
    // An approver name that is markup, as a hostile log line would carry.
    log.push_str(r#"{"time":"2026-06-03T21:00:00Z","kind":"record","approval_id":"apr_x","request_hash":"sha256:00","record":{"approver":"Human::\"<script>alert(1)</script>\"","decision":"approve","signature":"ed25519:x"}}"#);
    log.push('\n');
    let path = dir.path().join("log.jsonl");
    std::fs::write(&path, log).unwrap();
    let out = tollgate(&["audit", "stats", s(&path), "--format", "html"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = text(&out.stdout);
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{html}"));
    let names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert!(
        !names.contains(&"script"),
        "no script, whatever the log says"
    );
    assert!(
        !names.iter().any(|n| *n == "link" || *n == "img"),
        "nothing fetched"
    );
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("svg")).count(),
        3,
        "three charts"
    );
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains("Human::&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"));
    let all_text: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(all_text.contains("Human::\"alice\""));
    assert!(all_text.contains("gate-token-scope"));
    assert!(all_text.contains("dual collapse"));
}

#[test]
fn a_line_that_is_not_a_record_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    std::fs::write(
        &path,
        "{\"kind\":\"decision\",\"time\":\"2026-06-01T00:00:00Z\"}\n",
    )
    .unwrap();
    let out = tollgate(&["audit", "stats", s(&path)]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("log.jsonl") && err.contains("line 1") && err.contains("decision"),
        "{err}"
    );
    std::fs::write(&path, "not json\n").unwrap();
    assert_eq!(
        tollgate(&["audit", "stats", s(&path)]).status.code(),
        Some(2)
    );
}
