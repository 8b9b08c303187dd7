"""The OpenAI Agents SDK and LangGraph examples end to end against a real `tollgate serve`:
a single-tier tool call waits, is approved with `tollgate approvals approve`, and runs once;
a denied call never runs; a resume without an approval runs nothing."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any, Dict

import pytest

from conftest import REPO, Serving


def example(name: str) -> ModuleType:
    path = REPO / "examples" / "python" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"tollgate_example_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def in_thread(fn: Any, *args: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    out["thread"] = t
    return out


# -- OpenAI Agents SDK ------------------------------------------------------------------------


@pytest.fixture()
def agents_example() -> ModuleType:
    pytest.importorskip(
        "agents", reason="the OpenAI Agents SDK is not installed (pip install openai-agents)"
    )
    ex = example("openai_agents_approval")
    ex.WRITES.clear()
    ex.FILES.clear()
    return ex


def test_openai_agents_single_tier_waits_is_approved_and_runs_once(
    serving: Serving, agents_example: ModuleType
) -> None:
    path = "/srv/workspace/notes.txt"
    run = in_thread(
        lambda: asyncio.run(agents_example.main(serving.url, Serving.GATEWAY, path, wait=60))
    )
    pending = serving.pending()
    assert len(pending) == 1, pending
    assert pending[0]["tier"] == "single"
    assert pending[0]["call"]["arguments"] == {"path": path, "content": "hello"}
    assert agents_example.WRITES == []  # waiting: nothing ran yet
    approved = serving.approve(pending[0]["id"], "alice")
    assert approved.returncode == 0, approved.stderr
    run["thread"].join(90)
    assert "error" not in run, run.get("error")
    assert agents_example.WRITES == [path]
    assert run["result"] == f"wrote 5 bytes to {path}"
    assert [e["outcome"]["status"] for e in serving.outcomes(pending[0]["id"])] == ["ran"]


def test_openai_agents_deny_is_refused_with_the_reasons(
    serving: Serving, agents_example: ModuleType
) -> None:
    path = "/srv/protected/keys.txt"
    said = asyncio.run(agents_example.main(serving.url, Serving.GATEWAY, path, wait=5))
    assert agents_example.WRITES == []
    assert "denied by policy" in said and "protected" in said, said


def test_openai_agents_auto_runs_at_once_and_a_reject_refuses(
    serving: Serving, agents_example: ModuleType
) -> None:
    from agents import set_tracing_disabled

    set_tracing_disabled(True)
    agents_example.FILES["/srv/workspace/a.txt"] = "content of a"
    model = agents_example.ScriptedModel(
        [{"tool": "read_text_file", "arguments": {"path": "/srv/workspace/a.txt"}}]
    )
    said = asyncio.run(agents_example.main(serving.url, Serving.GATEWAY, model=model, wait=5))
    assert said == "content of a"
    assert serving.pending(timeout=0) == []

    run = in_thread(
        lambda: asyncio.run(
            agents_example.main(serving.url, Serving.GATEWAY, "/srv/workspace/r.txt", wait=60)
        )
    )
    pending = serving.pending()
    rejected = serving.reject(pending[0]["id"], "bob")
    assert rejected.returncode == 0, rejected.stderr
    run["thread"].join(90)
    assert "error" not in run, run.get("error")
    assert agents_example.WRITES == []
    assert "denied" in run["result"], run["result"]


def test_a_tool_approved_outside_tollgate_does_not_run(
    serving: Serving, agents_example: ModuleType
) -> None:
    """RunState.approve by hand, without serve's approval: the gated tool still refuses."""
    from agents import Runner, set_tracing_disabled

    set_tracing_disabled(True)
    model = agents_example.ScriptedModel(
        [{"tool": "write_file", "arguments": {"path": "/srv/workspace/x.txt", "content": "sneaky"}}]
    )
    agent, _approvals = agents_example.build(serving.url, Serving.GATEWAY, model)

    async def bypass() -> Any:
        result = await Runner.run(agent, "write")
        assert result.interruptions
        state = result.to_state()
        for item in result.interruptions:
            state.approve(item)
        return await Runner.run(agent, state)

    result = asyncio.run(bypass())
    assert agents_example.WRITES == []
    assert "not allowed by tollgate serve" in str(result.final_output)


