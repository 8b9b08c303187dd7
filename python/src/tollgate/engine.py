"""A policy pack loaded into tollgate's WebAssembly module: decisions, approval checks, lint.

The module is the same one every other host runs (wasmtime in Rust, Node, browsers), so a
decision made here is the decision ``tollgate decide`` makes on the same files: same tier, same
determining policies, same request and pack hashes.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._files import read_policies, read_schema, read_workflows
from ._module import Instance, Limits, WasmModule
from .errors import Problem, TollgateError, TrapError

__all__ = [
    "Tier",
    "DeterminingPolicy",
    "PolicyError",
    "Decision",
    "RecordCheck",
    "Verification",
    "Finding",
    "EntitySet",
    "Engine",
    "lint",
]

Json = Any
Sources = Union[Mapping[str, str], Sequence[Tuple[str, str]]]
At = Union[None, str, datetime]


class Tier(str, Enum):
    """How much human control an action needs. Ordered: ``auto < single < dual < deny``."""

    AUTO = "auto"
    SINGLE = "single"
    DUAL = "dual"
    DENY = "deny"

    @property
    def approvals(self) -> Optional[int]:
        """Approvals the tier needs: 0, 1, 2, or ``None`` (never allowed)."""
        return {"auto": 0, "single": 1, "dual": 2}.get(self.value)

    @property
    def rank(self) -> int:
        return ("auto", "single", "dual", "deny").index(self.value)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class DeterminingPolicy:
    """A policy that set the tier, with the text a person reads."""

    id: str
    effect: str
    tier: Tier
    reason: Optional[str]
    source: str
    controls: Tuple[str, ...]

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> DeterminingPolicy:
        return cls(
            id=str(v["id"]),
            effect=str(v["effect"]),
            tier=Tier(v["tier"]),
            reason=v.get("reason"),
            source=str(v["source"]),
            controls=tuple(str(c) for c in v.get("controls", ())),
        )


@dataclass(frozen=True)
class PolicyError:
    """A policy whose evaluation errored. The tier already counts it as applying (fail closed)."""

    policy: str
    message: str


@dataclass(frozen=True)
class Decision:
    """The decision of ``docs/decisions.md``.

    ``request_hash`` is what approvals bind to; ``policy_set`` identifies the pack."""

    tier: Tier
    approvals_required: Optional[int]
    determining: Tuple[DeterminingPolicy, ...]
    errors: Tuple[PolicyError, ...]
    request_hash: str
    policy_set: str

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Decision:
        tier = Tier(v["tier"])
        required = v.get("approvals_required")
        if required != tier.approvals:
            # The module guarantees this; a result that breaks it is not trusted.
            raise TollgateError("bad_result", f"tier {tier} with approvals_required {required!r}")
        return cls(
            tier=tier,
            approvals_required=required,
            determining=tuple(DeterminingPolicy.from_json(d) for d in v.get("determining", ())),
            errors=tuple(
                PolicyError(str(e["policy"]), str(e["message"])) for e in v.get("errors", ())
            ),
            request_hash=str(v["request"]),
            policy_set=str(v["policy_set"]),
        )

    @property
    def determining_ids(self) -> Tuple[str, ...]:
        return tuple(d.id for d in self.determining)

    @property
    def reasons(self) -> Tuple[str, ...]:
        """The determining policies' ``@reason`` texts, for a person or a refusal message."""
        return tuple(d.reason for d in self.determining if d.reason)

    def to_json(self) -> Dict[str, Any]:
        """The decision in the JSON shape ``tollgate decide --format json`` prints."""
        return {
            "tier": self.tier.value,
            "approvals_required": self.approvals_required,
            "determining": [
                {
                    "id": d.id,
                    "effect": d.effect,
                    "tier": d.tier.value,
                    "reason": d.reason,
                    "source": d.source,
                    "controls": list(d.controls),
                }
                for d in self.determining
            ],
            "errors": [{"policy": e.policy, "message": e.message} for e in self.errors],
            "request": self.request_hash,
            "policy_set": self.policy_set,
        }


@dataclass(frozen=True)
class RecordCheck:
    """One approval record and whether it counted, with why."""

    approver: str
    decision: str
    counted: bool
    why: str


