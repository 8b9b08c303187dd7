"""The module from Python decides as the CLI does, refuses what it should, and survives traps."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from conftest import AT, REPO, run
from tollgate import Engine, Limits, Tier, TollgateError, TrapError, lint


def policy_test_cases() -> List[Tuple[str, Dict[str, Any], Path, str]]:
    """Every case of ``policies/tests``: (name, request, entities file, at)."""
    cases = []
    for file in sorted((REPO / "policies" / "tests").glob("*.yaml")):
        doc = yaml.safe_load(file.read_text())
        entities = (file.parent / doc["entities"]).resolve()
        for case in doc["cases"]:
            at = str(case.get("at") or doc.get("at"))
            cases.append((f"{file.name}: {case['name']}", case["request"], entities, at))
    return cases


CASES = policy_test_cases()


def test_there_are_cases() -> None:
    assert len(CASES) >= 40


def cli_decide(bin: Path, request: Dict[str, Any], entities: Path, at: str) -> Any:
    out = run(
        bin,
        "decide",
        "--request",
        "-",
        "--entities",
        str(entities),
        "--at",
        at,
        "--format",
        "json",
        input=json.dumps(request),
    )
    if out.returncode not in (0, 1):  # 1: decided, but not auto
        return ("error", out.returncode)
    return json.loads(out.stdout)


def test_every_policy_test_case_decides_as_the_cli(engine: Engine, tollgate_bin: Path) -> None:
    prepared = {}
    compared = 0
    for name, request, entities, at in CASES:
        if entities not in prepared:
            prepared[entities] = engine.entities(entities)
        expected = cli_decide(tollgate_bin, request, entities, at)
        if isinstance(expected, tuple):
            with pytest.raises(TollgateError):
                engine.decide(request, entities=prepared[entities], at=at)
            continue
        got = engine.decide(request, entities=prepared[entities], at=at)
        # The whole decision: tier, approvals, determining policies with reasons and sources,
        # errors, and the request and pack hashes approvals bind to.
        assert got.to_json() == expected, name
        assert got.tier == Tier(expected["tier"])
        # Inline entities give the same decision as a prepared set.
        inline = json.loads(entities.read_text())
        assert engine.decide(request, entities=inline, at=at) == got, name
        compared += 1
    assert compared >= 35


def test_the_pack_hash_is_the_clis(engine: Engine, tollgate_bin: Path) -> None:
    out = run(
        tollgate_bin,
        "decide",
        "--request",
        "examples/request.json",
        "--entities",
        "examples/entities.json",
        "--at",
        AT,
        "--format",
        "json",
    )
    assert json.loads(out.stdout)["policy_set"] == engine.policy_set
    assert engine.policy_count > 20


def test_a_bad_pack_raises_with_its_problems(wasm_path: Path) -> None:
    with pytest.raises(TollgateError) as caught:
        Engine.from_texts(
            {
                "ok.cedar": '@id("fine") @tier("auto") permit (principal, action, resource);',
                "broken.cedar": '@id("x")\n@tier("sometimes")\npermit (principal, action, resource);',
            },
            module=wasm_path,
        )
    e = caught.value
    assert e.kind == "load"
    assert e.problems, e
    assert any(p.file == "broken.cedar" and p.line >= 1 for p in e.problems), e.problems
    assert "sometimes" in str(e)


def test_bad_inputs_are_refused_with_their_kind(engine: Engine) -> None:
    ok = json.loads((REPO / "examples" / "request.json").read_text())
    with pytest.raises(TollgateError) as e:
        engine.decide({**ok, "action": 'Action::"no_such_action"'}, at=AT)
    assert e.value.kind == "input"
    with pytest.raises(TollgateError) as e:
        engine.decide(ok, at="not a time")
    assert e.value.kind == "bad_input"
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    with pytest.raises(TollgateError) as e:
        engine.decide({**ok, "context": {**ok["context"], "deep": deep}}, at=AT)
    assert e.value.kind == "too_deep"
    with pytest.raises(ValueError):
        from datetime import datetime

        engine.decide(ok, at=datetime(2026, 6, 1, 12))  # naive: refused, never guessed


def test_a_pathological_policy_traps_and_the_process_goes_on(
    wasm_path: Path, engine: Engine
) -> None:
    # Shallow brackets (the nesting cap lets it through) but a 20,000-term sum: Cedar's parser
    # and evaluator recurse once per term, and on wasm32 nothing guards the stack.
    sum_ = " + ".join(["1"] * 20_000)
    text = f'@tier("auto") permit (principal, action, resource) when {{ {sum_} > 0 }};'
    request = {
        "principal": 'Agent::"a"',
        "action": 'Action::"go"',
        "resource": 'R::"r"',
        "context": {},
    }
    try:
        hostile = Engine.from_texts({"sum.cedar": text}, module=wasm_path)
    except TrapError as e:  # loading may already overflow, depending on how far the loader walks
        assert e.kind == "trap"
    else:
        for _ in range(2):  # each time in a fresh instance, with the pack loaded again
            with pytest.raises(TrapError) as caught:
                hostile.decide(request, at=AT)
            assert caught.value.kind == "trap"
    request = json.loads((REPO / "examples" / "request.json").read_text())
    people = engine.entities(REPO / "examples" / "entities.json")
    assert engine.decide(request, entities=people, at=AT).tier == Tier.SINGLE


def test_after_a_trap_the_engine_reloads_its_pack_and_entity_sets(wasm_path: Path) -> None:
    probe = Engine.load(REPO / "policies", REPO / "schemas", module=wasm_path)
    load_fuel = probe.last_fuel_used
    assert load_fuel and load_fuel > 0
    # Enough fuel to load the pack (again) and decide, not to read 40,000 entities.
    engine = Engine.load(
        REPO / "policies",
        REPO / "schemas",
        module=wasm_path,
        limits=Limits(fuel_per_call=load_fuel * 2),
    )
    people = engine.entities(REPO / "examples" / "entities.json")
    request = json.loads((REPO / "examples" / "request.json").read_text())
    before = engine.decide(request, entities=people, at=AT)
    crowd = [
        {"uid": {"type": "Human", "id": f"h{i}"}, "attrs": {}, "parents": []} for i in range(40_000)
    ]
    with pytest.raises(TrapError) as caught:
        engine.decide(request, entities=crowd, at=AT)
    assert caught.value.kind == "fuel_exhausted"
    # A fresh instance: the pack and the prepared set are loaded again behind the same objects.
    assert engine.decide(request, entities=people, at=AT) == before


def test_released_and_foreign_entity_sets_are_refused(engine: Engine, wasm_path: Path) -> None:
    request = json.loads((REPO / "examples" / "request.json").read_text())
    people = engine.entities(REPO / "examples" / "entities.json")
    other = Engine.load(REPO / "policies", REPO / "schemas", module=wasm_path)
    with pytest.raises(TollgateError) as e:
        other.decide(request, entities=people, at=AT)
    assert e.value.kind == "bad_handle"
    people.release()
    with pytest.raises(TollgateError) as e:
        engine.decide(request, entities=people, at=AT)
    assert e.value.kind == "bad_handle"


def test_entities_that_do_not_fit_the_schema_are_refused(engine: Engine) -> None:
    with pytest.raises(TollgateError) as e:
        engine.entities([{"uid": {"type": "Nope", "id": "x"}, "attrs": {}, "parents": []}])
    assert e.value.kind == "input"


def test_threads_share_an_engine_safely(engine: Engine) -> None:
    people = engine.entities(REPO / "examples" / "entities.json")
    lines = (REPO / "examples" / "requests.jsonl").read_text().splitlines()[:200]
    requests = [json.loads(line) for line in lines]
    expected = [engine.decide(r, entities=people, at=AT) for r in requests]
    results: Dict[int, list] = {}

    def work(n: int) -> None:
        results[n] = [engine.decide(r, entities=people, at=AT) for r in requests]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[n] == expected for n in range(4))
    forked = engine.fork()
    mine = forked.entities(REPO / "examples" / "entities.json")
    assert [forked.decide(r, entities=mine, at=AT) for r in requests] == expected


def test_verify_checks_approvals_as_the_cli(
    engine: Engine, tollgate_bin: Path, tmp_path: Path
) -> None:
    ring = run(
        tollgate_bin, "keygen", "--approver", 'Human::"alice"', "--out", str(tmp_path / "alice.key")
    )
    assert ring.returncode == 0, ring.stderr
    (tmp_path / "keyring.json").write_text(ring.stdout)
    signed = run(
        tollgate_bin,
        "approve",
        "--request",
        "examples/request.json",
        "--approver",
        'Human::"alice"',
        "--key",
        str(tmp_path / "alice.key"),
        "--at",
        AT,
        "--entities",
        "examples/entities.json",
        "--yes",
    )
    assert signed.returncode == 0, signed.stderr
    (tmp_path / "approvals.jsonl").write_text(signed.stdout)
    cli = run(
        tollgate_bin,
        "verify",
        "--request",
        "examples/request.json",
        "--approvals",
        str(tmp_path / "approvals.jsonl"),
        "--keyring",
        str(tmp_path / "keyring.json"),
        "--entities",
        "examples/entities.json",
        "--at",
        AT,
        "--format",
        "json",
    )
    expected = json.loads(cli.stdout)
    request = json.loads((REPO / "examples" / "request.json").read_text())
    got = engine.verify(
        request,
        signed.stdout,
        json.loads(ring.stdout),
        entities=engine.entities(REPO / "examples" / "entities.json"),
        at=AT,
    )
    assert got.outcome == expected["outcome"]
    assert got.tier.value == expected["tier"]
    assert got.request_hash == expected["request"]
    assert [(r.approver, r.counted) for r in got.records] == [
        (r["approver"], r["counted"]) for r in expected["records"]
    ]


def test_lint_finds_what_the_cli_finds(wasm_path: Path, tollgate_bin: Path) -> None:
    bad = REPO / "examples" / "bad-pack"
    cli = run(
        tollgate_bin,
        "lint",
        "--policies",
        str(bad / "policies"),
        "--schema",
        str(bad / "schemas"),
        "--today",
        "2026-06-01",
        "--format",
        "json",
    )
    expected = sorted((f["rule"], Path(f["file"]).name, f["line"]) for f in json.loads(cli.stdout))
    # The bad pack does not load (an invalid @tier): lint still reports on it.
    with pytest.raises(TollgateError) as e:
        Engine.load(bad / "policies", bad / "schemas", module=wasm_path)
    assert e.value.kind == "load"
    got = sorted(
        (f.rule, Path(f.file).name, f.line)
        for f in lint(bad / "policies", bad / "schemas", today="2026-06-01", module=wasm_path)
    )
    assert got == expected and got


def test_lint_of_the_reference_pack_is_clean(engine: Engine) -> None:
    assert engine.lint(today="2026-06-01") == []


def test_calls_take_the_direct_path_on_this_wasmtime(engine: Engine) -> None:
    # Func.__call__ costs more than a decision; the direct path is checked once per export. If a
    # wasmtime release changes the internals it uses, calls fall back (correct, slower): this
    # test says so instead of a benchmark drifting.
    instance = engine._instance
    assert instance is not None
    assert instance._alloc.__name__ == "call"