# -- LangGraph --------------------------------------------------------------------------------


@pytest.fixture()
def graph_example() -> ModuleType:
    pytest.importorskip("langgraph", reason="LangGraph is not installed (pip install langgraph)")
    ex = example("langgraph_approval")
    ex.WRITES.clear()
    return ex


def test_langgraph_single_tier_interrupts_is_approved_and_runs_once(
    serving: Serving, graph_example: ModuleType
) -> None:
    from langgraph.types import Command

    path = "/srv/workspace/graph.txt"
    app = graph_example.build(serving.url, Serving.GATEWAY, path)
    config = {"configurable": {"thread_id": "t1"}}
    result = app.invoke({"messages": [("user", "write")]}, config)
    payload = graph_example.interrupted(result)
    assert payload is not None, result
    assert payload["tier"] == "single" and payload["approvals_required"] == 1
    assert payload["approval_id"].startswith("apr_")
    assert payload["reasons"] and payload["arguments"] == {"path": path, "content": "hello"}
    assert graph_example.WRITES == []

    # Resuming without an approval runs nothing: the resume value is not trusted.
    early = app.invoke(Command(resume="approved, honest"), {"configurable": {"thread_id": "t1"}})
    assert graph_example.WRITES == []
    refusal = [m for m in early["messages"] if getattr(m, "type", "") == "tool"]
    assert refusal and "pending" in str(refusal[-1].content), refusal

    # A fresh thread: the same call finds the same approval request; approve, resume, run once.
    config2 = {"configurable": {"thread_id": "t2"}}
    again = graph_example.build(serving.url, Serving.GATEWAY, path)
    result = again.invoke({"messages": [("user", "write")]}, config2)
    payload2 = graph_example.interrupted(result)
    assert payload2 is not None
    assert payload2["approval_id"] == payload["approval_id"]
    approved = serving.approve(payload2["approval_id"], "alice")
    assert approved.returncode == 0, approved.stderr
    done = again.invoke(Command(resume="ok"), config2)
    assert graph_example.WRITES == [path]
    tool_messages = [m for m in done["messages"] if getattr(m, "type", "") == "tool"]
    assert tool_messages[-1].content == f"wrote 5 bytes to {path}"
    assert done["messages"][-1].content == "done"
    assert [e["outcome"]["status"] for e in serving.outcomes(payload2["approval_id"])] == ["ran"]


def test_langgraph_example_main_runs_end_to_end(
    serving: Serving, graph_example: ModuleType
) -> None:
    path = "/srv/workspace/main.txt"
    run = in_thread(graph_example.main, serving.url, Serving.GATEWAY, path)
    pending = serving.pending()
    assert len(pending) == 1
    assert serving.approve(pending[0]["id"], "alice").returncode == 0
    run["thread"].join(90)
    assert "error" not in run, run.get("error")
    assert graph_example.WRITES == [path]
    assert run["result"] == f"wrote 5 bytes to {path}"


def test_langgraph_deny_never_interrupts_and_never_runs(
    serving: Serving, graph_example: ModuleType
) -> None:
    app = graph_example.build(serving.url, Serving.GATEWAY, "/srv/protected/x")
    result = app.invoke({"messages": [("user", "write")]}, {"configurable": {"thread_id": "d"}})
    assert graph_example.interrupted(result) is None
    assert graph_example.WRITES == []
    tool = [m for m in result["messages"] if getattr(m, "type", "") == "tool"]
    assert "denied by policy" in str(tool[-1].content)
