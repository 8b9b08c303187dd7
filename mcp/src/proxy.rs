//! The relay: client frames in, server frames out, and every `tools/call` through the gate.
//!
//! Frames are relayed as the text they arrived as, except calls the gateway holds or rewrites.
//! Each call runs on its own task, so one call waiting for approvers never stalls the session;
//! the tables of calls held and forwarded sit behind one mutex, never held across an await.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tollgate_engine::{EntityRef, Tier};

use crate::config::{Config, Resources, ToolMapping};
use crate::frame::{self, Frame, INVALID_PARAMS, INVALID_REQUEST, NOT_ALLOWED, PARSE_ERROR};
use crate::mapping::prepare;
use crate::pins::Pins;
use crate::serve::{ApprovalStatus, Serve, ServeError};

/// The largest client frame (the engine's file-bytes limit, 16 MiB by default).
const MAX_CLIENT_FRAME: usize = 16 * 1024 * 1024;
/// The largest server frame relayed (tool results may carry images).
const MAX_SERVER_FRAME: usize = 64 * 1024 * 1024;
/// The longest one long-poll of serve lasts; progress is sent between polls.
const POLL: Duration = Duration::from_secs(10);
/// Calls held at once (deciding or waiting for approvers); more are refused, not queued.
const MAX_HELD: usize = 256;
/// How long the server may take to exit once the client has gone.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the gateway could not run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The MCP server could not be started.
    #[error("cannot start the MCP server `{command}`: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The client of serve could not be set up (token file, URL).
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Reading or writing a stream failed.
    #[error("{0}")]
    Io(String),
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The client closed its input; the server then exited with this code (`None`: killed).
    ClientClosed(Option<i32>),
    /// The server exited first, with this code.
    ServerExited(Option<i32>),
}

/// Where the gateway's log lines go (stderr for the CLI). The library prints nothing itself.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// What kind of request a held call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tool,
    Resource,
}

struct Call {
    id: Value,
    key: String,
    generation: u64,
    kind: Kind,
    name: String,
    arguments: Map<String, Value>,
    progress: Option<Value>,
    frame: Value,
}

enum Verdict {
    Forward {
        arguments: Map<String, Value>,
        approvals: Vec<String>,
    },
    Refuse {
        text: String,
        meta: Value,
    },
    Cancelled,
}

struct Held {
    generation: u64,
    cancel: watch::Sender<bool>,
}

#[derive(Default)]
struct Tables {
    generation: u64,
    held: HashMap<String, Held>,
    forwarded: HashMap<String, Vec<String>>,
    lists: HashSet<String>,
    pins: Pins,
    to_client: Option<mpsc::UnboundedSender<String>>,
    to_server: Option<mpsc::UnboundedSender<String>>,
}

struct Gateway {
    config: Config,
    serve: Serve,
    log: Log,
    tables: Mutex<Tables>,
}

