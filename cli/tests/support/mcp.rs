//! What the `tollgate mcp` tests need: the real MCP servers and client installed by `.ci/run`
//! (or `scripts/mcp-test-deps.sh`), a `tollgate serve` of the MCP example pack, the official
//! Python MCP client driven line by line, and a raw JSON-RPC client for frames no SDK sends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Scratch, command_in, keygen, listening_url, repo, s, text};

/// The real parts: the npm MCP servers and a Python with the `mcp` SDK.
pub struct Deps {
    bin: PathBuf,
    pub python: PathBuf,
}

impl Deps {
    /// The parts from `TOLLGATE_TEST_MCP` (the folder `scripts/mcp-test-deps.sh` filled), or
    /// `None` with the reason printed. With `TOLLGATE_REQUIRE_MCP=1` (CI) a missing part fails.
    pub fn find() -> Option<Self> {
        let why = match std::env::var_os("TOLLGATE_TEST_MCP") {
            None => "TOLLGATE_TEST_MCP is not set (run scripts/mcp-test-deps.sh DIR and export TOLLGATE_TEST_MCP=DIR)".to_string(),
            Some(dir) => {
                let dir = PathBuf::from(dir);
                let deps = Self {
                    bin: dir.join("node_modules/.bin"),
                    python: dir.join("venv/bin/python"),
                };
                let missing: Vec<String> = [
                    deps.bin.join("mcp-server-filesystem"),
                    deps.bin.join("mcp-server-everything"),
                    deps.python.clone(),
                ]
                .into_iter()
                .filter(|p| !p.exists())
                .map(|p| p.display().to_string())
                .collect();
                if missing.is_empty() {
                    return Some(deps);
                }
                format!("missing {}", missing.join(", "))
            }
        };
        if std::env::var("TOLLGATE_REQUIRE_MCP").is_ok_and(|v| v == "1") {
            panic!("TOLLGATE_REQUIRE_MCP=1 but the MCP test parts are not there: {why}");
        }
        eprintln!("skipped: {why}");
        None
    }

    /// `@modelcontextprotocol/server-filesystem` serving `root`.
    pub fn filesystem(&self, root: &Path) -> Vec<String> {
        vec![
            s(&self.bin.join("mcp-server-filesystem")).to_string(),
            s(root).to_string(),
        ]
    }

    /// `@modelcontextprotocol/server-everything` on stdio.
    pub fn everything(&self) -> Vec<String> {
        vec![s(&self.bin.join("mcp-server-everything")).to_string()]
    }
}

/// A `tollgate serve` of `examples/mcp` on a fresh SQLite database, loopback only, with alice
/// and bob (approvers) in its keyring. Killed when dropped.
pub struct Serving {
    child: Child,
    pub url: String,
    pub dir: Scratch,
}

impl Serving {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// With `--tokens`: one gateway token for `Agent::"coder"`, written to `gateway.token`
    /// (and the configuration's `token_file` names it).
    pub fn start_with_tokens(gateway_token: &str) -> Self {
        Self::start_with(Some(gateway_token))
    }

