"""tollgate from Python: the policy engine's WebAssembly module, and a client of ``tollgate serve``.

>>> from tollgate import Engine
>>> engine = Engine.load(policies="policies", schema="schemas")
>>> people = engine.entities("examples/entities.json")
>>> engine.decide(request, entities=people).tier
<Tier.SINGLE: 'single'>
"""

from ._module import ABI_VERSION, Limits, WasmModule, module_path
from .client import Approval, Client, ServeDecision
from .engine import (
    Decision,
    DeterminingPolicy,
    Engine,
    EntitySet,
    Finding,
    PolicyError,
    RecordCheck,
    Tier,
    Verification,
    lint,
)
from .errors import Problem, ServeError, TollgateError, TrapError

__version__ = "0.1.0"

__all__ = [
    "ABI_VERSION",
    "Approval",
    "Client",
    "Decision",
    "DeterminingPolicy",
    "Engine",
    "EntitySet",
    "Finding",
    "Limits",
    "PolicyError",
    "Problem",
    "RecordCheck",
    "ServeDecision",
    "ServeError",
    "Tier",
    "TollgateError",
    "TrapError",
    "Verification",
    "WasmModule",
    "lint",
    "module_path",
]