/// Runs one session: starts `command` with `args`, relays `input`/`output` (the client's side)
/// to it and gates every call, until either side ends.
pub async fn run<R, W>(
    config: Config,
    command: OsString,
    args: Vec<OsString>,
    input: R,
    output: W,
    log: Log,
) -> Result<Ended, McpError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let token = match &config.token_file {
        Some(path) => Some(Serve::read_token(path)?),
        None => None,
    };
    let serve = Serve::new(config.server.clone(), token.as_deref())?;
    let mut child = Command::new(&command)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| McpError::Spawn {
            command: command.to_string_lossy().into_owned(),
            source,
        })?;
    let (Some(child_in), Some(child_out)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(McpError::Io("the MCP server's pipes are missing".into()));
    };
    let (to_client, client_rx) = mpsc::unbounded_channel();
    let (to_server, server_rx) = mpsc::unbounded_channel();
    let gateway = Arc::new(Gateway {
        config,
        serve,
        log,
        tables: Mutex::new(Tables {
            to_client: Some(to_client),
            to_server: Some(to_server),
            ..Tables::default()
        }),
    });
    let client_writer = tokio::spawn(write_lines(output, client_rx));
    let server_writer = tokio::spawn(write_lines(child_in, server_rx));
    let mut from_server = tokio::spawn(gateway.clone().relay_server(BufReader::new(child_out)));
    let from_client = gateway.clone().relay_client(BufReader::new(input));

    let server_first = tokio::select! {
        read = from_client => {
            if let Err(e) = read {
                (gateway.log)(&format!("reading the client: {e}"));
            }
            false
        }
        _ = &mut from_server => true,
    };
    // Whoever ended first, nothing held may run any more, and the server gets no more input.
    {
        let mut tables = gateway.lock();
        for (_, held) in tables.held.drain() {
            let _ = held.cancel.send(true);
        }
        tables.to_server = None;
    }
    let _ = server_writer.await;
    let code = if server_first {
        child.wait().await.ok().and_then(|s| s.code())
    } else {
        // The server may still answer what it was sent before it saw the end of its input.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut from_server).await;
        match tokio::time::timeout(SHUTDOWN_GRACE, child.wait()).await {
            Ok(status) => status.ok().and_then(|s| s.code()),
            Err(_) => {
                let _ = child.kill().await;
                None
            }
        }
    };
    from_server.abort();
    gateway.lock().to_client = None;
    let _ = client_writer.await;
    Ok(if server_first {
        Ended::ServerExited(code)
    } else {
        Ended::ClientClosed(code)
    })
}

async fn write_lines<W: AsyncWrite + Unpin>(
    mut out: W,
    mut lines: mpsc::UnboundedReceiver<String>,
) {
    while let Some(line) = lines.recv().await {
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        if out.write_all(&bytes).await.is_err() || out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.shutdown().await;
}

/// Reads one line of at most `max` bytes. `Ok(None)` at the end of input; `Ok(Some(Err(())))`
/// for a line over the limit (skipped to its end).
async fn read_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<Result<(), ()>>> {
    buf.clear();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = (&mut *input).take(limit).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && buf.len() > max {
        loop {
            let chunk = input.fill_buf().await?;
            if chunk.is_empty() {
                break;
            }
            if let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
                input.consume(pos + 1);
                break;
            }
            let len = chunk.len();
            input.consume(len);
        }
        buf.clear();
        return Ok(Some(Err(())));
    }
    Ok(Some(Ok(())))
}

