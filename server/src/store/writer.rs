//! Every write goes through one task per server, which commits the writes of concurrent
//! requests together (group commit): one transaction, one sync to disk, then every caller is
//! answered. Durability is not weakened — nothing is acknowledged before its commit — but the
//! cost of the sync is shared by everything waiting for it.
//!
//! Each transaction first locks the audit chain's head row, which serialises writers across
//! PostgreSQL replicas: the chain stays one chain, and the consume of an approval request (a
//! conditional UPDATE on the revision it checked) happens exactly once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};
use tokio::sync::{mpsc, oneshot};
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord};
use tollgate_engine::audit::{AuditEntry, Prelinked};
use tollgate_engine::{Sha256Digest, Timestamp};

use super::read::{
    APPROVAL_COLUMN_COUNT, APPROVAL_COLUMNS, ApprovalRow, StoredRecord, approval_in,
};
use super::{Backend, StoreError};
use crate::approvals::{Assessed, State, assess};
use crate::metrics::inc;
use crate::shared::Shared;
use crate::state::{Loaded, millis, now};

/// The most writes one transaction commits.
const MAX_BATCH: usize = 1024;
/// Audit rows per INSERT statement (3 parameters each, far below both databases' limits).
const ROWS_PER_INSERT: usize = 256;
/// The records one approval request keeps whether or not they count.
pub const MAX_RECORDS: usize = 64;
/// Beyond [`MAX_RECORDS`], records that count are still stored, up to this many in all.
pub const MAX_COUNTED_RECORDS: usize = 128;

/// A new approval request, as a decide opens it.
#[derive(Debug, Clone)]
pub struct NewApproval {
    /// Its id, used if a new row is inserted.
    pub id: String,
    /// The call key.
    pub call_key: String,
    /// The opening gateway.
    pub gateway: String,
    /// The request (canonical JSON), its hash and the gateway's added entities.
    pub request: String,
    /// The request hash.
    pub request_hash: String,
    /// Entities added for this request (JSON array).
    pub extra_entities: String,
    /// Tier and decision at opening.
    pub tier: String,
    /// The decision JSON.
    pub decision: String,
    /// The AI's recommendation (JSON).
    pub recommendation: Option<String>,
    /// The tool call (canonical JSON) the request's `call_digest` binds, if the gateway sent it.
    pub call: Option<String>,
}

/// One write.
#[derive(Debug)]
pub enum Op {
    /// A decision that opens nothing (auto or deny): its audit record.
    Decision {
        /// The audit record, prepared for chaining.
        event: Prelinked,
    },
    /// A single or dual decision: find the open approval request for the call or open one;
    /// with `consume`, also consume it when it is allowed (AuthZEN).
    Open {
        /// The request to open if none is open.
        new: NewApproval,
        /// The decision's audit record, prepared for chaining; the approval is added to it.
        event: Prelinked,
        /// Consume in the same transaction when allowed.
        consume: bool,
    },
    /// A signed record posted by an approver.
    Record {
        /// The approval request.
        id: String,
        /// The record as posted.
        record: ApprovalRecord,
        /// The approver token's name.
        by: String,
    },
    /// The opening gateway takes the allowed request, once.
    Consume {
        /// The approval request.
        id: String,
        /// The caller's token name.
        gateway: String,
    },
    /// The opening gateway reports what happened when the action ran.
    Outcome {
        /// The approval request.
        id: String,
        /// The caller's token name.
        gateway: String,
        /// What it reports.
        outcome: Value,
    },
}

/// Why a write was refused (not a database failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such approval request.
    NotFound,
    /// Another gateway opened it.
    NotYours,
    /// Not in a state that allows this (e.g. consuming a pending request).
    Conflict(String),
}

/// What a write did.
#[derive(Debug)]
pub enum Done {
    /// The audit record is committed.
    Logged,
    /// The approval request for the call (opened now or earlier).
    Opened {
        /// The row.
        row: ApprovalRow,
        /// Its state now.
        state: State,
        /// Whether it was consumed in this transaction (AuthZEN `true`).
        consumed: bool,
    },
    /// A record is stored; whether it counts and the request's view after it.
    Recorded {
        /// Counted?
        counted: bool,
        /// Why or why not.
        why: String,
        /// The row and its records after the post.
        row: ApprovalRow,
        /// All records.
        records: Vec<StoredRecord>,
        /// The assessment after the post.
        assessed: Box<Assessed>,
    },
    /// Consumed: the approved request, for the gateway to run.
    Consumed {
        /// The row (its `request` is the approved request).
        row: ApprovalRow,
    },
    /// The outcome is stored.
    OutcomeStored,
    /// Refused.
    Refused(Refusal),
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Done, Arc<StoreError>>>,
}

