"""The serve client against a real `tollgate serve`: decide, wait, approve, consume once."""

from __future__ import annotations

import time
from typing import Any, Dict

import pytest

from conftest import Serving
from tollgate import Client, ServeError, Tier
from tollgate.call import call_digest, canonical_json, tool_call


def write_request(path: str, digest: str, request_id: str = "py-1") -> Dict[str, Any]:
    return {
        "principal": 'Agent::"coder"',
        "action": 'Action::"write_file"',
        "resource": {"type": "File", "id": path},
        "context": {
            "server": "files",
            "path": path,
            "call_digest": digest,
            "request_id": request_id,
        },
    }


def test_canonical_json_follows_rfc_8785() -> None:
    assert canonical_json({"b": 1, "a": [True, None, 0.5, 1e21, 1e-7, 100.0, "é\n"]}) == (
        '{"a":[true,null,0.5,1e+21,1e-7,100,"é\\n"],"b":1}'
    )
    # Keys sort by UTF-16 code units: U+1F600 (a surrogate pair, 0xD83D...) before U+FFFD.
    assert canonical_json({"\ufffd": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufffd":1}'
    assert canonical_json({"n": 2**70}) == '{"n":1180591620717411303424}'


def test_serve_accepts_the_python_call_digest(serving: Serving) -> None:
    client = Client(serving.url, Serving.GATEWAY)
    args = {
        "path": "/srv/workspace/a.txt",
        "content": "x = 1.5\n",
        "mode": None,
        "n": 10**20,
        "ratio": 0.1,
        "tags": ["ü", "\U0001f600"],
    }
    digest = call_digest("files", "write_file", args)
    decided = client.decide(
        write_request("/srv/workspace/a.txt", digest), call=tool_call("files", "write_file", args)
    )
    assert decided.decision.tier == Tier.SINGLE
    # A digest for other content is refused: serve recomputed ours and found it equal above.
    with pytest.raises(ServeError) as e:
        client.decide(
            write_request("/srv/workspace/a.txt", digest, "py-2"),
            call=tool_call("files", "write_file", {**args, "content": "other"}),
        )
    assert e.value.status == 400


def test_decide_wait_approve_consume_once_and_report(serving: Serving) -> None:
    client = Client(serving.url, Serving.GATEWAY)
    args = {"path": "/srv/workspace/b.txt", "content": "hello"}
    decided = client.decide(
        write_request("/srv/workspace/b.txt", call_digest("files", "write_file", args)),
        recommendation={"summary": "write b.txt"},
        call=tool_call("files", "write_file", args),
    )
    assert decided.tier == Tier.SINGLE and decided.approval is not None
    approval_id = decided.approval.id
    started = time.monotonic()
    assert client.wait(approval_id, timeout=1).state == "pending"
    assert time.monotonic() - started >= 0.9
    with pytest.raises(ServeError) as e:
        client.consume(approval_id)  # not allowed yet
    assert e.value.status == 409

    approved = serving.approve(approval_id, "alice")
    assert approved.returncode == 0, approved.stderr
    state = client.wait(approval_id, timeout=30)
    assert state.state == "allowed"
    taken = client.consume(approval_id)
    assert taken["request"]["context"]["call_digest"] == call_digest("files", "write_file", args)
    with pytest.raises(ServeError) as e:
        client.consume(approval_id)  # exactly once
    assert e.value.status == 409
    client.report_outcome(approval_id, {"status": "ran"})
    assert [e["outcome"] for e in serving.outcomes(approval_id)] == [{"status": "ran"}]


def test_auto_and_deny_need_no_approval_request(serving: Serving) -> None:
    client = Client(serving.url, Serving.GATEWAY)
    read = {"path": "/srv/workspace/b.txt"}
    auto = client.decide(
        {
            "principal": 'Agent::"coder"',
            "action": 'Action::"read_text_file"',
            "resource": {"type": "File", "id": read["path"]},
            "context": {
                "server": "files",
                "path": read["path"],
                "request_id": "py-r",
                "call_digest": call_digest("files", "read_text_file", read),
            },
        }
    )
    assert auto.tier == Tier.AUTO and auto.approval is None
    args = {"path": "/srv/protected/keys", "content": "x"}
    deny = client.decide(write_request(args["path"], call_digest("files", "write_file", args)))
    assert deny.tier == Tier.DENY and deny.approval is None
    assert deny.decision.reasons


def test_a_wrong_token_is_refused(serving: Serving) -> None:
    args = {"path": "/srv/workspace/c.txt", "content": "x"}
    with pytest.raises(ServeError) as e:
        Client(serving.url, "not-a-token").decide(
            write_request(args["path"], call_digest("files", "write_file", args))
        )
    assert e.value.status == 401


def test_an_unreachable_server_refuses_the_call() -> None:
    from tollgate.integrations.gate import ToolGate, ToolRefused

    gate = ToolGate(Client("http://127.0.0.1:9", timeout=2), principal='Agent::"coder"')
    with pytest.raises(ToolRefused) as e:
        gate.decide("echo", {"message": "hi"})
    assert "could not decide" in str(e.value)
