"""Shared set-up: the module under test, the CLI to compare with, and a real ``tollgate serve``.

The module is ``$TOLLGATE_WASM`` (the one ``wasm/build.sh`` built), the CLI ``$TOLLGATE_BIN``
(default ``target/debug/tollgate``). Without them the tests skip with the reason, unless
``TOLLGATE_REQUIRE_PYTHON=1`` (CI), where a missing part fails the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[2]
AT = "2026-06-01T12:00:00Z"

try:
    import tollgate  # noqa: F401  - the installed package, as users get it (CI installs the wheel)
except ImportError:
    sys.path.insert(0, str(REPO / "python" / "src"))


def _missing(what: str) -> None:
    if os.environ.get("TOLLGATE_REQUIRE_PYTHON") == "1":
        pytest.fail(f"{what} (required: TOLLGATE_REQUIRE_PYTHON=1)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def wasm_path() -> Path:
    path = os.environ.get("TOLLGATE_WASM")
    if not path or not Path(path).is_file():
        _missing("no module: set TOLLGATE_WASM to the output of wasm/build.sh")
    return Path(path)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tollgate_bin() -> Path:
    path = Path(os.environ.get("TOLLGATE_BIN") or REPO / "target" / "debug" / "tollgate")
    if not path.is_file():
        _missing(f"no tollgate binary at {path}: cargo build -p tollgate-cli, or set TOLLGATE_BIN")
    return path


@pytest.fixture(scope="session")
def engine(wasm_path: Path):  # type: ignore[no-untyped-def]
    from tollgate import Engine

    return Engine.load(REPO / "policies", REPO / "schemas", module=wasm_path)


def run(
    bin: Path, *args: str, input: str | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bin), *args], cwd=cwd, input=input, capture_output=True, text=True, timeout=120
    )


class Serving:
    """``tollgate serve`` of ``examples/mcp`` on a fresh SQLite database, with a gateway token
    for ``Agent::"coder"``, an approver token, and alice and bob's keys in its keyring."""

    GATEWAY = "tg-python-gateway-token"
    STAFF = "tg-python-approver-token"

    def __init__(self, bin: Path, dir: Path) -> None:
        self.bin = bin
        self.dir = dir
        ring = ""
        for who in ("alice", "bob"):
            out = run(
                bin, "keygen", "--approver", f'Human::"{who}"', "--out", str(dir / f"{who}.key")
            )
            assert out.returncode == 0, out.stderr
            ring += out.stdout
        (dir / "keyring.json").write_text(ring)
        tokens = {
            "gateway": {
                "sha256": hashlib.sha256(self.GATEWAY.encode()).hexdigest(),
                "roles": ["gateway"],
                "principals": ['Agent::"coder"'],
            },
            "staff": {
                "sha256": hashlib.sha256(self.STAFF.encode()).hexdigest(),
                "roles": ["approver", "auditor"],
            },
        }
        (dir / "tokens.json").write_text(json.dumps(tokens))
        (dir / "staff.token").write_text(self.STAFF)
        self.log = open(dir / "serve.log", "w")
        self.proc = subprocess.Popen(
            [
                str(bin),
                "serve",
                "--policies",
                "examples/mcp/policies",
                "--schema",
                "examples/mcp/schema",
                "--entities",
                "examples/mcp/entities.json",
                "--keyring",
                str(dir / "keyring.json"),
                "--tokens",
                str(dir / "tokens.json"),
                "--db",
                f"sqlite://{dir / 'tollgate.db'}",
                "--listen",
                "127.0.0.1:0",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"serve printed {line!r}: {(dir / 'serve.log').read_text()}")
        self.url = found.group(1)

    def approve(self, approval_id: str, who: str) -> subprocess.CompletedProcess:
        """``tollgate approvals approve``, as an approver would run it."""
        return run(
            self.bin,
            "approvals",
            "approve",
            approval_id,
            "--approver",
            f'Human::"{who}"',
            "--key",
            str(self.dir / f"{who}.key"),
            "--server",
            self.url,
            "--token-file",
            str(self.dir / "staff.token"),
            "--yes",
            "--format",
            "json",
        )

    def reject(self, approval_id: str, who: str) -> subprocess.CompletedProcess:
        return run(
            self.bin,
            "approvals",
            "reject",
            approval_id,
            "--evidence",
            "not this change",
            "--approver",
            f'Human::"{who}"',
            "--key",
            str(self.dir / f"{who}.key"),
            "--server",
            self.url,
            "--token-file",
            str(self.dir / "staff.token"),
            "--yes",
            "--format",
            "json",
        )

    def audit(self) -> List[dict]:
        import urllib.request

        req = urllib.request.Request(self.url + "/v1/audit")
        req.add_header("Authorization", f"Bearer {self.STAFF}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return [json.loads(line) for line in resp.read().decode().splitlines() if line]

    def outcomes(self, approval_id: str) -> List[dict]:
        """The outcome events the audit chain holds for ``approval_id``."""

        def events(value: object) -> Iterator[dict]:
            if isinstance(value, dict):
                if value.get("kind") == "outcome" and value.get("approval_id") == approval_id:
                    yield value
                for v in value.values():
                    yield from events(v)
            elif isinstance(value, list):
                for v in value:
                    yield from events(v)

        return [e for record in self.audit() for e in events(record)]

    def pending(self, timeout: float = 30.0) -> List[dict]:
        """The pending approval requests, once there is at least one."""
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            req = urllib.request.Request(self.url + "/v1/approvals?state=pending")
            req.add_header("Authorization", f"Bearer {self.STAFF}")
            with urllib.request.urlopen(req, timeout=30) as resp:
                found = json.loads(resp.read())["approvals"]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture()
def serving(tollgate_bin: Path, tmp_path: Path) -> Iterator[Serving]:
    s = Serving(tollgate_bin, tmp_path)
    try:
        yield s
    finally:
        s.stop()
