"""Hooks that put ``tollgate serve``'s tiers in front of agent frameworks' tool calls.

- :mod:`tollgate.integrations.openai_agents`: the OpenAI Agents SDK (``needs_approval``).
- :mod:`tollgate.integrations.langgraph`: LangChain tools in LangGraph (``interrupt``).

Both build on :class:`~tollgate.integrations.gate.ToolGate`, which turns a tool call into a Cedar
request bound to the call's exact arguments, and runs a tool only after ``serve`` allowed it and
the approval was consumed, exactly once.
"""

from .gate import Gated, ToolGate, ToolRefused

__all__ = ["Gated", "ToolGate", "ToolRefused"]