impl Gateway {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic elsewhere cannot leave the tables half-written in a way that weakens a
        // decision: every entry is inserted or removed whole.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn to_client(&self, value: &Value) {
        self.to_client_text(value.to_string());
    }

    fn to_client_text(&self, text: String) {
        if let Some(tx) = &self.lock().to_client {
            let _ = tx.send(text);
        }
    }

    fn to_server_text(&self, text: String) {
        if let Some(tx) = &self.lock().to_server {
            let _ = tx.send(text);
        }
    }

    async fn relay_client<R: AsyncBufRead + Unpin>(
        self: Arc<Self>,
        mut input: R,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        while let Some(line) = read_line(&mut input, &mut buf, MAX_CLIENT_FRAME).await? {
            match line {
                Ok(()) => self.on_client_frame(&buf),
                Err(()) => self.to_client(&frame::error(
                    &Value::Null,
                    INVALID_REQUEST,
                    "the frame is over 16 MiB and was dropped",
                    None,
                )),
            }
        }
        Ok(())
    }

    fn on_client_frame(self: &Arc<Self>, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            self.to_client(&frame::error(
                &Value::Null,
                PARSE_ERROR,
                "the frame is not UTF-8",
                None,
            ));
            return;
        };
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let value = match tollgate_engine::json::parse(text) {
            Ok(v) => v,
            Err(e) => {
                let message = format!("the frame is not JSON the gateway accepts: {}", e.message());
                self.to_client(&frame::error(&Value::Null, PARSE_ERROR, &message, None));
                return;
            }
        };
        let frame = match frame::classify(&value) {
            Ok(f) => f,
            Err(refusal) => {
                self.to_client(&refusal.to_frame());
                return;
            }
        };
        match frame {
            Frame::Request { id, method } if method == "tools/call" => {
                self.start_call(id, value, Kind::Tool)
            }
            Frame::Request { id, method }
                if method == "resources/read"
                    && matches!(self.config.resources, Resources::Decide(_)) =>
            {
                self.start_call(id, value, Kind::Resource)
            }
            Frame::Request { id, method } if method == "tools/list" => {
                self.lock().lists.insert(frame::id_key(&id));
                self.to_server_text(text.to_string());
            }
            Frame::Notification { method } if method == "notifications/cancelled" => {
                if !self.cancel_held(&value) {
                    self.to_server_text(text.to_string());
                }
            }
            // A "notification" that is not one (`tools/call` without an id) would reach a lax
            // server ungated: MCP's notifications all live under `notifications/`.
            Frame::Notification { method } if !method.starts_with("notifications/") => {
                (self.log)(&format!(
                    "dropped a `{method}` notification: only `notifications/…` are relayed"
                ));
            }
            Frame::Request { .. } | Frame::Notification { .. } | Frame::Response { .. } => {
                self.to_server_text(text.to_string())
            }
        }
    }

    /// Cancels a held call; `false` when the id is not one the gateway holds (the cancellation
    /// is then the server's to see).
    fn cancel_held(&self, value: &Value) -> bool {
        let Some(id) = value.pointer("/params/requestId") else {
            return false;
        };
        match self.lock().held.remove(&frame::id_key(id)) {
            Some(held) => {
                let _ = held.cancel.send(true);
                true
            }
            None => false,
        }
    }

    fn start_call(self: &Arc<Self>, id: Value, value: Value, kind: Kind) {
        let params = value.get("params").and_then(Value::as_object);
        let parsed = match (kind, params) {
            (_, None) => Err("`params` must be an object".to_string()),
            (Kind::Tool, Some(params)) => match (params.get("name"), params.get("arguments")) {
                (Some(Value::String(name)), None) => Ok((name.clone(), Map::new())),
                (Some(Value::String(name)), Some(Value::Object(args))) => {
                    Ok((name.clone(), args.clone()))
                }
                (Some(Value::String(_)), Some(_)) => {
                    Err("`params.arguments` must be an object".into())
                }
                _ => Err("`params.name` must be a string".into()),
            },
            (Kind::Resource, Some(params)) => match params.get("uri") {
                Some(Value::String(_)) => {
                    let mut args = params.clone();
                    args.remove("_meta");
                    Ok(("resources/read".to_string(), args))
                }
                _ => Err("`params.uri` must be a string".into()),
            },
        };
        let (name, arguments) = match parsed {
            Ok(p) => p,
            Err(message) => {
                self.to_client(&frame::error(&id, INVALID_PARAMS, &message, None));
                return;
            }
        };
        let progress = value
            .pointer("/params/_meta/progressToken")
            .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
            .cloned();
        let key = frame::id_key(&id);
        let (generation, cancel) = {
            let mut tables = self.lock();
            if tables.held.len() >= MAX_HELD {
                drop(tables);
                self.to_client(&frame::error(
                    &id,
                    INVALID_REQUEST,
                    "too many calls are waiting for a decision; try again later",
                    None,
                ));
                return;
            }
            if tables.held.contains_key(&key) || tables.forwarded.contains_key(&key) {
                drop(tables);
                self.to_client(&frame::error(
                    &id,
                    INVALID_REQUEST,
                    "this id is already in use by a call in flight",
                    None,
                ));
                return;
            }
            tables.generation += 1;
            let generation = tables.generation;
            let (tx, rx) = watch::channel(false);
            tables.held.insert(
                key.clone(),
                Held {
                    generation,
                    cancel: tx,
                },
            );
            (generation, rx)
        };
        let call = Call {
            id,
            key,
            generation,
            kind,
            name,
            arguments,
            progress,
            frame: value,
        };
        tokio::spawn(self.clone().finish_call(call, cancel));
    }

    async fn finish_call(self: Arc<Self>, call: Call, mut cancel: watch::Receiver<bool>) {
        let verdict = self.gate(&call, &mut cancel).await;
        let mut tables = self.lock();
        let ours = tables
            .held
            .get(&call.key)
            .is_some_and(|h| h.generation == call.generation);
        match verdict {
            Verdict::Forward {
                arguments,
                approvals,
            } if ours => {
                tables.held.remove(&call.key);
                let mut frame = call.frame;
                if call.kind == Kind::Tool
                    && let Some(params) = frame.get_mut("params").and_then(Value::as_object_mut)
                    && params.get("arguments").and_then(Value::as_object) != Some(&arguments)
                    && (!arguments.is_empty() || params.contains_key("arguments"))
                {
                    params.insert("arguments".into(), Value::Object(arguments));
                }
                tables.forwarded.insert(call.key, approvals);
                if let Some(tx) = &tables.to_server {
                    let _ = tx.send(frame.to_string());
                }
            }
            Verdict::Forward { approvals, .. } => {
                drop(tables);
                self.report_unrun(approvals, "the client cancelled the call before it ran");
            }
            Verdict::Refuse { text, meta } if ours => {
                tables.held.remove(&call.key);
                let answer = match call.kind {
                    Kind::Tool => frame::result(&call.id, frame::refused_tool_result(&text, meta)),
                    Kind::Resource => frame::error(&call.id, NOT_ALLOWED, &text, Some(meta)),
                };
                if let Some(tx) = &tables.to_client {
                    let _ = tx.send(answer.to_string());
                }
            }
            Verdict::Refuse { .. } | Verdict::Cancelled => {}
        }
    }

    /// Decides one call, waits for its approvals and consumes them. Cancellation is watched
    /// while deciding and waiting; once consuming has begun the call finishes, and
    /// [`Gateway::finish_call`] still refuses to forward a call cancelled meanwhile.
    async fn gate(&self, call: &Call, cancel: &mut watch::Receiver<bool>) -> Verdict {
        let name = &call.name;
        if self.config.pin_tools
            && call.kind == Kind::Tool
            && let Some(why) = self.lock().pins.changed(name).map(String::from)
        {
            return refuse_deny(format!("tollgate denied `{name}`: {why}"), vec![why]);
        }
        let mapping: Option<&ToolMapping> = match (call.kind, &self.config.resources) {
            (Kind::Tool, _) => self.config.tools.get(name),
            (Kind::Resource, Resources::Decide(mapping)) => Some(mapping),
            (Kind::Resource, Resources::Relay) => None,
        };
        let prepared = match prepare(&self.config, name, &call.arguments, mapping) {
            Ok(p) => p,
            Err(e) => {
                return refuse_deny(
                    format!("tollgate denied `{name}`: {e}"),
                    vec![e.to_string()],
                );
            }
        };
        let call_json = prepared.call.to_json();
        let mut decisions = Vec::new();
        for request in &prepared.requests {
            let decided = tokio::select! {
                decided = self.serve.decide(request, &call_json) => decided,
                () = cancelled(cancel) => return Verdict::Cancelled,
            };
            match decided {
                Ok(d) => decisions.push(d),
                Err(e @ ServeError::Refused { status: 400, .. }) => {
                    return refuse_deny(
                        format!("tollgate denied `{name}`: {e}"),
                        vec![e.to_string()],
                    );
                }
                Err(e) => {
                    return refuse(
                        format!("tollgate could not decide `{name}`, so it did not run: {e}"),
                        json!({"tier": null, "state": "undecided", "why": e.to_string()}),
                    );
                }
            }
        }
        let tier = decisions.iter().map(|d| d.tier).max().unwrap_or(Tier::Deny);
        match tier {
            Tier::Auto => {
                return Verdict::Forward {
                    arguments: prepared.call.arguments,
                    approvals: Vec::new(),
                };
            }
            Tier::Deny => {
                let reasons: Vec<String> = decisions
                    .iter()
                    .filter(|d| d.tier == Tier::Deny)
                    .flat_map(|d| d.reasons.clone())
                    .collect();
                let shown = if reasons.is_empty() {
                    "no policy permits it".to_string()
                } else {
                    reasons.join("; ")
                };
                return refuse_deny(format!("tollgate denied `{name}`: {shown}"), reasons);
            }
            Tier::Single | Tier::Dual => {}
        }
        let mut approvals = Vec::new();
        for d in decisions.iter().filter(|d| d.tier != Tier::Auto) {
            match &d.approval {
                Some(a) => approvals.push(a.clone()),
                None => {
                    return refuse(
                        format!(
                            "tollgate could not hold `{name}` for approval: serve opened no approval request"
                        ),
                        json!({"tier": tier.as_str(), "state": "undecided"}),
                    );
                }
            }
        }
        if let Err(verdict) = self.wait(call, tier, &mut approvals, cancel).await {
            return verdict;
        }
        let mut consumed = Vec::new();
        for a in &approvals {
            match self.serve.consume(&a.id).await {
                Ok(()) => consumed.push(a.id.clone()),
                Err(e) => {
                    self.report_unrun(
                        consumed,
                        &format!("approval {} could not be consumed: {e}", a.id),
                    );
                    return refuse(
                        format!(
                            "tollgate could not use approval {} for `{name}`, so it did not run: {e}",
                            a.id
                        ),
                        gate_meta(tier, "unconsumed", &approvals),
                    );
                }
            }
        }
        Verdict::Forward {
            arguments: prepared.call.arguments,
            approvals: consumed,
        }
    }

    /// Waits until every approval is allowed (`Ok`), or returns the verdict that ends the call.
    async fn wait(
        &self,
        call: &Call,
        tier: Tier,
        approvals: &mut [ApprovalStatus],
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(), Verdict> {
        let name = &call.name;
        let deadline = Instant::now() + self.config.approval_wait;
        let mut tick = 0u64;
        loop {
            if let Some(a) = approvals
                .iter()
                .find(|a| a.state != "pending" && a.state != "allowed")
            {
                let text = match a.state.as_str() {
                    "denied" => format!(
                        "tollgate: `{name}` was not approved: approval request {} was rejected or can no longer be approved",
                        a.id
                    ),
                    "expired" => format!(
                        "tollgate: `{name}` was not approved in time: approval request {} expired; call the tool again to ask again",
                        a.id
                    ),
                    "consumed" => format!(
                        "tollgate: approval request {} for `{name}` was already used",
                        a.id
                    ),
                    other => format!(
                        "tollgate: approval request {} for `{name}` is in a state the gateway does not know (`{other}`)",
                        a.id
                    ),
                };
                let state = a.state.clone();
                return Err(refuse(text, gate_meta(tier, &state, approvals)));
            }
            if approvals.iter().all(|a| a.state == "allowed") {
                return Ok(());
            }
            let now = Instant::now();
            let waiting: Vec<String> = approvals
                .iter()
                .filter(|a| a.state == "pending")
                .map(|a| {
                    let missing = a
                        .missing
                        .map(|m| format!(", {m} more approval(s) needed"))
                        .unwrap_or_default();
                    format!(
                        "{} pending{missing}; an approver runs `tollgate approvals approve {}`",
                        a.id, a.id
                    )
                })
                .collect();
            if now >= deadline {
                return Err(refuse(
                    format!(
                        "tollgate: `{name}` needs human approval ({tier}) and is still pending: {}. Call the tool again with the same arguments once it is approved.",
                        waiting.join("; ")
                    ),
                    gate_meta(tier, "pending", approvals),
                ));
            }
            if let Some(token) = &call.progress {
                tick += 1;
                let message = format!("waiting for approval: {}", waiting.join("; "));
                self.to_client(&frame::progress(token, tick, &message));
            }
            let Some(index) = approvals.iter().position(|a| a.state == "pending") else {
                return Ok(());
            };
            let left = deadline.saturating_duration_since(now).min(POLL);
            let wait = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
            let id = approvals
                .get(index)
                .map(|a| a.id.clone())
                .unwrap_or_default();
            let seen = tokio::select! {
                seen = self.serve.approval(&id, wait) => seen,
                () = cancelled(cancel) => return Err(Verdict::Cancelled),
            };
            let others: Vec<(usize, String)> = approvals
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(i, a)| (i, a.id.clone()))
                .collect();
            let mut fresh = vec![(index, seen)];
            for (i, id) in others {
                fresh.push((i, self.serve.approval(&id, Duration::ZERO).await));
            }
            for (i, seen) in fresh {
                match seen {
                    Ok(status) => {
                        if let Some(slot) = approvals.get_mut(i) {
                            *slot = status;
                        }
                    }
                    Err(e) => {
                        return Err(refuse(
                            format!(
                                "tollgate could not check the approval of `{name}`, so it did not run: {e}"
                            ),
                            gate_meta(tier, "unknown", approvals),
                        ));
                    }
                }
            }
        }
    }

    /// Tells serve that approved calls did not run, so the audit trail says why.
    fn report_unrun(&self, approvals: Vec<String>, why: &str) {
        for id in approvals {
            let serve = self.serve.clone();
            let log = self.log.clone();
            let outcome = json!({"forwarded": false, "why": why});
            tokio::spawn(async move {
                if let Err(e) = serve.outcome(&id, outcome).await {
                    log(&format!("reporting the outcome of {id}: {e}"));
                }
            });
        }
    }

    async fn relay_server<R: AsyncBufRead + Unpin>(self: Arc<Self>, mut input: R) {
        let mut buf = Vec::new();
        loop {
            match read_line(&mut input, &mut buf, MAX_SERVER_FRAME).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(()))) => {
                    (self.log)("the MCP server sent a frame over 64 MiB; it was dropped");
                    continue;
                }
                Ok(None) | Err(_) => return,
            }
            let Ok(text) = std::str::from_utf8(&buf) else {
                (self.log)("the MCP server sent a frame that is not UTF-8; it was dropped");
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let parsed: Option<Value> = serde_json::from_str(text).ok();
            let response_id = parsed
                .as_ref()
                .filter(|v| v.get("method").is_none())
                .and_then(|v| v.get("id"))
                .map(frame::id_key);
            if let (Some(key), Some(value)) = (response_id, parsed) {
                let (approvals, list) = {
                    let mut tables = self.lock();
                    (tables.forwarded.remove(&key), tables.lists.remove(&key))
                };
                if let Some(approvals) = approvals {
                    self.report_ran(approvals, &value);
                } else if list {
                    let shown = self.tools_listed(value).await;
                    self.to_client(&shown);
                    continue;
                }
            }
            self.to_client_text(text.to_string());
        }
    }

    fn report_ran(&self, approvals: Vec<String>, response: &Value) {
        let is_error = response.get("error").is_some()
            || response.pointer("/result/isError") == Some(&Value::Bool(true));
        for id in approvals {
            let serve = self.serve.clone();
            let log = self.log.clone();
            let mut outcome = Map::new();
            outcome.insert("forwarded".into(), json!(true));
            outcome.insert("is_error".into(), json!(is_error));
            if let Some(message) = response.pointer("/error/message").and_then(Value::as_str) {
                outcome.insert("error".into(), json!(message));
            }
            let outcome = Value::Object(outcome);
            tokio::spawn(async move {
                if let Err(e) = serve.outcome(&id, outcome).await {
                    log(&format!("reporting the outcome of {id}: {e}"));
                }
            });
        }
    }

    /// A `tools/list` answer: pins recorded, and tools no permit reaches left out when asked.
    async fn tools_listed(&self, mut response: Value) -> Value {
        let Some(tools) = response
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .cloned()
        else {
            return response;
        };
        if self.config.pin_tools {
            let changed = self.lock().pins.observe(&tools);
            for name in changed {
                (self.log)(&format!(
                    "tool `{name}` changed its definition; calls to it are denied"
                ));
            }
        }
        if !self.config.hide_denied {
            return response;
        }
        let mut wanted: Vec<(usize, Vec<String>)> = Vec::new();
        let mut asked: Vec<Value> = Vec::new();
        for (i, tool) in tools.iter().enumerate() {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(actions) = self.actions_of(name) else {
                continue;
            };
            for a in &actions {
                if !asked.iter().any(|x| x.as_str() == Some(a)) {
                    asked.push(json!(a));
                }
            }
            wanted.push((i, actions));
        }
        let reachable: Vec<String> = match self.reach(&asked).await {
            Ok(r) => r,
            Err(e) => {
                (self.log)(&format!("hide_denied: {e}; every tool is listed"));
                return response;
            }
        };
        let hidden: HashSet<usize> = wanted
            .into_iter()
            .filter(|(_, actions)| !actions.iter().any(|a| reachable.contains(a)))
            .map(|(i, _)| i)
            .collect();
        let kept: Vec<Value> = tools
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !hidden.contains(i))
            .map(|(_, t)| t)
            .collect();
        if let Some(slot) = response.pointer_mut("/result/tools") {
            *slot = Value::Array(kept);
        }
        response
    }

    /// The actions a tool's calls are decided as, when they do not depend on its arguments.
    fn actions_of(&self, tool: &str) -> Option<Vec<String>> {
        let entity = |v: Value| {
            EntityRef::from_json(&v, "action")
                .ok()
                .map(|e| e.to_string())
        };
        match self.config.tools.get(tool) {
            None => entity(json!({"type": "Action", "id": tool})).map(|a| vec![a]),
            Some(mapping) => mapping
                .requests
                .iter()
                .map(|r| r.action.fill(&Map::new()).ok().and_then(entity))
                .collect(),
        }
    }

    async fn reach(&self, actions: &[Value]) -> Result<Vec<String>, ServeError> {
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let mut reachable = Vec::new();
        for chunk in actions.chunks(64) {
            for a in self
                .serve
                .reach(&json!(self.config.agent.to_string()), chunk)
                .await?
            {
                if let Some(e) = a
                    .as_str()
                    .and_then(|s| EntityRef::from_json(&json!(s), "action").ok())
                {
                    reachable.push(e.to_string());
                }
            }
        }
        Ok(reachable)
    }
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    // A dropped sender means the call was taken out of the held table: cancelled too.
    let _ = cancel.wait_for(|c| *c).await;
}

fn refuse(text: String, meta: Value) -> Verdict {
    Verdict::Refuse { text, meta }
}

fn refuse_deny(text: String, reasons: Vec<String>) -> Verdict {
    refuse(
        text,
        json!({"tier": "deny", "state": "denied", "reasons": reasons}),
    )
}

fn gate_meta(tier: Tier, state: &str, approvals: &[ApprovalStatus]) -> Value {
    json!({
        "tier": tier.as_str(),
        "state": state,
        "approvals": approvals.iter().map(|a| json!({
            "id": a.id,
            "state": a.state,
            "missing": a.missing,
            "approve": format!("tollgate approvals approve {}", a.id),
        })).collect::<Vec<_>>(),
    })
}
