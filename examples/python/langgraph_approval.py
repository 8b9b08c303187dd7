"""A LangGraph agent whose file tool is gated by `tollgate serve`.

A `single`-tier call interrupts the graph with the tier, the reasons and the approval id; once a
person has approved with `tollgate approvals approve`, resuming the graph runs the tool once.
Resuming without an approval runs nothing: the resume value is never trusted. The pack is
`examples/mcp` (see `openai_agents_approval.py` for the `tollgate serve` command).

    python examples/python/langgraph_approval.py --server http://127.0.0.1:8080

A scripted chat model (LangChain's `FakeMessagesListChatModel`) plays the agent: no LLM, no network.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

from tollgate import Client
from tollgate.integrations.gate import ToolGate
from tollgate.integrations.langgraph import gated_tool

WRITES: List[str] = []


@tool
def write_file(path: str, content: str) -> str:
    """Write `content` to the file at `path`."""
    WRITES.append(path)
    return f"wrote {len(content)} bytes to {path}"


def file_request(tool_name: str, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    path = str(arguments.get("path", ""))
    return {
        "principal": 'Agent::"coder"',
        "action": f'Action::"{tool_name}"',
        "resource": {"type": "File", "id": path},
        "context": {"server": "files", "path": path},
    }


def build(server: str, token: Optional[str], path: str, resume_wait: float = 5.0) -> Any:
    gate = ToolGate(
        Client(server, token), principal='Agent::"coder"', server="files", request_for=file_request
    )
    tools = [gated_tool(write_file, gate, resume_wait=resume_wait)]
    model = FakeMessagesListChatModel(
        responses=[
            AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": "write_file",
                        "id": "call-1",
                        "args": {"path": path, "content": "hello"},
                    }
                ],
            ),
            AIMessage(content="done"),
        ]
    )

    def agent(state: MessagesState) -> Dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=InMemorySaver())


def interrupted(result: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The tollgate payload of a graph that stopped for approval, if it did."""
    for item in result.get("__interrupt__", ()):
        value = getattr(item, "value", None)
        if isinstance(value, dict) and value.get("tollgate") == "approval_required":
            return value
    return None


def main(server: str, token: Optional[str], path: str = "/srv/workspace/notes.txt") -> str:
    app = build(server, token, path)
    config = {"configurable": {"thread_id": "example"}}
    result = app.invoke({"messages": [("user", f"Write hello to {path}")]}, config)
    while (payload := interrupted(result)) is not None:
        print(
            f"waiting for {payload['approvals_required']} approval(s) of {payload['approval_id']}: "
            f"{'; '.join(payload['reasons'])}"
        )
        print(
            f"  tollgate approvals approve {payload['approval_id']} --approver 'Human::\"alice\"' --key alice.key"
        )
        state = Client(server, token).wait(payload["approval_id"], timeout=3600)
        result = app.invoke(Command(resume=state.state), config)
    return str(result["messages"][-2].content)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server", default=os.environ.get("TOLLGATE_SERVER", "http://127.0.0.1:8080")
    )
    parser.add_argument("--token-file", type=Path)
    parser.add_argument("--path", default="/srv/workspace/notes.txt")
    args = parser.parse_args()
    token = (
        args.token_file.read_text().strip() if args.token_file else os.environ.get("TOLLGATE_TOKEN")
    )
    print(main(args.server, token, args.path))
