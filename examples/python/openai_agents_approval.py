"""An OpenAI Agents SDK agent whose file tools are gated by `tollgate serve`.

Reading a file is `auto` and runs at once; writing one in a workspace is `single`: the run stops,
a person approves with `tollgate approvals approve`, and the write runs once; anything under a
`protected` folder is `deny` and the model is told why. The pack is `examples/mcp`:

    tollgate serve --policies examples/mcp/policies --schema examples/mcp/schema \\
        --entities examples/mcp/entities.json --keyring keyring.json --listen 127.0.0.1:8080
    python examples/python/openai_agents_approval.py --server http://127.0.0.1:8080

Without `--openai-model` a scripted model plays the agent (no API key, no network): it asks to
write `/srv/workspace/notes.txt`, then answers with what the tool said.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from agents import (
    Agent,
    Model,
    ModelResponse,
    ModelSettings,
    Usage,
    function_tool,
    set_tracing_disabled,
)
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from tollgate import Client
from tollgate.integrations.gate import ToolGate
from tollgate.integrations.openai_agents import TollgateApprovals

#: What the tools did: the test checks that an approved write ran exactly once.
FILES: Dict[str, str] = {}
WRITES: List[str] = []


@function_tool
def write_file(path: str, content: str) -> str:
    """Write `content` to the file at `path`."""
    WRITES.append(path)
    FILES[path] = content
    return f"wrote {len(content)} bytes to {path}"


@function_tool
def read_text_file(path: str) -> str:
    """Read the file at `path`."""
    return FILES.get(path, "")


def file_request(tool: str, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    """A file tool's call as the Cedar request `examples/mcp`'s schema expects."""
    path = str(arguments.get("path", ""))
    return {
        "principal": 'Agent::"coder"',
        "action": f'Action::"{tool}"',
        "resource": {"type": "File", "id": path},
        "context": {"server": "files", "path": path},
    }


class ScriptedModel(Model):
    """Plays the agent without an LLM: one tool call per script line, then the last tool
    output as the final answer."""

    def __init__(self, calls: List[Dict[str, Any]]) -> None:
        self.calls = list(calls)
        self.turn = 0

    async def get_response(
        self,
        system_instructions,
        input,
        model_settings,
        tools,
        output_schema,
        handoffs,
        tracing,
        **_: Any,
    ) -> ModelResponse:
        self.turn += 1
        if self.calls:
            call = self.calls.pop(0)
            item: Any = ResponseFunctionToolCall(
                type="function_call",
                id=f"fc_{self.turn}",
                call_id=f"call_{self.turn}",
                name=call["tool"],
                arguments=json.dumps(call["arguments"]),
                status="completed",
            )
        else:
            said = [
                i
                for i in (input if isinstance(input, list) else [])
                if isinstance(i, dict) and i.get("type") == "function_call_output"
            ]
            text = str(said[-1]["output"]) if said else "nothing to do"
            item = ResponseOutputMessage(
                id=f"msg_{self.turn}",
                type="message",
                role="assistant",
                status="completed",
                content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
            )
        return ModelResponse(output=[item], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        raise NotImplementedError("the scripted model does not stream")


def build(server: str, token: Optional[str], model: Any, wait: float = 300.0) -> tuple:
    gate = ToolGate(
        Client(server, token),
        principal='Agent::"coder"',
        server="files",
        request_for=file_request,
        wait_timeout=wait,
    )
    approvals = TollgateApprovals(gate)
    agent = Agent(
        name="coder",
        instructions="You edit files in the workspace.",
        model=model,
        model_settings=ModelSettings(),
        tools=[approvals.gate_tool(write_file), approvals.gate_tool(read_text_file)],
    )
    return agent, approvals


async def main(
    server: str,
    token: Optional[str],
    path: str = "/srv/workspace/notes.txt",
    model: Any = None,
    wait: float = 300.0,
) -> str:
    set_tracing_disabled(True)
    model = model or ScriptedModel(
        [{"tool": "write_file", "arguments": {"path": path, "content": "hello"}}]
    )
    agent, approvals = build(server, token, model, wait)
    result = await approvals.run(agent, f"Write hello to {path}")
    return str(result.final_output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server", default=os.environ.get("TOLLGATE_SERVER", "http://127.0.0.1:8080")
    )
    parser.add_argument("--token-file", type=Path)
    parser.add_argument("--path", default="/srv/workspace/notes.txt")
    parser.add_argument("--openai-model", help="a real model name (needs OPENAI_API_KEY)")
    args = parser.parse_args()
    token = (
        args.token_file.read_text().strip() if args.token_file else os.environ.get("TOLLGATE_TOKEN")
    )
    print(asyncio.run(main(args.server, token, args.path, model=args.openai_model)))
