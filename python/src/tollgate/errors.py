"""Errors raised by the module and by ``tollgate serve``.

Every refusal of the WebAssembly module carries a stable ``kind`` (``wasm/ABI.md``): code should
branch on it, never on the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

__all__ = ["Problem", "TollgateError", "TrapError", "ServeError"]


@dataclass(frozen=True)
class Problem:
    """One problem of a pack that does not load, or a load warning."""

    code: str
    file: str
    line: int
    column: int
    message: str
    policy: Optional[str] = None
    help: Optional[str] = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Problem:
        return cls(
            code=str(value.get("code", "")),
            file=str(value.get("file", "")),
            line=int(value.get("line", 0)),
            column=int(value.get("column", 0)),
            message=str(value.get("message", "")),
            policy=value.get("policy"),
            help=value.get("help"),
        )

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.code}: {self.message}"


class TollgateError(Exception):
    """The module refused an input. ``kind`` is stable (``bad_input``, ``load``, ``input``,
    ``missing_at``, ``too_large``, ``too_deep``, ``bad_handle``, ``poisoned``, ``internal``, and
    the host's ``trap``, ``fuel_exhausted``, ``memory_limit``); ``problems`` lists every problem
    of a pack that does not load."""

    def __init__(self, kind: str, message: str, problems: Sequence[Problem] = ()) -> None:
        self.kind = kind
        self.message = message
        self.problems = tuple(problems)
        detail = "".join(f"\n  {p}" for p in self.problems)
        super().__init__(f"{kind}: {message}{detail}")


class TrapError(TollgateError):
    """The module trapped (a stack overflow on pathological input, its fuel or memory budget).

    The instance was discarded; the next call runs in a fresh one with every pack and entity set
    loaded again, so the engine stays usable."""


class ServeError(Exception):
    """``tollgate serve`` answered with an error status (or could not be reached: ``status`` 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"HTTP {status} {code}: {message}")
