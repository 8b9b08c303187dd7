"""tollgate in front of the OpenAI Agents SDK's function tools.

>>> approvals = TollgateApprovals(ToolGate(Client(url, token), principal='Agent::"coder"'))
>>> write = approvals.gate_tool(function_tool(write_file))
>>> agent = Agent(name="coder", tools=[write])
>>> result = await approvals.run(agent, "update the config")

- ``auto``: the tool runs at once (``needs_approval`` answers no).
- ``single``/``dual``: the run stops on an interruption; :meth:`TollgateApprovals.run` waits for
  people through ``serve``, consumes the approval and resumes the run, which runs the tool once.
- ``deny`` (and a reject, an expiry, a timeout): the call is rejected with the reasons, which the
  model reads as the tool's answer.

The SDK approves a call on an interruption with ``RunState.approve``; the gated tool does not
rely on that alone. It runs only with a ticket the gate issued for that call id after ``serve``
allowed it (or decided ``auto``), for the same arguments: a call approved any other way is refused.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Union

from agents import Agent, FunctionTool, RunContextWrapper, Runner

from .gate import Gated, ToolGate, ToolRefused

__all__ = ["TollgateApprovals"]


@dataclass(frozen=True)
class _Ticket:
    gated: Gated


class TollgateApprovals:
    """Gates function tools through ``serve``; runs agents, resolving interruptions."""

    def __init__(self, gate: ToolGate) -> None:
        self.gate = gate
        # Each interrupted call id: serve's decision, or why it could not be asked.
        self._decided: Dict[str, Union[Gated, ToolRefused]] = {}
        self._tickets: Dict[str, _Ticket] = {}

    def gate_tool(self, tool: FunctionTool) -> FunctionTool:
        """Makes ``tool`` ask ``serve`` before each call, and refuse without its say-so."""
        name = tool.name
        original = tool.on_invoke_tool

        async def needs_approval(
            _ctx: RunContextWrapper[Any], arguments: Dict[str, Any], call_id: str
        ) -> bool:
            try:
                gated = await asyncio.to_thread(self.gate.decide, name, arguments)
            except ToolRefused as refused:
                # Not decided: interrupt, and `run` rejects it with the reason.
                self._decided[call_id] = refused
                return True
            self._decided[call_id] = gated
            if gated.tier.value == "auto":
                self._tickets[call_id] = _Ticket(gated)
                return False
            return True

        async def invoke(ctx: Any, input_json: str) -> Any:
            call_id = getattr(ctx, "tool_call_id", None)
            ticket = self._tickets.pop(call_id, None) if call_id else None
            try:
                arguments = json.loads(input_json or "{}")
            except ValueError:
                arguments = None
            if ticket is None or arguments != dict(ticket.gated.arguments):
                return f"tollgate refused `{name}`: this call was not allowed by tollgate serve"
            try:
                output = await original(ctx, input_json)
            except Exception as e:
                await asyncio.to_thread(
                    self.gate.report, ticket.gated, {"status": "error", "error": str(e)}
                )
                raise
            await asyncio.to_thread(
                self.gate.report, ticket.gated, {"status": "ran", "output": str(output)[:4096]}
            )
            return output

        tool.needs_approval = needs_approval
        tool.on_invoke_tool = invoke
        return tool

    async def run(
        self, agent: Agent[Any], input: Any, *, max_rounds: int = 16, **kwargs: Any
    ) -> Any:
        """``Runner.run`` that settles every interruption of a gated tool through ``serve``:
        allowed and consumed → approved and resumed; anything else → rejected with the reasons."""
        result = await Runner.run(agent, input, **kwargs)
        for _ in range(max_rounds):
            interruptions = list(getattr(result, "interruptions", None) or [])
            if not interruptions:
                return result
            state = result.to_state()
            for item in interruptions:
                call_id = _call_id(item)
                gated = self._decided.pop(call_id, None) if call_id else None
                if gated is None or call_id is None:
                    state.reject(
                        item, rejection_message="tollgate refused: this call was never decided"
                    )
                    continue
                if isinstance(gated, ToolRefused):
                    state.reject(item, rejection_message=str(gated))
                    continue
                try:
                    await asyncio.to_thread(self.gate.await_allowed, gated)
                except ToolRefused as refused:
                    state.reject(item, rejection_message=str(refused))
                    continue
                self._tickets[call_id] = _Ticket(gated)
                state.approve(item)
            result = await Runner.run(agent, state, **kwargs)
        raise RuntimeError(f"still interrupted after {max_rounds} rounds of approvals")


def _call_id(item: Any) -> Optional[str]:
    raw = getattr(item, "raw_item", None)
    if isinstance(raw, Mapping):
        value = raw.get("call_id")
    else:
        value = getattr(raw, "call_id", None)
    return str(value) if value else None
