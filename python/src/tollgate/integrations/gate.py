"""One tool call through ``tollgate serve``: decide, wait for people, consume once.

Framework hooks use this; it holds no framework code. What it guarantees:

- the request sent to ``serve`` carries ``call_digest``, the digest of the tool's exact
  arguments, and the call itself, so approvers see what will run and their signatures bind it;
- a tool runs only for ``auto``, or after ``serve`` reports the approval request ``allowed`` and
  the consume succeeded (``serve`` lets that happen once, across replicas);
- everything else — ``deny``, a reject, an expiry, a wait that ran out, an unreachable server, a
  refused consume — refuses the call (fail closed), with the reasons.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ..call import call_digest, tool_call
from ..client import Approval, Client, ServeDecision
from ..engine import Tier
from ..errors import ServeError

__all__ = ["Gated", "ToolGate", "ToolRefused", "RequestFor"]

#: Maps a tool call (tool name, arguments) to the Cedar request for it, without ``call_digest``
#: and ``request_id`` (the gate adds them).
RequestFor = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


class ToolRefused(Exception):
    """The call may not run: denied by policy, rejected or not approved in time, or ``serve``
    could not be asked. ``reasons`` are the determining policies' ``@reason`` texts."""

    def __init__(
        self,
        tool: str,
        why: str,
        tier: Optional[Tier] = None,
        reasons: Tuple[str, ...] = (),
        approval_id: Optional[str] = None,
    ) -> None:
        self.tool = tool
        self.why = why
        self.tier = tier
        self.reasons = reasons
        self.approval_id = approval_id
        because = f" ({'; '.join(reasons)})" if reasons else ""
        super().__init__(f"tollgate refused `{tool}`: {why}{because}")


@dataclass(frozen=True)
class Gated:
    """A tool call and ``serve``'s decision on it."""

    tool: str
    arguments: Mapping[str, Any]
    digest: str
    request: Mapping[str, Any]
    decided: ServeDecision

    @property
    def tier(self) -> Tier:
        return self.decided.decision.tier

    @property
    def approval_id(self) -> Optional[str]:
        return self.decided.approval.id if self.decided.approval else None

    @property
    def reasons(self) -> Tuple[str, ...]:
        return self.decided.decision.reasons

    def interrupt_payload(self) -> Dict[str, Any]:
        """What a person (or a UI) is shown while the call waits."""
        return {
            "tollgate": "approval_required",
            "tool": self.tool,
            "arguments": dict(self.arguments),
            "tier": self.tier.value,
            "approvals_required": self.decided.decision.approvals_required,
            "approval_id": self.approval_id,
            "reasons": list(self.reasons),
            "determining": list(self.decided.decision.determining_ids),
            "request_hash": self.decided.decision.request_hash,
        }


def default_request_for(principal: str, server: str) -> RequestFor:
    """Each tool as ``Action::"<tool>"`` on ``Tool::"<tool>"`` with ``context.server``: the shape
    ``tollgate mcp`` uses for tools decided on their name."""

    def request_for(tool: str, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        return {
            "principal": principal,
            "action": f'Action::"{tool}"',
            "resource": f'Tool::"{tool}"',
            "context": {"server": server},
        }

    return request_for


@dataclass
class ToolGate:
    """Tool calls of one agent, decided by ``serve`` at ``client``.

    ``principal`` is the agent's Cedar uid (``'Agent::"coder"'``); ``server`` names the tool
    source in the call digest and ``context.server``; ``request_for`` builds each call's request
    (default: :func:`default_request_for`); ``wait_timeout`` bounds how long a call waits for
    people before it is refused."""

    client: Client
    principal: str
    server: str = "python"
    request_for: Optional[RequestFor] = None
    wait_timeout: float = 300.0
    recommendation: Optional[Callable[[str, Mapping[str, Any]], Any]] = None
    _request_for: RequestFor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._request_for = self.request_for or default_request_for(self.principal, self.server)

    def decide(self, tool: str, arguments: Mapping[str, Any]) -> Gated:
        """Asks ``serve`` about the call. Raises :class:`ToolRefused` if it cannot be asked."""
        args = dict(arguments)
        digest = call_digest(self.server, tool, args)
        request = dict(self._request_for(tool, args))
        context = dict(request.get("context") or {})
        context.setdefault("request_id", f"py-{uuid.uuid4().hex}")
        context["call_digest"] = digest
        request["context"] = context
        recommendation = self.recommendation(tool, args) if self.recommendation else None
        try:
            decided = self.client.decide(
                request, recommendation=recommendation, call=tool_call(self.server, tool, args)
            )
        except ServeError as e:
            raise ToolRefused(tool, f"tollgate serve could not decide: {e}") from e
        return Gated(tool, args, digest, request, decided)

    def refusal(self, gated: Gated) -> Optional[ToolRefused]:
        """The refusal for a ``deny`` decision, else ``None``."""
        if gated.tier == Tier.DENY:
            return ToolRefused(gated.tool, "denied by policy", gated.tier, gated.reasons)
        return None

    def await_allowed(self, gated: Gated, timeout: Optional[float] = None) -> Approval:
        """For ``single``/``dual``: waits for people, then consumes the approval. Returns only
        when the call may run, once; raises :class:`ToolRefused` otherwise."""
        refused = self.refusal(gated)
        if refused:
            raise refused
        if gated.tier == Tier.AUTO:
            raise ToolRefused(gated.tool, "an auto call has no approval to wait for", gated.tier)
        approval_id = gated.approval_id
        if approval_id is None:
            raise ToolRefused(gated.tool, "serve opened no approval request", gated.tier)
        try:
            state = self.client.wait(approval_id, self.wait_timeout if timeout is None else timeout)
            if state.state != "allowed":
                raise ToolRefused(
                    gated.tool,
                    f"the approval request is {state.state}",
                    gated.tier,
                    gated.reasons,
                    approval_id,
                )
            consumed = self.client.consume(approval_id)
        except ServeError as e:
            raise ToolRefused(
                gated.tool, f"not allowed by serve: {e}", gated.tier, gated.reasons, approval_id
            ) from e
        # serve returns the approved request: it must be this call's, bound to these arguments.
        ctx = (consumed.get("request") or {}).get("context") or {}
        if ctx.get("call_digest") != gated.digest:
            raise ToolRefused(
                gated.tool,
                "the approved request is for other arguments",
                gated.tier,
                (),
                approval_id,
            )
        return Approval(approval_id, "consumed", state.expires_at)

    def report(self, gated: Gated, outcome: Any) -> None:
        """Puts what happened into the audit trail (approved calls only; best effort: the
        action already ran, and a failure to report must not re-run or hide it)."""
        if gated.approval_id is None:
            return
        try:
            self.client.report_outcome(gated.approval_id, outcome)
        except ServeError:
            pass
