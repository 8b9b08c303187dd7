"""Puts tollgate's WebAssembly module into the wheel as ``tollgate/tollgate.wasm``.

The module is built from this repository by ``wasm/build.sh`` (Rust with the
``wasm32-unknown-unknown`` target), or taken from ``$TOLLGATE_WASM`` when that names a built
module. A wheel without the module would install and then fail on first use, so its absence
fails the build.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Dict

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ModuleHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: Dict[str, Any]) -> None:
        module = os.environ.get("TOLLGATE_WASM")
        if not module:
            script = Path(self.root).parent / "wasm" / "build.sh"
            if not script.exists():
                raise RuntimeError(
                    "no WebAssembly module: set TOLLGATE_WASM to a tollgate.wasm built by "
                    "wasm/build.sh, or build from the tollgate repository"
                )
            out = subprocess.run(
                ["bash", str(script), "--locked"], check=True, stdout=subprocess.PIPE, text=True
            )
            module = out.stdout.strip().splitlines()[-1]
        path = Path(module)
        if not path.is_file():
            raise RuntimeError(f"no WebAssembly module at {path}")
        build_data["force_include"][str(path)] = "tollgate/tollgate.wasm"
