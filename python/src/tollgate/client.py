"""A client of ``tollgate serve``: the loop a Python tool runner needs.

decide → (single/dual) wait for people → consume the approval exactly once → run the tool →
report the outcome. The server holds the approval inbox and the audit trail; this client only
speaks its HTTP API (``docs/serve.md``) with the standard library.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from .engine import Decision
from .errors import ServeError

__all__ = ["Approval", "ServeDecision", "Client"]

#: The longest single long-poll the server accepts (``GET /v1/approvals/{id}?wait=``).
_MAX_WAIT = 300


@dataclass(frozen=True)
class Approval:
    """An approval request's state, recomputed by the server on every read: ``pending``,
    ``allowed``, ``denied``, ``expired`` or ``consumed``."""

    id: str
    state: str
    expires_at: str
    missing: Optional[int] = None
    raw: Optional[Mapping[str, Any]] = None

    @property
    def settled(self) -> bool:
        """Whether waiting longer can change it (anything but ``pending``)."""
        return self.state != "pending"

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Approval:
        return cls(
            id=str(v["id"]),
            state=str(v["state"]),
            expires_at=str(v.get("expires_at", "")),
            missing=v.get("missing"),
            raw=v,
        )


@dataclass(frozen=True)
class ServeDecision:
    """The server's decision, and for ``single``/``dual`` the approval request it holds."""

    decision: Decision
    approval: Optional[Approval]

    @property
    def tier(self) -> Any:
        return self.decision.tier


class Client:
    """``tollgate serve`` at ``url`` (e.g. ``http://127.0.0.1:8080``) with a gateway ``token``
    (omit it for a loopback server started without ``--tokens``)."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def decide(
        self,
        request: Mapping[str, Any],
        recommendation: Any = None,
        call: Optional[Mapping[str, Any]] = None,
        entities: Optional[List[Any]] = None,
    ) -> ServeDecision:
        """``POST /v1/decide``. ``recommendation`` is the AI's recommendation and rationale (kept
        in the audit trail, shown to approvers); ``call`` the tool call behind the request, whose
        digest must be ``request["context"]["call_digest"]``."""
        body: Dict[str, Any] = {"request": request}
        if recommendation is not None:
            body["recommendation"] = recommendation
        if call is not None:
            body["call"] = call
        if entities is not None:
            body["entities"] = entities
        out = self._send("POST", "/v1/decide", body)
        approval = out.get("approval")
        decision = Decision.from_json({k: v for k, v in out.items() if k != "approval"})
        return ServeDecision(decision, Approval.from_json(approval) if approval else None)

    def approval(self, approval_id: str, wait: int = 0) -> Approval:
        """``GET /v1/approvals/{id}``; with ``wait``, long-polls while it is pending."""
        query = f"?wait={int(wait)}" if wait > 0 else ""
        out = self._send(
            "GET",
            f"/v1/approvals/{urllib.parse.quote(approval_id, safe='')}{query}",
            None,
            timeout=self.timeout + wait,
        )
        return Approval.from_json(out)

    def wait(self, approval_id: str, timeout: float) -> Approval:
        """Waits up to ``timeout`` seconds for the approval request to leave ``pending``;
        returns its state then (still ``pending`` if the time ran out)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            state = self.approval(approval_id, wait=max(0, min(_MAX_WAIT, int(left))))
            if state.settled or deadline - time.monotonic() <= 0:
                return state
            if left < 1:
                time.sleep(max(0.0, min(0.2, deadline - time.monotonic())))

    def consume(self, approval_id: str) -> Dict[str, Any]:
        """``POST /v1/approvals/{id}/consume``: the approved request, exactly once. Any other
        attempt (not allowed, consumed already, here or on another replica) raises
        :class:`ServeError` with status 409."""
        return self._send(
            "POST", f"/v1/approvals/{urllib.parse.quote(approval_id, safe='')}/consume", {}
        )

    def report_outcome(self, approval_id: str, outcome: Any) -> None:
        """``POST /v1/approvals/{id}/outcome``: what happened when the action ran, for the
        audit trail."""
        self._send(
            "POST",
            f"/v1/approvals/{urllib.parse.quote(approval_id, safe='')}/outcome",
            {"outcome": outcome},
        )

    def _send(
        self,
        method: str,
        path: str,
        body: Optional[Mapping[str, Any]],
        timeout: Optional[float] = None,
    ) -> Dict[str, Any]:
        data = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                err = json.loads(text).get("error", {})
                code, message = str(err.get("code", "")), str(err.get("message", text))
            except (ValueError, AttributeError):
                code, message = "", text
            raise ServeError(e.code, code, message) from None
        except (urllib.error.URLError, OSError) as e:
            raise ServeError(0, "unreachable", f"{self.url}: {e}") from e
        if not raw:
            return {}
        out = json.loads(raw)
        if not isinstance(out, dict):
            raise ServeError(200, "bad_response", "the server did not answer with an object")
        return out
