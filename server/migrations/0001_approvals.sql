-- tollgate serve: approval requests, their records, and the audit chain.
-- One schema for SQLite and PostgreSQL: only types and statements both accept.

-- One row per approval request. `open_key` is the call key while the request is open (pending,
-- or allowed and not yet consumed) and NULL once it is closed, so that at most one request per
-- call key is open, across every replica.
CREATE TABLE approval_requests (
    id              TEXT PRIMARY KEY,
    open_key        TEXT UNIQUE,
    call_key        TEXT NOT NULL,
    gateway         TEXT NOT NULL,
    request         TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    extra_entities  TEXT NOT NULL,
    tier            TEXT NOT NULL,
    decision        TEXT NOT NULL,
    recommendation  TEXT,
    created_ms      BIGINT NOT NULL,
    expires_ms      BIGINT NOT NULL,
    revision        BIGINT NOT NULL,
    consumed_ms     BIGINT,
    outcome         TEXT
);
CREATE INDEX approval_requests_by_time ON approval_requests (created_ms);
CREATE INDEX approval_requests_by_call ON approval_requests (call_key);

-- Signed records as posted, whether or not they count. Append-only: nothing updates or deletes
-- them.
CREATE TABLE approval_records (
    request_id   TEXT NOT NULL REFERENCES approval_requests (id),
    seq          BIGINT NOT NULL,
    line         TEXT NOT NULL,
    received_ms  BIGINT NOT NULL,
    PRIMARY KEY (request_id, seq)
);

-- The audit chain: `seq` counts from 1, `hash` chains the next record, `line` is the record as
-- exported.
CREATE TABLE audit_log (
    seq   BIGINT PRIMARY KEY,
    hash  TEXT NOT NULL,
    line  TEXT NOT NULL
);

-- The chain's head, one row: every write transaction locks it first, which serialises appends
-- across replicas.
CREATE TABLE audit_head (
    id     INTEGER PRIMARY KEY,
    count  BIGINT NOT NULL,
    hash   TEXT
);
INSERT INTO audit_head (id, count, hash) VALUES (1, 0, NULL);