/// The handle requests write through.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

/// A write that did not commit.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(pub Arc<StoreError>);

impl Writer {
    /// Starts the writer task.
    pub fn start(shared: Arc<Shared>) -> Writer {
        let (queue, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(shared, rx));
        Writer { queue }
    }

    /// Queues `op` and waits for its commit.
    pub async fn write(&self, op: Op) -> Result<Done, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { op, reply })
            .await
            .map_err(|_| WriteError(Arc::new(StoreError::Closed)))?;
        answer
            .await
            .map_err(|_| WriteError(Arc::new(StoreError::Closed)))?
            .map_err(WriteError)
    }
}

/// What one batch changed, for notifications after its commit.
#[derive(Default)]
struct Effects {
    /// Audit records, and the entries each gains in the writer.
    events: Vec<(Prelinked, Map<String, Value>)>,
    opened: u64,
    records: u64,
    consumed: u64,
    changed: BTreeSet<String>,
    webhooks: Vec<(&'static str, Value)>,
}

async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>) {
    let mut head: Option<Head> = None;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let ops: Vec<&Op> = jobs.iter().map(|j| &j.op).collect();
        match commit(&shared, &ops, &mut head).await {
            Ok((results, effects)) => {
                let m = &shared.metrics;
                inc(&m.commits);
                m.approvals_opened
                    .fetch_add(effects.opened, Ordering::Relaxed);
                m.records_posted
                    .fetch_add(effects.records, Ordering::Relaxed);
                m.consumed.fetch_add(effects.consumed, Ordering::Relaxed);
                for id in &effects.changed {
                    shared.changed(id);
                }
                if let Some(hook) = &shared.webhook {
                    let time = now().map(|t| t.to_rfc3339()).unwrap_or_default();
                    for (kind, data) in effects.webhooks {
                        hook.send(kind, &time, data);
                    }
                }
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(e) => {
                tracing::error!("write transaction failed: {e}");
                let e = Arc::new(e);
                for job in jobs {
                    let _ = job.reply.send(Err(Arc::clone(&e)));
                }
            }
        }
    }
}

/// The chain's record count and newest hash.
type Head = (i64, Option<Sha256Digest>);

