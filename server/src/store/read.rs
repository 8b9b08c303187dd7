//! Reads, straight from the pool: approval requests, their records, the audit chain.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};

/// One approval request as stored. Its state is not stored: it is recomputed from the records
/// on every read ([`crate::approvals::assess`]).
#[derive(Debug, Clone)]
pub struct ApprovalRow {
    /// `apr_` and 32 hex digits.
    pub id: String,
    /// The token name that opened it; only it may consume it.
    pub gateway: String,
    /// The request as the gateway sent it (canonical JSON).
    pub request: String,
    /// Its hash: what approvers sign.
    pub request_hash: String,
    /// Entities the gateway added for this request (JSON array).
    pub extra_entities: String,
    /// The tier when it was opened.
    pub tier: String,
    /// The decision when it was opened (JSON).
    pub decision: String,
    /// The AI's recommendation (JSON), if given.
    pub recommendation: Option<String>,
    /// When it was opened (ms since the epoch).
    pub created_ms: i64,
    /// When it expires unless consumed.
    pub expires_ms: i64,
    /// Bumped by every record: a consume only succeeds on the revision it checked.
    pub revision: i64,
    /// When it was consumed.
    pub consumed_ms: Option<i64>,
    /// What the gateway reported after running the action (JSON).
    pub outcome: Option<String>,
    /// The tool call the request's `call_digest` binds (canonical JSON), if the gateway sent it.
    pub call: Option<String>,
}

/// The columns of [`ApprovalRow`], in order, for SELECTs.
pub const APPROVAL_COLUMNS: &str = "id, gateway, request, request_hash, extra_entities, \
    tier, decision, recommendation, created_ms, expires_ms, revision, consumed_ms, outcome, \
    tool_call";

/// How many columns [`APPROVAL_COLUMNS`] names.
pub const APPROVAL_COLUMN_COUNT: usize = 14;

impl ApprovalRow {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(ApprovalRow {
            id: row.try_get(0)?,
            gateway: row.try_get(1)?,
            request: row.try_get(2)?,
            request_hash: row.try_get(3)?,
            extra_entities: row.try_get(4)?,
            tier: row.try_get(5)?,
            decision: row.try_get(6)?,
            recommendation: row.try_get(7)?,
            created_ms: row.try_get(8)?,
            expires_ms: row.try_get(9)?,
            revision: row.try_get(10)?,
            consumed_ms: row.try_get(11)?,
            outcome: row.try_get(12)?,
            call: row.try_get(13)?,
        })
    }
}

/// A signed record as posted.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The JSON line.
    pub line: String,
    /// When the server received it (ms since the epoch).
    pub received_ms: i64,
}

/// Which approval requests a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Not consumed and not past their expiry (pending, allowed or denied: computed after).
    Open,
    /// Consumed.
    Consumed,
    /// Not consumed and past their expiry.
    Expired,
}

/// The most rows one listing returns.
pub const LIST_LIMIT: i64 = 500;

impl Store {
    /// One approval request and its records.
    pub async fn approval(
        &self,
        id: &str,
    ) -> Result<Option<(ApprovalRow, Vec<StoredRecord>)>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        approval_in(&mut conn, id, false).await
    }

    /// Approval requests for the inbox, oldest first, each with its records: at most
    /// [`LIST_LIMIT`] of them, those after `after` (the `(created_ms, id)` of the last one a
    /// previous page returned).
    pub async fn list(
        &self,
        listing: Listing,
        now_ms: i64,
        after: Option<&(i64, String)>,
    ) -> Result<Vec<(ApprovalRow, Vec<StoredRecord>)>, StoreError> {
        let filter = match listing {
            Listing::Open => "consumed_ms IS NULL AND expires_ms > $1",
            Listing::Consumed => "consumed_ms IS NOT NULL AND $1 = $1",
            Listing::Expired => "consumed_ms IS NULL AND expires_ms <= $1",
        };
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM approval_requests WHERE {filter} \
             AND (created_ms > $2 OR (created_ms = $2 AND id > $3)) \
             ORDER BY created_ms, id LIMIT {LIST_LIMIT}"
        );
        let (after_ms, after_id) = match after {
            Some((ms, id)) => (*ms, id.as_str()),
            None => (i64::MIN, ""),
        };
        let mut conn = self.pool().acquire().await?;
        let rows = sqlx::query(&sql)
            .bind(now_ms)
            .bind(after_ms)
            .bind(after_id)
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let row = ApprovalRow::from_row(row)?;
            let records = records_in(&mut conn, &row.id).await?;
            out.push((row, records));
        }
        Ok(out)
    }

    /// The audit records after the one with hash `after` (all when `None`), oldest first;
    /// `None` when `after` is not in the chain.
    pub async fn audit_after(
        &self,
        after: Option<&str>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let from = match after {
            None => 0,
            Some(hash) => {
                let row = sqlx::query("SELECT seq FROM audit_log WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(self.pool())
                    .await?;
                match row {
                    Some(row) => row.try_get::<i64, _>(0)?,
                    None => return Ok(None),
                }
            }
        };
        let rows = sqlx::query("SELECT line FROM audit_log WHERE seq > $1 ORDER BY seq")
            .bind(from)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The chain's record count and newest hash.
    pub async fn audit_head(&self) -> Result<(i64, Option<String>), StoreError> {
        let row = sqlx::query("SELECT count, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
}

/// An approval request and its records on `conn` (inside a transaction when called by the
/// writer; `lock` takes PostgreSQL's row lock).
pub(crate) async fn approval_in(
    conn: &mut AnyConnection,
    id: &str,
    lock: bool,
) -> Result<Option<(ApprovalRow, Vec<StoredRecord>)>, StoreError> {
    let sql = format!(
        "SELECT {APPROVAL_COLUMNS} FROM approval_requests WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let Some(row) = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let row = ApprovalRow::from_row(&row)?;
    let records = records_in(conn, id).await?;
    Ok(Some((row, records)))
}

/// The records of one approval request, in the order received.
pub(crate) async fn records_in(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Vec<StoredRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT line, received_ms FROM approval_records WHERE request_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredRecord {
                line: r.try_get(0)?,
                received_ms: r.try_get(1)?,
            })
        })
        .collect()
}
