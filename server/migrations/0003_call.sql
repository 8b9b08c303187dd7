-- The tool call a gateway shows approvers: `{"server", "tool", "arguments"}` as canonical JSON,
-- whose SHA-256 is the request's `context.call_digest`. NULL when the gateway sent none.
ALTER TABLE approval_requests ADD COLUMN tool_call TEXT;
