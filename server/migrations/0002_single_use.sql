-- Approvals are single use: one request hash is consumed at most once, whichever approval
-- request (call) it was opened under.
CREATE INDEX approval_requests_by_hash ON approval_requests (request_hash);
CREATE UNIQUE INDEX approval_requests_consumed_once ON approval_requests (request_hash)
    WHERE consumed_ms IS NOT NULL;