/// One transaction for a batch of writes.
async fn commit(
    shared: &Shared,
    ops: &[&Op],
    head: &mut Option<Head>,
) -> Result<(Vec<Done>, Effects), StoreError> {
    let store = &shared.store;
    let loaded = shared.loaded();
    let at = now().map_err(StoreError::Corrupt)?;
    let mut tx = store.pool().begin().await?;
    // The chain's head. With SQLite this writer is the only one, so the head it committed last
    // is the head (read again after any failure). With PostgreSQL it is read in the statement
    // that locks the head row, which serialises writers across replicas.
    let (mut count, mut prev) = match (*head, store.backend()) {
        (Some(cached), Backend::Sqlite) => cached,
        _ => {
            let row = sqlx::query(
                "UPDATE audit_head SET count = count WHERE id = 1 RETURNING count, hash",
            )
            .fetch_one(&mut *tx)
            .await?;
            let count: i64 = row.try_get(0)?;
            let hash: Option<String> = row.try_get(1)?;
            let prev = match hash {
                None => None,
                Some(h) => Some(
                    h.parse()
                        .map_err(|_| StoreError::Corrupt("audit head hash".into()))?,
                ),
            };
            (count, prev)
        }
    };
    // Until this commit succeeds, the cached head is not to be trusted.
    *head = None;

    let mut effects = Effects::default();
    let mut results = Vec::with_capacity(ops.len());
    let ctx = Ctx {
        loaded: &loaded,
        at,
        backend: store.backend(),
        ttl_ms: i64::try_from(shared.pending_ttl.as_millis()).unwrap_or(i64::MAX),
    };
    let mut open = prefetch_open(&mut tx, ops).await?;
    for op in ops {
        results.push(apply(&mut tx, &ctx, op, &mut open, &mut effects).await?);
    }

    // Chain in order: each record's hash covers the one before it.
    let key = shared.audit_key.as_ref();
    let mut rows: Vec<(i64, String, String)> = Vec::with_capacity(effects.events.len());
    for (event, extra) in std::mem::take(&mut effects.events) {
        let (line, hash) = event
            .seal(prev, &extra, key)
            .map_err(|e| StoreError::Corrupt(format!("audit record: {e}")))?;
        count += 1;
        rows.push((count, hash.to_string(), line));
        prev = Some(hash);
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from("INSERT INTO audit_log (seq, hash, line) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3));
        }
        let mut query = sqlx::query(&sql);
        for (seq, hash, line) in chunk {
            query = query.bind(*seq).bind(hash.as_str()).bind(line.as_str());
        }
        query.execute(&mut *tx).await?;
    }
    if !rows.is_empty() {
        sqlx::query("UPDATE audit_head SET count = $1, hash = $2 WHERE id = 1")
            .bind(count)
            .bind(prev.map(|p| p.to_string()))
            .execute(&mut *tx)
            .await?;
    }
    if store.backend() == Backend::Postgres {
        for id in &effects.changed {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::notify::CHANNEL)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    *head = Some((count, prev));
    shared.metrics.audit_records.fetch_add(
        u64::try_from(rows.len()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    Ok((results, effects))
}

/// The open approval request (and its records) of each call an `Open` in the batch names,
/// read in two statements rather than two per decision. Entries follow the batch's own writes:
/// a request opened, closed or touched by a record or consume is updated or dropped (a dropped
/// key is read again).
type OpenCache = HashMap<String, Option<(ApprovalRow, Vec<StoredRecord>)>>;

async fn prefetch_open(conn: &mut AnyConnection, ops: &[&Op]) -> Result<OpenCache, StoreError> {
    let keys: BTreeSet<&str> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Open { new, .. } => Some(new.call_key.as_str()),
            _ => None,
        })
        .collect();
    let mut cache: OpenCache = keys.iter().map(|k| ((*k).to_string(), None)).collect();
    let keys: Vec<&str> = keys.into_iter().collect();
    for chunk in keys.chunks(ROWS_PER_INSERT) {
        // One statement: each open request with its records (none: one row of NULLs).
        let columns = APPROVAL_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, a.open_key, r.line, r.received_ms FROM approval_requests a \
             LEFT JOIN approval_records r ON r.request_id = a.id \
             WHERE a.open_key IN ({}) ORDER BY a.id, r.seq",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(*key);
        }
        let mut current: Option<(String, ApprovalRow, Vec<StoredRecord>)> = None;
        for row in query.fetch_all(&mut *conn).await? {
            let id: String = row.try_get(0)?;
            if current.as_ref().is_none_or(|(_, r, _)| r.id != id) {
                if let Some((key, done, records)) = current.take() {
                    cache.insert(key, Some((done, records)));
                }
                let open_key: String = row.try_get(APPROVAL_COLUMN_COUNT)?;
                current = Some((open_key, ApprovalRow::from_row(&row)?, Vec::new()));
            }
            let line: Option<String> = row.try_get(APPROVAL_COLUMN_COUNT + 1)?;
            let received: Option<i64> = row.try_get(APPROVAL_COLUMN_COUNT + 2)?;
            if let (Some((_, _, records)), Some(line), Some(received_ms)) =
                (current.as_mut(), line, received)
            {
                records.push(StoredRecord { line, received_ms });
            }
        }
        if let Some((key, done, records)) = current.take() {
            cache.insert(key, Some((done, records)));
        }
    }
    Ok(cache)
}

/// Drops the cached entry of approval request `id` (a record or consume changed it).
fn forget(cache: &mut OpenCache, id: &str) {
    cache.retain(|_, entry| entry.as_ref().is_none_or(|(row, _)| row.id != id));
}

/// `$from, $from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Ctx<'a> {
    loaded: &'a Loaded,
    at: Timestamp,
    backend: Backend,
    ttl_ms: i64,
}

impl Effects {
    /// Adds an audit record built in the writer.
    fn record(&mut self, event: Value) -> Result<(), StoreError> {
        let event =
            Prelinked::new(event).map_err(|e| StoreError::Corrupt(format!("audit record: {e}")))?;
        self.events.push((event, Map::new()));
        Ok(())
    }

    /// Adds a prepared record with the approval it concerns.
    fn decision(&mut self, event: &Prelinked, approval: Value) {
        let mut extra = Map::new();
        extra.insert("approval".into(), approval);
        self.events.push((event.clone(), extra));
    }
}

fn time(at: Timestamp) -> Value {
    Value::String(at.to_rfc3339())
}

