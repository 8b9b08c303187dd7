"""The digest that binds an approval to a tool call's exact arguments.

A Cedar request carries only some of a tool call's arguments in its context; the rest (a file's
new content, a query's text) would be invisible to approvers and could change under an approval
given for other content. So a gateway puts ``call_digest`` in the context and sends the call
itself to ``tollgate serve``, which checks the digest and shows the call to approvers: what they
read is what their signature binds.

The digest is ``sha256:`` and the hex SHA-256 of the RFC 8785 (JCS) canonical JSON of
``{"server", "tool", "arguments"}``: keys sorted by UTF-16 code units, no whitespace, integers
exact, other numbers in ECMAScript's shortest form. It equals ``tollgate_engine::ToolCall::digest``.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any, Dict, Mapping

__all__ = ["canonical_json", "call_digest", "tool_call"]


def _number(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError("NaN and infinities are not JSON")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr is the shortest text that reads back as the same double, as ECMAScript's is.
    digits_tuple = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits)
    k = len(digits)
    exponent = digits_tuple.exponent
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {x!r}")
    n = exponent + k  # where the decimal point falls, counted from the first digit
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return sign + text


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON of a JSON value (``dict``, ``list``, ``str``, ``int``, ``float``,
    ``bool``, ``None``)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        keys = sorted(value.keys(), key=lambda k: str(k).encode("utf-16-be"))
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(f"object keys must be strings, not {type(k).__name__}")
        return (
            "{"
            + ",".join(
                json.dumps(k, ensure_ascii=False) + ":" + canonical_json(value[k]) for k in keys
            )
            + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def tool_call(server: str, tool: str, arguments: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``call`` object ``tollgate serve`` takes beside a request."""
    return {"server": server, "tool": tool, "arguments": dict(arguments)}


def call_digest(server: str, tool: str, arguments: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the call: put it in ``request["context"]["call_digest"]``."""
    text = canonical_json(tool_call(server, tool, arguments))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
