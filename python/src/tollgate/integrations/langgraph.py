"""tollgate in front of LangChain tools run by LangGraph.

>>> gate = ToolGate(Client(url, token), principal='Agent::"coder"')
>>> tools = [gated_tool(write_file, gate)]
>>> graph = builder.compile(checkpointer=InMemorySaver())   # ToolNode(tools) inside

- ``auto``: the tool runs.
- ``single``/``dual``: the tool calls LangGraph's ``interrupt`` with the tier, reasons and
  approval id (:meth:`Gated.interrupt_payload`); the graph stops. Resume it with
  ``Command(resume=...)`` once people have approved in ``serve``: the tool then asks ``serve``
  again and runs only if the approval request is ``allowed`` and it consumed it. **The resume
  value is never trusted:** resuming without an approval runs nothing.
- ``deny`` (and a reject, an expiry, a timeout): the tool answers with the refusal and the
  reasons (a ``ToolException``), which the model reads as the tool's result.
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.types import interrupt

from .gate import ToolGate, ToolRefused

__all__ = ["gated_tool"]


def gated_tool(tool: BaseTool, gate: ToolGate, resume_wait: float = 0.0) -> BaseTool:
    """``tool`` behind ``gate``. After a resume, the tool waits up to ``resume_wait`` seconds
    for ``serve`` to report the approval request allowed (default: it must be already)."""

    def run(**arguments: Any) -> Any:
        try:
            return gate_then_run(arguments)
        except ToolRefused as refused:
            # The model reads the refusal, with the reasons, as the tool's answer.
            raise ToolException(str(refused)) from refused

    def gate_then_run(arguments: Any) -> Any:
        # On resume LangGraph runs the tool again from the top: the same call finds the same
        # open approval request in serve (one is kept per call), so people are not asked twice.
        gated = gate.decide(tool.name, arguments)
        refused = gate.refusal(gated)
        if refused:
            raise refused
        if gated.tier.value == "auto":
            return tool.invoke(arguments)
        interrupt(gated.interrupt_payload())
        gate.await_allowed(gated, timeout=resume_wait)
        try:
            output = tool.invoke(arguments)
        except Exception as e:
            gate.report(gated, {"status": "error", "error": str(e)})
            raise
        gate.report(gated, {"status": "ran", "output": str(output)[:4096]})
        return output

    return StructuredTool.from_function(
        func=run,
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        handle_tool_error=True,
    )