fn with(mut event: Value, fields: Value) -> Value {
    if let (Some(obj), Value::Object(extra)) = (event.as_object_mut(), fields) {
        obj.extend(extra);
    }
    event
}

/// The webhook's data: ids, tier and state; no context values.
fn hook_data(row: &ApprovalRow, state: State, tier: &str) -> Value {
    let request = tollgate_engine::json::parse(&row.request).unwrap_or(Value::Null);
    json!({
        "approval_id": row.id,
        "state": state,
        "tier": tier,
        "request_hash": row.request_hash,
        "principal": request.get("principal"),
        "action": request.get("action"),
        "resource": request.get("resource"),
    })
}

async fn apply(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    op: &Op,
    open_cache: &mut OpenCache,
    effects: &mut Effects,
) -> Result<Done, StoreError> {
    // A record, consume or outcome changes its request: later opens in the batch read it again.
    match op {
        Op::Record { id, .. } | Op::Consume { id, .. } | Op::Outcome { id, .. } => {
            forget(open_cache, id)
        }
        Op::Decision { .. } | Op::Open { .. } => {}
    }
    match op {
        Op::Decision { event } => {
            effects.events.push((event.clone(), Map::new()));
            Ok(Done::Logged)
        }
        Op::Open {
            new,
            event,
            consume,
        } => open(conn, ctx, new, event, *consume, open_cache, effects).await,
        Op::Record { id, record, by } => post_record(conn, ctx, id, record, by, effects).await,
        Op::Consume { id, gateway } => {
            let Some((row, records)) =
                approval_in(conn, id, ctx.backend == Backend::Postgres).await?
            else {
                return Ok(Done::Refused(Refusal::NotFound));
            };
            if row.gateway != *gateway {
                return Ok(Done::Refused(Refusal::NotYours));
            }
            let assessed = assess(ctx.loaded, &row, &records, ctx.at);
            consume(conn, ctx, row, &assessed, effects).await
        }
        Op::Outcome {
            id,
            gateway,
            outcome,
        } => {
            let Some((row, _)) = approval_in(conn, id, false).await? else {
                return Ok(Done::Refused(Refusal::NotFound));
            };
            if row.gateway != *gateway {
                return Ok(Done::Refused(Refusal::NotYours));
            }
            if row.consumed_ms.is_none() {
                return Ok(Done::Refused(Refusal::Conflict(
                    "the approval request was not consumed: there is no outcome to report".into(),
                )));
            }
            let event = json!({
                "time": time(ctx.at),
                "kind": "outcome",
                "approval_id": id,
                "request_hash": row.request_hash,
                "gateway": gateway,
                "outcome": outcome,
            });
            let Ok(event) = Prelinked::new(event) else {
                return Ok(Done::Refused(Refusal::Conflict(
                    "the outcome cannot go into the audit chain (a fractional number?)".into(),
                )));
            };
            let done = sqlx::query(
                "UPDATE approval_requests SET outcome = $1 WHERE id = $2 AND outcome IS NULL",
            )
            .bind(outcome.to_string())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(Done::Refused(Refusal::Conflict(
                    "an outcome was already reported".into(),
                )));
            }
            effects.events.push((event, Map::new()));
            effects.changed.insert(id.clone());
            Ok(Done::OutcomeStored)
        }
    }
}

