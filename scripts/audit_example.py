#!/usr/bin/env python3
"""Writes examples/audit/serve-export.jsonl: a `tollgate serve` audit export (GET /v1/audit)
of three days of approvals, shaped to show what `tollgate audit stats` flags. The chain is real
(`tollgate audit verify` passes); signatures on approval records are placeholders (stats key
records by them, and do not check them).

The story, 2026-06-01 to 2026-06-03 (the numbers the tests expect are worked out by hand in
cli/tests/audit_stats.rs, not taken from this script):
- alice approves all 22 token-scope requests, each 5 s after it opens; 12 of them on day 1,
  opened 10 s apart, so 6 approvals fall in one minute;
- bob handles 10 deploy requests: approves 6 after 2 to 30 minutes, rejects 4;
- carol and dave approve 4 dual-control production requests; for 3 the second approval
  comes 30 s after the first;
- 14 auto and 2 deny decisions; one deploy request decided twice (a retry); two consumes and
  one outcome report.

    python3 scripts/audit_example.py > examples/audit/serve-export.jsonl
"""

import hashlib
import json
from datetime import datetime, timedelta, timezone


def canonical(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v[k]) for k in keys) + "}"


def sha(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


DAY1 = datetime(2026, 6, 1, tzinfo=timezone.utc)
POLICY_SET = sha("example pack")
events = []  # (time, seq, record without prev)
seq = 0


def add(t, record):
    global seq
    seq += 1
    events.append((t, seq, dict(record, time=ts(t))))


POLICIES = {
    "token": ("gate-token-scope", "single", "Adding a token scope expands the agent's privileges"),
    "deploy": ("gate-deploy", "single", "Deploys change what runs"),
    "prod": ("gate-production", "dual", "Production changes need dual control"),
}
ACTIONS = {"token": "add_token_scope", "deploy": "deploy", "prod": "change_config"}


def request(rid, action):
    return {
        "principal": {"type": "Agent", "id": "ops-bot"},
        "action": {"type": "Action", "id": action},
        "resource": {"type": "Resource", "id": rid},
        "context": {"request_id": rid},
    }


def decision(t, rid, kind, approval=None, opened=True):
    if kind in POLICIES:
        pid, tier, reason = POLICIES[kind]
        action = ACTIONS[kind]
        determining = [{"id": pid, "effect": "permit", "tier": tier, "reason": reason,
                        "source": "pack.cedar:1", "controls": []}]
    elif kind == "auto":
        tier, action = "auto", "read_logs"
        determining = [{"id": "read-auto", "effect": "permit", "tier": "auto",
                        "reason": "Reading changes nothing", "source": "read.cedar:1", "controls": []}]
    else:
        tier, action = "deny", "delete_audit_log"
        determining = [{"id": "never-delete-audit", "effect": "forbid", "tier": "deny",
                        "reason": "The audit trail is never deleted", "source": "deny.cedar:1", "controls": []}]
    required = {"auto": 0, "single": 1, "dual": 2, "deny": None}[tier]
    rh = sha(rid)
    rec = {"kind": "decision", "request": request(rid, action), "request_hash": rh,
           "recommendation": None,
           "decision": {"tier": tier, "approvals_required": required, "determining": determining,
                        "errors": [], "request": rh, "policy_set": POLICY_SET},
           "approvals": [], "outcome": None, "call": None, "gateway": "gateway"}
    if approval:
        rec["approval"] = {"id": approval, "state": "pending", "opened": opened}
    add(t, rec)
    return rh


def record(t, approval, rh, approver, verdict):
    add(t, {"kind": "record", "approval_id": approval, "request_hash": rh, "posted_by": "staff",
            "record": {"request": rh, "approver": f'Human::"{approver}"', "decision": verdict,
                       "issued_at": ts(t - timedelta(seconds=1)),
                       "expires_at": ts(t + timedelta(hours=1)),
                       "signature": "ed25519:placeholder-" + hashlib.sha256(f"{approval}{approver}".encode()).hexdigest()[:32]},
            "counted": True, "why": "counted", "state": "allowed" if verdict == "approve" else "denied"})


def apr(n):
    return "apr_" + hashlib.md5(str(n).encode()).hexdigest()


n = 0
# alice: 12 on day 1, 10 s apart from 09:00; 10 on day 2, 10 min apart from 10:00; +5 s each.
for i in range(22):
    n += 1
    t = DAY1 + (timedelta(hours=9, seconds=10 * i) if i < 12 else timedelta(days=1, hours=10, minutes=10 * (i - 12)))
    rh = decision(t, f"tok-{i}", "token", apr(n))
    record(t + timedelta(seconds=5), apr(n), rh, "alice", "approve")
# bob: 10 deploy requests on day 2 from 14:00, hourly; approves 6 after 2, 5, 10, 15, 20, 30 min,
# rejects 4 after 3 min.
delays = [120, 300, 600, 900, 1200, 1800]
for i in range(10):
    n += 1
    t = DAY1 + timedelta(days=1, hours=14 + i // 2, minutes=30 * (i % 2))
    rh = decision(t, f"dep-{i}", "deploy", apr(n))
    if i == 0:  # the gateway retried this one: a new request, the same approval request
        decision(t + timedelta(seconds=20), "dep-0-retry", "deploy", apr(n), opened=False)
    if i < 6:
        record(t + timedelta(seconds=delays[i]), apr(n), rh, "bob", "approve")
    else:
        record(t + timedelta(seconds=180), apr(n), rh, "bob", "reject")
# carol then dave on 4 dual requests on day 3 from 09:00, hourly: +100 s and +130 s (the 4th: +400 s).
for i in range(4):
    n += 1
    t = DAY1 + timedelta(days=2, hours=9 + i)
    rh = decision(t, f"prod-{i}", "prod", apr(n))
    record(t + timedelta(seconds=100), apr(n), rh, "carol", "approve")
    record(t + timedelta(seconds=130 if i < 3 else 400), apr(n), rh, "dave", "approve")
# 14 auto and 2 deny decisions, spread over the three days.
for i in range(14):
    decision(DAY1 + timedelta(days=i % 3, hours=8, minutes=i), f"auto-{i}", "auto")
for i in range(2):
    decision(DAY1 + timedelta(days=2, hours=16, minutes=i), f"deny-{i}", "deny")

events.sort(key=lambda e: (e[0], e[1]))
# Two consumes (verification records repeating the approvals) and one outcome, at the end.
lines = [e[2] for e in events]
end = DAY1 + timedelta(days=2, hours=20)
for k, rid in enumerate(["tok-0", "prod-0"]):
    found = next(r for r in lines if r["kind"] == "decision" and r["request"]["context"]["request_id"] == rid)
    aid = found["approval"]["id"]
    approvals = [{"approver": r["record"]["approver"], "decision": r["record"]["decision"], "counted": True,
                  "why": "counted", "evidence": None}
                 for r in lines if r["kind"] == "record" and r["approval_id"] == aid]
    v = dict(found, kind="verification", approvals=approvals, outcome="allowed", consumed=True, approval_id=aid,
             time=ts(end + timedelta(minutes=k)))
    v.pop("approval", None)
    v.pop("call", None)
    lines.append(v)
lines.append({"time": ts(end + timedelta(minutes=5)), "kind": "outcome", "approval_id": lines[-2]["approval_id"],
              "request_hash": lines[-2]["request_hash"], "gateway": "gateway", "outcome": {"status": "ran"}})

prev = None
for rec in lines:
    rec = dict(rec, prev=prev)
    print(json.dumps(rec, separators=(",", ":"), ensure_ascii=False))
    prev = sha(canonical(rec))
