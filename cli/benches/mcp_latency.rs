//! What `tollgate mcp` adds to an `auto` call: 1,000 sequential `echo` calls to the MCP
//! reference server (`@modelcontextprotocol/server-everything`), straight to the server and
//! through the gateway (which asks a local `tollgate serve` on SQLite for each decision and has
//! it recorded durably), one after the other in one run. Prints p50/p99 of each and the
//! difference.
//!
//!   scripts/mcp-test-deps.sh target/mcp-test
//!   TOLLGATE_TEST_MCP=$PWD/target/mcp-test cargo bench -p tollgate-cli --bench mcp_latency
//!
//! Without `TOLLGATE_TEST_MCP` it prints why and does nothing. `TOLLGATE_MCP_CALLS` sets the
//! number of calls (default 1,000).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Session {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut session = Self {
            child,
            stdin,
            stdout,
            next: 0,
        };
        session.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "mcp_latency", "version": "1"}}),
        );
        writeln!(
            session.stdin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )
        .unwrap();
        session
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let frame = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{frame}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the session ended"
            );
            let message: Value = serde_json::from_str(&line).unwrap();
            if message.get("method").is_none() && message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// Latencies of `n` echo calls, after 50 to warm up.
    fn echo(&mut self, n: usize) -> Vec<Duration> {
        let call = |s: &mut Self| {
            let answer = s.request(
                "tools/call",
                json!({"name": "echo", "arguments": {"message": "hi"}}),
            );
            assert_eq!(
                answer["result"]["content"][0]["text"],
                json!("Echo: hi"),
                "{answer}"
            );
        };
        for _ in 0..50 {
            call(self);
        }
        (0..n)
            .map(|_| {
                let start = Instant::now();
                call(self);
                start.elapsed()
            })
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!(
        "{name:<28} p50 {:>8.3} ms   p99 {:>8.3} ms",
        ms(p50),
        ms(p99)
    );
    (p50, p99)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let Some(deps) = std::env::var_os("TOLLGATE_TEST_MCP").map(PathBuf::from) else {
        println!("skipped: TOLLGATE_TEST_MCP is not set (scripts/mcp-test-deps.sh DIR)");
        return;
    };
    let everything = deps.join("node_modules/.bin/mcp-server-everything");
    if !everything.exists() {
        println!("skipped: {} is missing", everything.display());
        return;
    }
    let calls: usize = std::env::var("TOLLGATE_MCP_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let tollgate = env!("CARGO_BIN_EXE_tollgate");
    let dir = tempfile::tempdir().unwrap();

    let (mut serve, url) = start_serve(tollgate, &repo, dir.path());
    let config = std::fs::read_to_string(repo.join("examples/mcp/everything.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:7878", &url);
    let config_path = dir.path().join("everything.yaml");
    std::fs::write(&config_path, config).unwrap();

    println!("{calls} sequential echo calls (after 50 to warm up)");
    let direct = Session::start(Command::new(&everything)).echo(calls);
    let mut gateway = Command::new(tollgate);
    gateway
        .current_dir(&repo)
        .args(["mcp", "--config"])
        .arg(&config_path)
        .arg("--")
        .arg(&everything);
    let proxied = Session::start(gateway).echo(calls);
    let decide = decide_alone(&url, calls);
    let (d50, d99) = report("direct", direct);
    let (p50, p99) = report("through tollgate mcp", proxied);
    report("serve's decide alone", decide);
    println!(
        "{:<28} p50 {:>8.3} ms   p99 {:>8.3} ms",
        "added by the gateway",
        ms(p50.saturating_sub(d50)),
        ms(p99.saturating_sub(d99))
    );
    let _ = serve.kill();
    let _ = serve.wait();
}

/// What the gateway waits for on each auto call: one `POST /v1/decide` of the same echo
/// request (a fresh request id each time), decided and durably recorded by serve.
fn decide_alone(url: &str, n: usize) -> Vec<Duration> {
    let http = reqwest::blocking::Client::new();
    let call = tollgate_engine::ToolCall {
        server: "everything".into(),
        tool: "echo".into(),
        arguments: serde_json::Map::from_iter([("message".to_string(), json!("hi"))]),
    };
    let digest = call.digest().to_string();
    let decide = |i: usize| {
        let body = json!({
            "request": {"principal": "Agent::\"coder\"", "action": "Action::\"echo\"",
                        "resource": "Tool::\"echo\"",
                        "context": {"server": "everything", "call_digest": digest,
                                    "request_id": format!("bench-{i}")}},
            "call": call.to_json(),
        });
        let answer: Value = http
            .post(format!("{url}/v1/decide"))
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(answer["tier"], json!("auto"), "{answer}");
    };
    for i in 0..50 {
        decide(i);
    }
    (0..n)
        .map(|i| {
            let start = Instant::now();
            decide(50 + i);
            start.elapsed()
        })
        .collect()
}

fn start_serve(tollgate: &str, repo: &Path, dir: &Path) -> (Child, String) {
    let db = format!("sqlite://{}", dir.join("tollgate.db").display());
    let mut child = Command::new(tollgate)
        .current_dir(repo)
        .args([
            "serve",
            "--policies",
            "examples/mcp/policies",
            "--schema",
            "examples/mcp/schema",
            "--entities",
            "examples/mcp/entities.json",
            "--db",
            &db,
            "--listen",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (child, url)
}