@dataclass(frozen=True)
class Verification:
    """``tollgate verify``: ``outcome`` is ``allowed``, ``pending`` or ``denied``."""

    outcome: str
    tier: Tier
    missing: Optional[int]
    request_hash: str
    records: Tuple[RecordCheck, ...]

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Verification:
        return cls(
            outcome=str(v["outcome"]),
            tier=Tier(v["tier"]),
            missing=v.get("missing"),
            request_hash=str(v["request"]),
            records=tuple(
                RecordCheck(
                    approver=str(r.get("approver", "")),
                    decision=str(r.get("decision", "")),
                    counted=bool(r.get("counted", False)),
                    why=str(r.get("why", "")),
                )
                for r in v.get("records", ())
            ),
        )


@dataclass(frozen=True)
class Finding:
    """A lint finding (``tollgate lint --format json``)."""

    rule: str
    severity: str
    message: str
    file: str
    line: int
    column: int
    policies: Tuple[str, ...]
    hint: Optional[str]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Finding:
        return cls(
            rule=str(v["rule"]),
            severity=str(v["severity"]),
            message=str(v["message"]),
            file=str(v.get("file", "")),
            line=int(v.get("line", 0)),
            column=int(v.get("column", 0)),
            policies=tuple(str(p) for p in v.get("policies", ())),
            hint=v.get("hint"),
            raw=v,
        )


class EntitySet:
    """Entities parsed and validated against the pack once, for many decisions.

    Made by :meth:`Engine.entities`. Entities describe the world at decision time: prepare a
    new set when they change. A set belongs to the engine that made it."""

    def __init__(self, engine: Engine, key: int, data: bytes, count: Optional[int]) -> None:
        self._engine = engine
        self._key = key
        self._data = data
        self.count = count

    def release(self) -> None:
        """Frees the set in the module. Deciding with it afterwards raises ``bad_handle``."""
        self._engine._release(self)

    def __repr__(self) -> str:
        return f"EntitySet(count={self.count})"


def _sources(files: Union[Sources, None]) -> List[Dict[str, str]]:
    if files is None:
        return []
    items = files.items() if isinstance(files, Mapping) else files
    return [{"name": str(name), "text": str(text)} for name, text in items]