    fn start_with(gateway_token: Option<&str>) -> Self {
        let dir = Scratch::new();
        let mut extra = Vec::new();
        if let Some(token) = gateway_token {
            let staff = "tg-mcp-approver-and-auditor";
            let tokens = json!({
                "gateway": {"sha256": tollgate_server::token_hash(token),
                            "roles": ["gateway"], "principals": ["Agent::\"coder\""]},
                "staff": {"sha256": tollgate_server::token_hash(staff),
                          "roles": ["approver", "auditor"]},
            });
            dir.write("tokens.json", &tokens.to_string());
            dir.write("gateway.token", token);
            dir.write("staff.token", staff);
            extra = vec![
                "--tokens".to_string(),
                s(&dir.path("tokens.json")).to_string(),
            ];
        }
        let mut ring = String::new();
        for who in ["alice", "bob"] {
            ring.push_str(&text(&keygen(who, &dir.path(&format!("{who}.key")))));
        }
        dir.write("keyring.json", &ring);
        let db = format!("sqlite://{}", s(&dir.path("tollgate.db")));
        let stderr = std::fs::File::create(dir.path("serve.log")).unwrap();
        let keyring = dir.path("keyring.json");
        let mut child = command_in(
            &repo(),
            &[
                "serve",
                "--policies",
                "examples/mcp/policies",
                "--schema",
                "examples/mcp/schema",
                "--entities",
                "examples/mcp/entities.json",
                "--keyring",
                s(&keyring),
                "--db",
                &db,
                "--listen",
                "127.0.0.1:0",
            ]
            .into_iter()
            .chain(extra.iter().map(String::as_str))
            .collect::<Vec<_>>(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
        let url = match listening_url(&mut child) {
            Ok(url) => url,
            Err(line) => {
                let _ = child.kill();
                panic!(
                    "serve printed {line:?}; stderr:\n{}",
                    std::fs::read_to_string(dir.path("serve.log")).unwrap_or_default()
                );
            }
        };
        Self { child, url, dir }
    }

    /// A gateway configuration: `example` (a file of `examples/mcp`) pointed at this server,
    /// with `approval_wait` set. Returns its path.
    pub fn config(&self, example: &str, approval_wait: &str) -> PathBuf {
        let text = std::fs::read_to_string(repo().join("examples/mcp").join(example)).unwrap();
        assert!(text.contains("http://127.0.0.1:7878") && text.contains("approval_wait: 45s"));
        let mut text = text.replace("http://127.0.0.1:7878", &self.url).replace(
            "approval_wait: 45s",
            &format!("approval_wait: {approval_wait}"),
        );
        if self.dir.path("gateway.token").exists() {
            text.push_str(&format!(
                "token_file: {}\n",
                s(&self.dir.path("gateway.token"))
            ));
        }
        self.dir.write(&format!("{approval_wait}-{example}"), &text)
    }

    /// `GET path` (loopback: no token).
    pub fn get(&self, path: &str) -> Value {
        let text = self.get_text(path);
        serde_json::from_str(&text).unwrap()
    }

    /// `GET path` as text (with the approver-and-auditor token when the server has tokens).
    pub fn get_text(&self, path: &str) -> String {
        let mut request = reqwest::blocking::Client::new().get(format!("{}{path}", self.url));
        if let Some(token) = self.staff_token() {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.text().unwrap()
    }

    fn staff_token(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path("staff.token")).ok()
    }

    /// The approval requests in `state`.
    pub fn approvals(&self, state: &str) -> Vec<Value> {
        let list = self.get(&format!("/v1/approvals?state={state}"));
        list["approvals"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for a pending approval request whose call has `arguments`, and returns it.
    pub fn pending_for(&self, arguments: &Value) -> Value {
        let start = Instant::now();
        loop {
            if let Some(found) = self
                .approvals("pending")
                .into_iter()
                .find(|a| &a["call"]["arguments"] == arguments)
            {
                return found;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no pending approval for {arguments}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `tollgate approvals approve|reject ID` as `who`, signed with their key.
    pub fn sign(&self, verb: &str, id: &str, who: &str) -> Output {
        let approver = format!("Human::\"{who}\"");
        let key = self.dir.path(&format!("{who}.key"));
        let out = command_in(
            self.dir.root(),
            &[
                "approvals",
                "--server",
                &self.url,
                verb,
                id,
                "--approver",
                &approver,
                "--key",
                s(&key),
                "--evidence",
                "checked in the mcp_gateway test",
                "--yes",
            ],
        )
        .env("TOLLGATE_TOKEN", self.staff_token().unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{verb} {id}: {}",
            text(&out.stderr)
        );
        out
    }

    /// Stops the server (SIGKILL: the gateway must cope with it vanishing).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The official Python MCP client, connected to `tollgate mcp --config CONFIG -- SERVER…`.
pub struct PyClient {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    done: HashMap<String, Value>,
    progress: HashMap<String, Vec<Value>>,
    next: u64,
}

impl PyClient {
    pub fn start(deps: &Deps, config: &Path, server: &[String], log: &Path) -> Self {
        let mut args = vec![
            "mcp".to_string(),
            "--config".into(),
            s(config).to_string(),
            "--".into(),
        ];
        args.extend(server.iter().cloned());
        let spec = json!({"command": env!("CARGO_BIN_EXE_tollgate"), "args": args});
        let script = repo().join("cli/tests/mcp/client.py");
        let mut child = Command::new(&deps.python)
            .arg(&script)
            .arg(spec.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = read_lines(child.stdout.take().unwrap());
        let client = Self {
            child,
            stdin,
            lines,
            done: HashMap::new(),
            progress: HashMap::new(),
            next: 0,
        };
        match client.lines.recv_timeout(Duration::from_secs(60)) {
            Ok(v) if v["ready"] == json!(true) => client,
            other => panic!(
                "the Python client did not start: {other:?}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
        }
    }

    fn send(&mut self, mut op: Value) -> String {
        self.next += 1;
        let tag = format!("t{}", self.next);
        op["tag"] = json!(tag);
        writeln!(self.stdin, "{op}").unwrap();
        self.stdin.flush().unwrap();
        tag
    }

    /// Starts a `tools/call`; `timeout` seconds before the SDK gives up and cancels it.
    pub fn call(&mut self, tool: &str, arguments: Value, timeout: u64) -> String {
        self.send(json!({"op": "call", "tool": tool, "arguments": arguments, "timeout": timeout, "progress": true}))
    }

    /// Lists the tools' names.
    pub fn list(&mut self) -> Vec<String> {
        let tag = self.send(json!({"op": "list"}));
        let done = self.wait(&tag, 60);
        serde_json::from_value(done["tools"].clone()).unwrap()
    }

    /// `resources/read`: `{"result": …}` or `{"error": …}`.
    pub fn read(&mut self, uri: &str) -> Value {
        let tag = self.send(json!({"op": "read", "uri": uri}));
        self.wait(&tag, 60)
    }

    /// Waits for the end of `tag`: `{"result": …}` or `{"error": …}`.
    pub fn wait(&mut self, tag: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(done) = self.done.remove(tag) {
                return done;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer for {tag} within {secs}s: {e}"));
            let Some(t) = line["tag"].as_str().map(String::from) else {
                continue;
            };
            if line.get("progress").is_some() {
                self.progress.entry(t).or_default().push(line);
            } else {
                self.done.insert(t, line);
            }
        }
    }

    /// The progress notifications `tag` received so far.
    pub fn progress(&self, tag: &str) -> Vec<Value> {
        self.progress.get(tag).cloned().unwrap_or_default()
    }

    /// Calls and waits: the tool result.
    pub fn call_result(&mut self, tool: &str, arguments: Value, secs: u64) -> Value {
        let tag = self.call(tool, arguments, secs);
        let done = self.wait(&tag, secs + 30);
        assert!(done.get("result").is_some(), "{tool}: {done}");
        done["result"].clone()
    }
}

impl Drop for PyClient {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{{\"op\": \"close\"}}");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Each line `stdout` prints, as JSON (a line that is not JSON as `{"unparsed": line}`), on a
/// channel fed by a thread of its own.
fn read_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<Value> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let value = serde_json::from_str::<Value>(&line)
                .unwrap_or_else(|e| json!({"unparsed": line, "why": e.to_string()}));
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    lines
}

/// The text of a tool result's first content item.
pub fn result_text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A raw line-level JSON-RPC client of `tollgate mcp` (for frames no SDK would send).
pub struct RawClient {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
}

impl RawClient {
    pub fn start(config: &Path, server: &[String], log: &Path) -> Self {
        let mut args = vec!["mcp", "--config", s(config), "--"];
        args.extend(server.iter().map(String::as_str));
        let mut child = command_in(&repo(), &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = read_lines(child.stdout.take().unwrap());
        let mut client = Self {
            child,
            stdin: Some(stdin),
            lines,
            seen: Vec::new(),
        };
        client.line(
            &json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"}}})
            .to_string(),
        );
        let init = client.answer(&json!("init"), 60);
        assert!(init.get("result").is_some(), "{init}");
        client.line(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#);
        client
    }

    /// Writes one line as it is.
    pub fn line(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next message matching `pick`, within `secs` (others are kept in `seen`).
    pub fn next(&mut self, secs: u64, pick: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(i) = self.seen.iter().position(&pick) {
            return Some(self.seen.remove(i));
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if pick(&line) {
                return Some(line);
            }
            self.seen.push(line);
        }
    }

    /// The response to `id`.
    pub fn answer(&mut self, id: &Value, secs: u64) -> Value {
        let id = id.clone();
        self.next(secs, |m| m.get("method").is_none() && m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {id} within {secs}s; seen {:?}", self.seen))
    }

    /// Closes stdin and waits for the gateway to exit: its exit code.
    pub fn close(mut self) -> Option<i32> {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
