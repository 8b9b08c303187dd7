"""The WebAssembly module and one instance of it: the ABI of ``wasm/ABI.md`` and nothing more.

JSON in, JSON out: for each call the input is copied into a buffer the module allocates, the
export runs, the input is freed, and the result is read from the packed ``(ptr << 32) | len``
and freed. Every call runs with a fresh fuel budget and under a memory cap, so a pathological
input costs an exception, never a hung or exhausted process.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

import wasmtime

from .errors import Problem, TollgateError, TrapError

__all__ = ["ABI_VERSION", "Limits", "WasmModule", "Instance", "module_path"]

#: The ABI version this package speaks (``tollgate_version().abi``).
ABI_VERSION = 1

_MASK32 = 0xFFFF_FFFF
_MASK64 = 0xFFFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class Limits:
    """What one instance may use: the same defaults as the Rust host (``tollgate-wasm-host``).

    ``fuel_per_call`` is deterministic (roughly, WebAssembly instructions): the same input
    always passes or always fails, whatever the machine's load. Loading the reference pack uses
    about 1% of the default, a decision well under 0.1%."""

    max_memory_bytes: int = 256 * 1024 * 1024
    fuel_per_call: int = 20_000_000_000


def module_path() -> Path:
    """Where the module is read from: ``$TOLLGATE_WASM`` when set (tests point it at the module
    CI just built), else the ``tollgate.wasm`` shipped in this package."""
    override = os.environ.get("TOLLGATE_WASM")
    if override:
        return Path(override)
    return Path(str(resources.files("tollgate").joinpath("tollgate.wasm")))


class WasmModule:
    """The module compiled once per process (compiling takes seconds; instantiating does not).

    Engines made from the same bytes share it. wasmtime's own on-disk cache is turned on when it
    can be, so a second process skips most of the compilation too."""

    _cache: Dict[str, WasmModule] = {}
    _cache_lock = threading.Lock()

    def __init__(self, wasm: bytes) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        try:
            config.cache = True
        except wasmtime.WasmtimeError:
            pass  # no cache directory: compile every time
        self.engine = wasmtime.Engine(config)
        try:
            self.module = wasmtime.Module(self.engine, wasm)
        except wasmtime.WasmtimeError as e:
            raise TollgateError("bad_module", f"cannot compile the WebAssembly module: {e}") from e

    @classmethod
    def load(cls, path: Optional[Union[str, os.PathLike[str]]] = None) -> WasmModule:
        """The compiled module at ``path`` (default: :func:`module_path`), from the process cache
        when the same bytes were compiled before."""
        file = Path(path) if path is not None else module_path()
        try:
            wasm = file.read_bytes()
        except OSError as e:
            raise TollgateError(
                "bad_module",
                f"cannot read the tollgate module {file}: {e.strerror or e}"
                " (set TOLLGATE_WASM to a module built by wasm/build.sh)",
            ) from e
        key = hashlib.sha256(wasm).hexdigest()
        with cls._cache_lock:
            found = cls._cache.get(key)
            if found is None:
                found = cls(wasm)
                cls._cache[key] = found
            return found


def _fast(store: wasmtime.Store, func: Any, n_params: int) -> Callable[..., int]:
    """A caller of an export taking ``n_params`` i32s and returning one i32 or i64.

    ``Func.__call__`` looks the function's type up and converts every value on each call, which
    costs more than a decision itself. The signatures here are fixed by the ABI, so the type is
    checked once and the call goes straight to ``wasmtime_func_call``. If this wasmtime's
    internals are not the ones this was written against, the public call is used instead."""

    def public(*args: int) -> int:
        return int(func(store, *args))

    try:
        from ctypes import POINTER, byref

        from wasmtime import _ffi as ffi

        ty = func.type(store)
        results = list(ty.results)
        if len(list(ty.params)) != n_params or len(results) != 1:
            return public
        wide = str(results[0]) == "i64"
        i32_kind = ffi.WASMTIME_I32.value
        # One argument and one result array per caller, reused: an instance runs one call at a
        # time (its owner holds a lock), and i32/i64 values need no unrooting.
        params = (ffi.wasmtime_val_t * max(n_params, 1))()
        for param in params:
            param.kind = i32_kind  # type: ignore[assignment]
        out = (ffi.wasmtime_val_t * 1)()
        raw = byref(func._func)
        call_raw = ffi.wasmtime_func_call
        trap_t = POINTER(ffi.wasm_trap_t)
        error_from = wasmtime.WasmtimeError._from_ptr
        trap_from = wasmtime.Trap._from_ptr
    except (ImportError, AttributeError, TypeError):
        return public

    def call(*args: int) -> int:
        for i, a in enumerate(args):
            params[i].of.i32 = a - (1 << 32) if a >= 1 << 31 else a
        trap = trap_t()
        error = call_raw(store._context(), raw, params, n_params, out, 1, byref(trap))
        if error:
            raise error_from(error)
        if trap:
            raise trap_from(trap)
        return int(out[0].of.i64 if wide else out[0].of.i32)

    return call


class Instance:
    """One instance of the module. Not thread-safe: the caller serialises calls.

    After a trap the instance is unusable; :attr:`dead` is then true and the owner makes a new
    one (``wasm/ABI.md``, "Traps")."""

    def __init__(self, module: WasmModule, limits: Limits) -> None:
        self.limits = limits
        self.store = wasmtime.Store(module.engine)
        self.store.set_limits(memory_size=limits.max_memory_bytes)
        self.store.set_fuel(limits.fuel_per_call)
        self.dead = False
        #: Fuel the last call used (for a call that trapped: until it stopped), to size
        #: :attr:`Limits.fuel_per_call` from real inputs.
        self.last_fuel_used: Optional[int] = None
        self._buffer_ptr = 0
        self._buffer_len = 0
        try:
            instance = wasmtime.Instance(self.store, module.module, [])
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            raise TollgateError("bad_module", f"cannot instantiate the tollgate module: {e}") from e
        exports = instance.exports(self.store)

        def export(name: str) -> Any:
            try:
                return exports[name]
            except KeyError:
                raise TollgateError(
                    "bad_module", f"the module has no export {name}: is it tollgate's?"
                ) from None

        self._memory = export("memory")
        arity = {
            "load": 2,
            "decide": 3,
            "verify": 3,
            "lint": 2,
            "unload": 1,
            "version": 0,
            "prepare_entities": 3,
            "release_entities": 1,
        }
        self._alloc = _fast(self.store, export("tollgate_alloc"), 1)
        self._free = _fast(self.store, export("tollgate_free"), 2)
        self._exports = {
            name: _fast(self.store, export(f"tollgate_{name}"), arity[name])
            for name in ("load", "decide", "verify", "lint", "unload", "version")
        }
        # Optional exports of later modules of the same ABI version.
        for name in ("prepare_entities", "release_entities"):
            try:
                self._exports[name] = _fast(self.store, exports[f"tollgate_{name}"], arity[name])
            except KeyError:
                pass
        self.info: Dict[str, Any] = json.loads(self._run(lambda: self._exports["version"]()))
        if self.info.get("abi") != ABI_VERSION:
            raise TollgateError(
                "bad_module",
                f"the module speaks ABI {self.info.get('abi')}; this package speaks {ABI_VERSION}",
            )

    def _span(self, ptr: int, length: int) -> int:
        """The host address of ``length`` bytes at ``ptr`` in the module's memory, checked
        against its size now (memory moves when it grows: never cache the address)."""
        size = self._memory.data_len(self.store)
        if ptr + length > size:
            self.dead = True
            raise TollgateError(
                "bad_result",
                f"the module named bytes {ptr}..{ptr + length} of a {size}-byte memory",
            )
        return ctypes.addressof(self._memory.data_ptr(self.store).contents) + ptr

    def _write(self, ptr: int, data: bytes) -> None:
        ctypes.memmove(self._span(ptr, len(data)), data, len(data))

    def _read(self, ptr: int, length: int) -> bytes:
        return ctypes.string_at(self._span(ptr, length), length)

    def has(self, name: str) -> bool:
        return name in self._exports

    def call(self, name: str, data: bytes, handle: Optional[int] = None) -> str:
        """Runs export ``tollgate_<name>`` on ``data``; returns the result's JSON text or raises
        :class:`TollgateError` with the module's kind."""
        if name not in self._exports:
            raise TollgateError(
                "bad_module", f"this module has no tollgate_{name}: rebuild it with wasm/build.sh"
            )
        max_input = int(self.info.get("max_input_bytes", 0))
        if len(data) > max_input:
            raise TollgateError(
                "too_large", f"input is {len(data)} bytes; the module accepts at most {max_input}"
            )
        func = self._exports[name]
        args = () if handle is None else (handle,)

        def run() -> Any:
            ptr = 0
            if data:
                ptr = self._input_buffer(len(data))
                self._write(ptr, data)
            return func(*args, ptr, len(data))

        return self._run(run)

    def _input_buffer(self, length: int) -> int:
        """A live buffer of the module's, at least ``length`` bytes, kept for the next calls:
        inputs are read, never kept, by the module (``wasm/ABI.md``), so one buffer serves
        every call and saves an allocation and a free per call."""
        if length > self._buffer_len:
            if self._buffer_ptr:
                self._free(self._buffer_ptr, self._buffer_len)
                self._buffer_ptr, self._buffer_len = 0, 0
            size = max(length, 64 * 1024)
            ptr = self._alloc(size) & _MASK32
            if ptr == 0:
                raise TollgateError("too_large", "the module could not allocate the input")
            self._buffer_ptr, self._buffer_len = ptr, size
        return self._buffer_ptr

    def call_handle(self, name: str, handle: int) -> int:
        """Runs an export that takes a handle and returns an ``i32`` (unload, release)."""
        func = self._exports.get(name)
        if func is None:
            return 0
        self.store.set_fuel(self.limits.fuel_per_call)
        return int(self._guarded(lambda: func(handle)))

    def _run(self, call: Callable[[], Any]) -> str:
        # One budget for the whole call: copying the input in, the export, the result out.
        self.store.set_fuel(self.limits.fuel_per_call)
        packed = int(self._guarded(call)) & _MASK64
        self._count_fuel()
        if packed == 0:
            self.dead = True
            raise TollgateError(
                "poisoned", "the module returned no result; it is instantiated again"
            )
        ptr, length = packed >> 32, packed & _MASK32
        raw = self._read(ptr, length)
        self._guarded(lambda: self._free(ptr, length))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.dead = True
            raise TollgateError(
                "bad_result", f"the module returned text that is not UTF-8: {e}"
            ) from e
        # The module writes compact JSON, with `error` as the only key of an error result.
        if text.startswith('{"error":'):
            body = json.loads(text).get("error", {})
            kind = str(body.get("kind", "internal"))
            if kind == "poisoned":
                self.dead = True
            raise TollgateError(
                kind,
                str(body.get("message", "")),
                [Problem.from_json(p) for p in body.get("problems", [])],
            )
        return text

    def _guarded(self, call: Callable[[], Any]) -> Any:
        """Runs ``call`` into the module; a trap kills the instance and becomes a
        :class:`TrapError` saying which limit, if any, stopped it."""
        try:
            return call()
        except wasmtime.Trap as e:
            self.dead = True
            self._count_fuel()
            if e.trap_code == wasmtime.TrapCode.OUT_OF_FUEL:
                raise TrapError(
                    "fuel_exhausted",
                    f"the call ran out of fuel ({self.limits.fuel_per_call} per call) and was"
                    " stopped; the instance was reset",
                ) from e
            # Allocation failures abort: a trap with memory at its cap is the cap's doing.
            if self._memory.data_len(self.store) + 65536 > self.limits.max_memory_bytes:
                raise TrapError(
                    "memory_limit",
                    f"the module reached its memory limit ({self.limits.max_memory_bytes} bytes)"
                    " and stopped; the instance was reset",
                ) from e
            raise TrapError(
                "trap", f"the module trapped ({e.message}); the instance was reset"
            ) from e
        except wasmtime.WasmtimeError as e:
            self.dead = True
            raise TrapError("trap", f"the module failed ({e}); the instance was reset") from e

    def _count_fuel(self) -> None:
        try:
            self.last_fuel_used = self.limits.fuel_per_call - self.store.get_fuel()
        except wasmtime.WasmtimeError:
            self.last_fuel_used = None
