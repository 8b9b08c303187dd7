//! `tollgate test`, `simulate`, `diff` and `bench` on real files.

mod support;

use std::process::{Command, Stdio};

use support::{
    AT, ENTITIES, ReferenceDecider, assert_exit, batch, batch_args, copy_pack, decide,
    example_requests, flagged, repo, text, tollgate, tollgate_in,
};

#[test]
fn test_command_passes_on_the_reference_pack_with_coverage_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    let out = tollgate(&[
        "test",
        "--coverage",
        "--junit",
        junit.to_str().unwrap(),
        "--at",
        AT,
    ]);
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with("passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("coverage: 100.0%"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.starts_with("<?xml") && xml.contains("<testsuite name=") && !xml.contains("<failure")
    );
}

#[test]
fn test_command_reports_failures_and_exit_codes() {
    let pack = copy_pack();
    // Break a gate: production deploys drop from dual to single.
    let prod = pack.root().join("policies/production.cedar");
    let broken = std::fs::read_to_string(&prod)
        .unwrap()
        .replace("when { resource.production };", "when { false };");
    std::fs::write(&prod, broken).unwrap();
    let junit = pack.root().join("r.xml");
    let out = tollgate_in(
        pack.root(),
        &["test", "--coverage", "--junit", "r.xml", "--at", AT],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains("tier: expected dual, got single"),
        "{stdout}"
    );
    assert!(stdout.contains("determining: changes-single"), "{stdout}");
    assert!(
        stdout.contains("never determining: gate-production-changes"),
        "{stdout}"
    );
    assert!(stdout.lines().last().unwrap().ends_with(" failed") && !stdout.contains(" 0 failed"));
    assert!(
        std::fs::read_to_string(junit)
            .unwrap()
            .contains("<failure message=\"tier: expected dual, got single\"")
    );
    // A malformed test file: could not run.
    std::fs::write(
        pack.root().join("policies/tests/bad.yaml"),
        "cases: [{name: x}]",
    )
    .unwrap();
    assert_eq!(
        tollgate_in(pack.root(), &["test", "--at", AT])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn simulate_streams_what_needs_approval_and_summarises() {
    let out = batch(
        "simulate",
        "examples/requests-small.jsonl",
        &["--group-by", "action"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("summary: ") && stdout.contains("(20 requests)"),
        "{stdout}"
    );
    assert!(stdout.contains("  action Action::\""), "{stdout}");
    for line in stdout
        .lines()
        .filter(|l| !l.starts_with("summary") && !l.starts_with("  action"))
    {
        assert!(
            !line.contains(" auto "),
            "auto decisions are not streamed: {line}"
        );
    }
}

#[test]
fn simulate_json_matches_decide_for_every_request() {
    let out = batch("simulate", "examples/requests.jsonl", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let decisions = doc["decisions"].as_array().unwrap();
    let lines = example_requests();
    assert_eq!(decisions.len(), lines.len());
    let total = doc["summary"]["overall"]["total"].as_u64().unwrap() as usize;
    assert_eq!(total, lines.len());
    // Every line, through the engine directly (the same path `decide` takes).
    let engine = ReferenceDecider::new();
    for (i, line) in lines.iter().enumerate() {
        let d = engine.decide(line);
        assert_eq!(decisions[i]["line"], i + 1);
        assert_eq!(
            decisions[i]["decision"],
            serde_json::to_value(&d).unwrap(),
            "line {}",
            i + 1
        );
    }
    // And a sample through the `decide` command itself.
    for i in [0usize, 7, 99, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let req = dir.path().join("r.json");
        std::fs::write(&req, &lines[i]).unwrap();
        let out = decide(req.to_str().unwrap(), ENTITIES, &["--format", "json"]);
        let single: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(decisions[i]["decision"], single);
    }
}

#[test]
fn simulate_reports_bad_lines_and_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let good = std::fs::read_to_string(repo().join("examples/requests-small.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().take(3).collect();
    lines.insert(1, "{not json");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = batch("simulate", input.to_str().unwrap(), &["--format", "csv"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 5, "header + 4 rows: {stdout}");
    assert!(
        stdout.lines().nth(2).unwrap().starts_with("2,,,,error,"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("1 error (4 requests)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn simulate_reads_stdin_and_survives_a_closed_pipe() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(repo())
        .args(batch_args("simulate", "-", &["--format", "csv"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = std::fs::read_to_string(repo().join("examples/requests.jsonl")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(input.repeat(20).as_bytes());
    });
    // Read one line, then hang up (like `| head -1`).
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    use std::io::Read;
    let _ = stdout.read(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let _ = writer.join();
    assert!(
        status.code().is_some(),
        "killed by a signal or panicked: {status:?}"
    );
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn simulate_csv_memory_is_flat_in_the_number_of_requests() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let corpus = std::fs::read_to_string(repo().join("examples/requests.jsonl")).unwrap();
    let lines: Vec<&str> = corpus.lines().collect();
    let mut big = String::new();
    for i in 0..200_000 {
        big.push_str(lines[i % lines.len()]);
        big.push('\n');
    }
    std::fs::write(&input, big).unwrap();
    // GNU time is not everywhere; read the child's peak RSS from /proc while it runs.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(repo())
        .args(batch_args(
            "simulate",
            input.to_str().unwrap(),
            &["--format", "csv"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            for line in status.lines().filter(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                peak_kib = peak_kib.max(kib);
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("(200,000 requests)"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        peak_kib > 0 && peak_kib < 200 * 1024,
        "peak RSS {peak_kib} KiB"
    );
}

#[test]
fn diff_flags_exactly_the_requests_a_removed_gate_weakens() {
    let head = copy_pack();
    let prod = head.root().join("policies/production.cedar");
    let text_before = std::fs::read_to_string(&prod).unwrap();
    let gate_start = text_before
        .find("@id(\"gate-production-changes\")")
        .unwrap();
    std::fs::write(&prod, &text_before[..gate_start]).unwrap();
    let flags = [
        ("--base", "."),
        ("--head", head.root().to_str().unwrap()),
        ("--requests", "examples/requests.jsonl"),
        ("--entities", ENTITIES),
        ("--at", AT),
    ];
    let out = tollgate(&flagged("diff", &flags, &["--format", "json"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["policies"]["removed"],
        serde_json::json!(["gate-production-changes"])
    );
    // Expected: every request that was dual because of that gate and nothing else.
    let lines = example_requests();
    let engine = ReferenceDecider::new();
    let expected: Vec<u64> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let d = engine.decide(l);
            d.tier == tollgate_engine::Tier::Dual
                && d.determining
                    .iter()
                    .any(|p| p.id == "gate-production-changes")
        })
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert!(!expected.is_empty());
    let got: Vec<u64> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["line"].as_u64().unwrap())
        .collect();
    assert_eq!(got, expected);
    assert!(
        doc["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["change"] == "weakened" && c["base"] == "dual" && c["head"] == "single")
    );
    // Unchanged packs: exit 0.
    let same = batch("diff", "examples/requests-small.jsonl", &[]);
    assert_eq!(same.status.code(), Some(0));
    assert!(text(&same.stdout).contains("0 weakened"));
}

#[test]
fn bench_reports_both_engines_and_the_ratio() {
    let out = batch(
        "bench",
        "examples/requests-small.jsonl",
        &["--time", "0.2", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for side in ["tollgate", "cedar"] {
        assert!(doc[side]["decisions"].as_u64().unwrap() > 0);
        assert!(doc[side]["p50_us"].as_f64().unwrap() <= doc[side]["p99_us"].as_f64().unwrap());
    }
    assert!(doc["ratio_vs_cedar"].as_f64().unwrap() > 0.0);
    assert_eq!(
        tollgate(&[
            "bench",
            "--requests",
            "examples/requests-small.jsonl",
            "--time",
            "0"
        ])
        .status
        .code(),
        Some(2)
    );
}

/// `--per-day N` scales the sample: with N the sample's own size the projection is the
/// sample's counts, which the JSON summary states independently.
#[test]
fn simulate_projects_the_workload_per_day() {
    let out = batch(
        "simulate",
        "examples/requests.jsonl",
        &["--format", "json", "--per-day", "1200"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let overall = &doc["summary"]["overall"];
    let p = &doc["summary"]["projection"];
    assert_eq!(p["sampled"], 1200);
    assert_eq!(p["single_per_day"].as_f64(), overall["single"].as_f64());
    assert_eq!(p["dual_per_day"].as_f64(), overall["dual"].as_f64());
    let approvals = overall["single"].as_f64().unwrap() + 2.0 * overall["dual"].as_f64().unwrap();
    assert_eq!(p["approvals_per_day"].as_f64(), Some(approvals));
    // The top policies, each counted from the decisions it determined.
    let top = p["top_policies"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    let decisions = doc["decisions"].as_array().unwrap();
    for t in top {
        let id = t["policy"].as_str().unwrap();
        let mut requests = 0.0;
        let mut asked = 0.0;
        for d in decisions {
            let d = &d["decision"];
            let required = d["approvals_required"].as_f64().unwrap_or(0.0);
            if required > 0.0
                && d["determining"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["id"] == id && x["tier"] != "auto" && x["tier"] != "deny")
            {
                requests += 1.0;
                asked += required;
            }
        }
        assert_eq!(t["requests_per_day"].as_f64(), Some(requests), "{id}");
        assert_eq!(t["approvals_per_day"].as_f64(), Some(asked), "{id}");
    }
    let most: Vec<f64> = top
        .iter()
        .map(|t| t["approvals_per_day"].as_f64().unwrap())
        .collect();
    assert!(most.windows(2).all(|w| w[0] >= w[1]), "{most:?}");
    // Ten times the rate, ten times the load; in words on the text summary.
    let text_out = batch(
        "simulate",
        "examples/requests.jsonl",
        &["--per-day", "12000"],
    );
    let t = text(&text_out.stdout);
    // 219 single and 231 dual among the 1,200 example requests (the summary line above says so).
    assert!(
        t.contains("summary: 654 auto, 219 single, 231 dual, 96 deny"),
        "{t}"
    );
    assert!(
        t.contains(
            "at 12,000 requests/day this pack asks people for ~2,190 single and ~2,310 dual approvals/day (~6,810 approvals"
        ),
        "{t}"
    );
    assert!(t.contains("driven most by:"), "{t}");
    // Zero requests a day is refused.
    assert_eq!(
        batch("simulate", "examples/requests.jsonl", &["--per-day", "0"])
            .status
            .code(),
        Some(2)
    );
}