async fn open(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    new: &NewApproval,
    event: &Prelinked,
    consume_now: bool,
    cache: &mut OpenCache,
    effects: &mut Effects,
) -> Result<Done, StoreError> {
    let select = format!("SELECT {APPROVAL_COLUMNS} FROM approval_requests WHERE open_key = $1");
    // Twice at most: a second pass only follows an insert another replica won.
    for _ in 0..2 {
        let existing = match cache.remove(&new.call_key) {
            Some(cached) => cached,
            None => match sqlx::query(&select)
                .bind(new.call_key.as_str())
                .fetch_optional(&mut *conn)
                .await?
            {
                Some(found) => {
                    let row = ApprovalRow::from_row(&found)?;
                    let records = super::read::records_in(conn, &row.id).await?;
                    Some((row, records))
                }
                None => None,
            },
        };
        if let Some((row, records)) = existing {
            let assessed = assess(ctx.loaded, &row, &records, ctx.at);
            if !assessed.state.is_closed() {
                effects.decision(
                    event,
                    json!({"id": row.id, "state": assessed.state, "opened": false}),
                );
                if consume_now && assessed.state == State::Allowed {
                    return match consume(conn, ctx, row, &assessed, effects).await? {
                        Done::Consumed { row } => Ok(Done::Opened {
                            row,
                            state: State::Consumed,
                            consumed: true,
                        }),
                        other => Ok(other),
                    };
                }
                cache.insert(new.call_key.clone(), Some((row.clone(), records)));
                return Ok(Done::Opened {
                    state: assessed.state,
                    row,
                    consumed: false,
                });
            }
            sqlx::query("UPDATE approval_requests SET open_key = NULL WHERE id = $1")
                .bind(row.id.as_str())
                .execute(&mut *conn)
                .await?;
        }
        // This very request (same hash) already ran: say so rather than ask people again.
        if let Some(done) = consumed_with_hash(conn, &new.request_hash).await? {
            effects.decision(
                event,
                json!({"id": done.id, "state": State::Consumed, "opened": false}),
            );
            return Ok(Done::Opened {
                row: done,
                state: State::Consumed,
                consumed: false,
            });
        }
        let created_ms = millis(ctx.at);
        let expires_ms = created_ms.saturating_add(ctx.ttl_ms);
        let inserted = sqlx::query(
            "INSERT INTO approval_requests (id, open_key, call_key, gateway, request, request_hash, \
             extra_entities, tier, decision, recommendation, created_ms, expires_ms, revision, \
             tool_call) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13) \
             ON CONFLICT (open_key) DO NOTHING",
        )
        .bind(new.id.as_str())
        .bind(new.call_key.as_str())
        .bind(new.call_key.as_str())
        .bind(new.gateway.as_str())
        .bind(new.request.as_str())
        .bind(new.request_hash.as_str())
        .bind(new.extra_entities.as_str())
        .bind(new.tier.as_str())
        .bind(new.decision.as_str())
        .bind(new.recommendation.clone())
        .bind(created_ms)
        .bind(expires_ms)
        .bind(new.call.clone())
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            let row = ApprovalRow {
                id: new.id.clone(),
                gateway: new.gateway.clone(),
                request: new.request.clone(),
                request_hash: new.request_hash.clone(),
                extra_entities: new.extra_entities.clone(),
                tier: new.tier.clone(),
                decision: new.decision.clone(),
                recommendation: new.recommendation.clone(),
                created_ms,
                expires_ms,
                revision: 0,
                consumed_ms: None,
                outcome: None,
                call: new.call.clone(),
            };
            effects.decision(
                event,
                json!({"id": row.id, "state": State::Pending, "opened": true}),
            );
            effects.changed.insert(row.id.clone());
            effects.opened += 1;
            cache.insert(new.call_key.clone(), Some((row.clone(), Vec::new())));
            effects
                .webhooks
                .push(("pending", hook_data(&row, State::Pending, &new.tier)));
            return Ok(Done::Opened {
                row,
                state: State::Pending,
                consumed: false,
            });
        }
    }
    Err(StoreError::Corrupt(
        "approval requests: the open request for a call could not be read or opened".into(),
    ))
}