def _instant(at: At) -> str:
    if at is None:
        at = datetime.now(timezone.utc)
    if isinstance(at, datetime):
        if at.tzinfo is None:
            # A naive time has no single meaning; guessing could move an expiry.
            raise ValueError("`at` must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return at.isoformat()
    return str(at)


def _lint_input(
    policies: List[Dict[str, str]],
    schemas: List[Dict[str, str]],
    today: Union[None, str, date, datetime],
    workflows: Optional[Sequence[Mapping[str, Any]]],
) -> bytes:
    if today is None:
        day = datetime.now(timezone.utc).date().isoformat()
    elif isinstance(today, datetime):
        day = _instant(today)
    elif isinstance(today, date):
        day = today.isoformat()
    else:
        day = str(today)
    body: Dict[str, Any] = {"policies": policies, "at": day}
    if schemas:
        body["schemas"] = schemas
    if workflows:
        body["workflows"] = list(workflows)
    return _json_bytes(body)


def lint(
    policies: Union[str, os.PathLike[str], Sources] = "policies",
    schema: Union[None, str, os.PathLike[str], Sources] = "schemas",
    *,
    today: Union[None, str, date, datetime] = None,
    workflows: Optional[Sequence[Mapping[str, Any]]] = None,
    module: Union[None, str, os.PathLike[str], WasmModule] = None,
    limits: Optional[Limits] = None,
) -> List[Finding]:
    """``tollgate lint`` on a pack, whether or not it loads (an invalid ``@tier`` is a finding,
    not an exception). ``policies``/``schema`` are paths read as the CLI reads them, or sources
    (``{"name": "text"}``). ``today`` (default: the UTC day now) decides which ``@review_by``
    exceptions have lapsed; ``workflows`` are ``{"name", "text", "entities"?}``, by default
    those under ``<policies>/workflows`` when ``policies`` is a folder that has one."""
    if isinstance(policies, (str, os.PathLike)):
        if workflows is None and (Path(policies) / "workflows").is_dir():
            workflows = read_workflows(Path(policies) / "workflows")
        policies = read_policies(policies)
    if isinstance(schema, (str, os.PathLike)):
        schema = read_schema(schema)
    wasm = module if isinstance(module, WasmModule) else WasmModule.load(module)
    instance = Instance(wasm, limits or Limits())
    out = instance.call("lint", _lint_input(_sources(policies), _sources(schema), today, workflows))
    return [Finding.from_json(f) for f in json.loads(out)]


def _json_bytes(value: Any) -> bytes:
    # allow_nan=False: NaN is not JSON, and the module would refuse it anyway.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


class Engine:
    """One pack in one instance of the module.

    **Thread safety:** an engine serialises its calls with a lock, so it can be shared between
    threads safely; calls from several threads then take turns. A module instance runs one call
    at a time, and the lock is cheaper than a pack (and its entity sets) loaded per thread. For
    decisions on several cores at once, give each thread its own engine (:meth:`fork`): they
    share the compiled module, and wasmtime runs them in parallel (it releases the GIL).

    **Traps:** a call that traps (pathological policy text, the fuel or memory budget) raises
    :class:`TrapError`; the instance is discarded and the next call runs in a fresh one with the
    pack and every live entity set loaded again, so handles stay valid.
    """

    def __init__(
        self,
        policies: Sources,
        schemas: Optional[Sources] = None,
        *,
        module: Union[None, str, os.PathLike[str], WasmModule] = None,
        limits: Optional[Limits] = None,
    ) -> None:
        self._module = module if isinstance(module, WasmModule) else WasmModule.load(module)
        self._limits = limits or Limits()
        self._policies = _sources(policies)
        self._schemas = _sources(schemas)
        pack: Dict[str, Any] = {"policies": self._policies}
        if self._schemas:
            pack["schemas"] = self._schemas
        self._pack_input = _json_bytes(pack)
        self._lock = threading.RLock()
        self._workflows_dir: Optional[Path] = None
        self._instance: Optional[Instance] = None
        self._handle = 0
        # Live entity sets: key -> (input, handle in the current instance or 0).
        self._sets: Dict[int, Tuple[bytes, int]] = {}
        self._next_set = 1
        self._loaded: Dict[str, Any] = {}
        with self._lock:
            self._live()
            self.policy_set: str = self._loaded["policy_set"]
            self.policy_count: int = int(self._loaded["policies"])
            self.warnings: Tuple[Problem, ...] = tuple(
                Problem.from_json(p) for p in self._loaded.get("warnings", ())
            )

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        policies: Union[str, os.PathLike[str]] = "policies",
        schema: Union[None, str, os.PathLike[str]] = "schemas",
        **kwargs: Any,
    ) -> Engine:
        """Loads ``*.cedar`` files under ``policies`` and the schema at ``schema`` (a file or a
        folder), named as the CLI names them. ``schema=None`` loads without a schema."""
        engine = cls(
            read_policies(policies),
            read_schema(schema) if schema is not None else None,
            **kwargs,
        )
        workflows = Path(policies) / "workflows"
        engine._workflows_dir = workflows if workflows.is_dir() else None
        return engine

    @classmethod
    def from_texts(
        cls, policies: Sources, schemas: Optional[Sources] = None, **kwargs: Any
    ) -> Engine:
        """A pack from texts: ``{"name.cedar": "permit (...);"}`` (or ``(name, text)`` pairs)."""
        return cls(policies, schemas, **kwargs)

    def fork(self) -> Engine:
        """A new engine on the same pack and compiled module, for another thread."""
        forked = Engine(
            [(p["name"], p["text"]) for p in self._policies],
            [(s["name"], s["text"]) for s in self._schemas] or None,
            module=self._module,
            limits=self._limits,
        )
        forked._workflows_dir = self._workflows_dir
        return forked

    @property
    def last_fuel_used(self) -> Optional[int]:
        """Fuel the engine's last call into the module used (the load, for a new engine)."""
        instance = self._instance
        return instance.last_fuel_used if instance is not None else None

    @property
    def info(self) -> Mapping[str, Any]:
        """What the module says about itself (``tollgate_version()``)."""
        with self._lock:
            return dict(self._live().info)

    # -- calls ----------------------------------------------------------------------------

    def entities(self, entities: Union[Sequence[Json], str, os.PathLike[str], None]) -> EntitySet:
        """Parses and validates entities (Cedar's entities JSON: a list, or the path of a JSON
        file) once against the pack, for use in many decisions."""
        if isinstance(entities, (str, os.PathLike)):
            path = Path(entities)
            try:
                entities = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise TollgateError("input", f"cannot read entities {path}: {e}") from e
        data = _json_bytes({"entities": entities})
        with self._lock:
            key = self._next_set
            self._next_set += 1
            count: Optional[int] = None
            instance = self._live()
            if instance.has("prepare_entities"):
                out = json.loads(instance.call("prepare_entities", data, self._handle))
                self._sets[key] = (data, int(out["entity_set"]))
                count = int(out["entities"])
            else:
                # A module without prepared entities: the set is sent inline on every call.
                self._sets[key] = (data, 0)
            return EntitySet(self, key, data, count)

    def decide(
        self,
        request: Mapping[str, Any],
        entities: Union[EntitySet, Sequence[Json], None] = None,
        at: At = None,
    ) -> Decision:
        """Decides ``request`` (Cedar's JSON request) at ``at`` (default: now, UTC)."""
        body: Dict[str, Any] = {"request": request, "at": _instant(at)}
        return Decision.from_json(json.loads(self._with_entities("decide", body, entities)))

    def verify(
        self,
        request: Mapping[str, Any],
        approvals: Union[str, Sequence[Mapping[str, Any]]],
        keyring: Union[str, Mapping[str, str]],
        entities: Union[EntitySet, Sequence[Json], None] = None,
        at: At = None,
    ) -> Verification:
        """Checks approval records (JSON Lines text or a list of records) for ``request``:
        signed by a ``@human`` in ``keyring``, not the requester, unexpired, enough of them."""
        body: Dict[str, Any] = {
            "request": request,
            "approvals": approvals,
            "keyring": keyring,
            "at": _instant(at),
        }
        return Verification.from_json(json.loads(self._with_entities("verify", body, entities)))

    def lint(
        self,
        today: Union[None, str, date, datetime] = None,
        workflows: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> List[Finding]:
        """Static analysis of this pack's sources (``tollgate lint``); see :func:`lint`. An
        engine loaded from a folder lints the workflows in its ``workflows`` subfolder too."""
        if workflows is None and self._workflows_dir is not None:
            workflows = read_workflows(self._workflows_dir)
        body = _lint_input(self._policies, self._schemas, today, workflows)
        with self._lock:
            out = self._call("lint", body, None)
        return [Finding.from_json(f) for f in json.loads(out)]

    def close(self) -> None:
        """Drops the instance (and with it the pack and entity sets)."""
        with self._lock:
            self._instance = None
            self._sets.clear()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _live(self) -> Instance:
        """The current instance, made afresh (pack loaded again) after a trap."""
        instance = self._instance
        if instance is not None and not instance.dead:
            return instance
        instance = Instance(self._module, self._limits)
        self._loaded = json.loads(instance.call("load", self._pack_input))
        self._handle = int(self._loaded["handle"])
        # Entity sets were prepared in the old instance: prepared again on next use.
        self._sets = {key: (data, 0) for key, (data, _) in self._sets.items()}
        self._instance = instance
        return instance

    def _with_entities(
        self, name: str, body: Dict[str, Any], entities: Union[EntitySet, Sequence[Json], None]
    ) -> str:
        with self._lock:
            if isinstance(entities, EntitySet):
                if entities._engine is not self:
                    raise TollgateError("bad_handle", "this entity set belongs to another engine")
                return self._call(name, None, body, entities._key)
            body["entities"] = entities
            return self._call(name, _json_bytes(body), None)

    def _call(
        self,
        name: str,
        data: Optional[bytes],
        body: Optional[Dict[str, Any]],
        set_key: Optional[int] = None,
    ) -> str:
        instance = self._live()
        handle = None if name == "lint" else self._handle
        if set_key is not None and body is not None:
            entry = self._sets.get(set_key)
            if entry is None:
                raise TollgateError("bad_handle", "this entity set was released")
            set_data, set_handle = entry
            if instance.has("prepare_entities"):
                if set_handle == 0:
                    out = json.loads(instance.call("prepare_entities", set_data, self._handle))
                    set_handle = int(out["entity_set"])
                    self._sets[set_key] = (set_data, set_handle)
                body = dict(body, entity_set=set_handle)
            else:
                body = dict(body, entities=json.loads(set_data)["entities"])
            data = _json_bytes(body)
        if data is None:
            raise TollgateError("internal", "no input to send")
        return instance.call(name, data, handle)

    def _release(self, entity_set: EntitySet) -> None:
        with self._lock:
            entry = self._sets.pop(entity_set._key, None)
            instance = self._instance
            if entry and entry[1] and instance is not None and not instance.dead:
                try:
                    instance.call_handle("release_entities", entry[1])
                except TrapError:
                    pass  # the instance is gone, and the set with it
