"""The installed package ships the module and finds it without being told."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import tollgate
from conftest import AT, REPO


def test_an_installed_package_ships_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    if (REPO / "python" / "src") in Path(tollgate.__file__).resolve().parents:
        if os.environ.get("TOLLGATE_REQUIRE_PYTHON") == "1":
            pytest.fail("CI must test the installed wheel, not the source tree")
        pytest.skip("testing the source tree: the module is shipped only in the wheel")
    monkeypatch.delenv("TOLLGATE_WASM", raising=False)
    shipped = tollgate.module_path()
    assert shipped.is_file() and shipped.name == "tollgate.wasm"
    assert (Path(tollgate.__file__).parent / "py.typed").is_file()
    engine = tollgate.Engine.load(REPO / "policies", REPO / "schemas")
    request = json.loads((REPO / "examples" / "request.json").read_text())
    assert (
        engine.decide(
            request, entities=engine.entities(REPO / "examples" / "entities.json"), at=AT
        ).tier
        == tollgate.Tier.SINGLE
    )