async fn post_record(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    id: &str,
    record: &ApprovalRecord,
    by: &str,
    effects: &mut Effects,
) -> Result<Done, StoreError> {
    let bumped = sqlx::query("UPDATE approval_requests SET revision = revision + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if bumped.rows_affected() != 1 {
        return Ok(Done::Refused(Refusal::NotFound));
    }
    let seq_row = sqlx::query(
        "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM approval_records WHERE request_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let stored: i64 = seq_row.try_get(0)?;
    let last: i64 = seq_row.try_get(1)?;
    let line = record.to_json_line();
    let stored = usize::try_from(stored).unwrap_or(usize::MAX);
    if stored >= MAX_RECORDS {
        // Full of records: only one that counts gets in (up to a hard ceiling), so junk posted
        // by any approver token cannot crowd out a reject or the approvals still needed.
        let counts = stored < MAX_COUNTED_RECORDS && {
            let Some((row, mut records)) = approval_in(conn, id, false).await? else {
                return Ok(Done::Refused(Refusal::NotFound));
            };
            records.push(StoredRecord {
                line: line.clone(),
                received_ms: millis(ctx.at),
            });
            let assessed = assess(ctx.loaded, &row, &records, ctx.at);
            assessed.records.last().is_some_and(Option::is_some)
                && assessed
                    .verification
                    .as_ref()
                    .and_then(|v| v.records.last())
                    .is_some_and(|v| v.counted())
        };
        if !counts {
            return Ok(Done::Refused(Refusal::Conflict(format!(
                "the approval request already holds {stored} records; beyond {MAX_RECORDS} only a record that counts is stored"
            ))));
        }
    }
    sqlx::query(
        "INSERT INTO approval_records (request_id, seq, line, received_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(last + 1)
    .bind(line.as_str())
    .bind(millis(ctx.at))
    .execute(&mut *conn)
    .await?;
    let Some((row, records)) = approval_in(conn, id, false).await? else {
        return Ok(Done::Refused(Refusal::NotFound));
    };
    let assessed = assess(ctx.loaded, &row, &records, ctx.at);
    // The verdict on the record just stored: the last one that parsed.
    let verdict = assessed
        .verification
        .as_ref()
        .and_then(|v| v.records.last());
    let counted = verdict.is_some_and(|v| v.counted());
    let why = verdict
        .map(|v| v.why())
        .or_else(|| assessed.problem.clone())
        .unwrap_or_else(|| "the request could not be checked".into());
    let record_json = tollgate_engine::json::parse(&line).unwrap_or(Value::Null);
    effects.record(json!({
        "time": time(ctx.at),
        "kind": "record",
        "approval_id": id,
        "request_hash": row.request_hash,
        "posted_by": by,
        "record": record_json,
        "counted": counted,
        "why": why,
        "state": assessed.state,
    }))?;
    effects.changed.insert(id.to_string());
    effects.records += 1;
    effects.webhooks.push((
        "changed",
        hook_data(&row, assessed.state, assessed.tier.as_str()),
    ));
    if record.decision == ApprovalDecision::Reject && counted {
        tracing::info!(approval = id, "a counted reject denies the request");
    }
    Ok(Done::Recorded {
        counted,
        why,
        row,
        records,
        assessed: Box::new(assessed),
    })
}

/// The approval request that consumed `request_hash`, if any.
async fn consumed_with_hash(
    conn: &mut AnyConnection,
    request_hash: &str,
) -> Result<Option<ApprovalRow>, StoreError> {
    let sql = format!(
        "SELECT {APPROVAL_COLUMNS} FROM approval_requests WHERE request_hash = $1 AND consumed_ms IS NOT NULL LIMIT 1"
    );
    match sqlx::query(&sql)
        .bind(request_hash)
        .fetch_optional(&mut *conn)
        .await?
    {
        Some(row) => Ok(Some(ApprovalRow::from_row(&row)?)),
        None => Ok(None),
    }
}

async fn consume(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    row: ApprovalRow,
    assessed: &Assessed,
    effects: &mut Effects,
) -> Result<Done, StoreError> {
    let (State::Allowed, Some(verification), Some(request)) =
        (assessed.state, &assessed.verification, &assessed.request)
    else {
        return Ok(Done::Refused(Refusal::Conflict(format!(
            "the approval request is {}, not allowed",
            assessed.state.as_str()
        ))));
    };
    // Single use across calls: the same request (hash) opened under another call — other added
    // facts, or a repeat after a consume — is never run a second time on the same signatures.
    if let Some(earlier) = consumed_with_hash(conn, &row.request_hash).await?
        && earlier.id != row.id
    {
        return Ok(Done::Refused(Refusal::Conflict(format!(
            "request {} was already approved and consumed ({}): approvals are single use; decide again with a new request_id",
            row.request_hash, earlier.id
        ))));
    }
    let at_ms = millis(ctx.at);
    let done = sqlx::query(
        "UPDATE approval_requests SET consumed_ms = $1, open_key = NULL \
         WHERE id = $2 AND consumed_ms IS NULL AND revision = $3",
    )
    .bind(at_ms)
    .bind(row.id.as_str())
    .bind(row.revision)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(Done::Refused(Refusal::Conflict(
            "the approval request was consumed or changed meanwhile".into(),
        )));
    }
    let recommendation = row
        .recommendation
        .as_deref()
        .and_then(|r| tollgate_engine::json::parse(r).ok());
    let entry = AuditEntry {
        time: ctx.at,
        request,
        recommendation,
        decision: &verification.decision,
        verification: Some(verification),
    };
    effects.record(with(
        entry.to_record(None, None).into_json(),
        json!({"approval_id": row.id, "gateway": row.gateway, "consumed": true}),
    ))?;
    effects.changed.insert(row.id.clone());
    effects.consumed += 1;
    effects.webhooks.push((
        "changed",
        hook_data(&row, State::Consumed, assessed.tier.as_str()),
    ));
    let mut row = row;
    row.consumed_ms = Some(at_ms);
    Ok(Done::Consumed { row })
}
