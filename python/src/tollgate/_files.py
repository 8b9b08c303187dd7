"""Reading a pack from disk exactly as the CLI does, so both name files alike (decisions cite
``<name>:<line>``, and the pack hash covers names and texts)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple, Union

from .errors import TollgateError

PathLike = Union[str, "os.PathLike[str]"]


def _find(root: Path, keep: Callable[[str], bool]) -> List[Path]:
    """Every file under ``root`` whose name ``keep`` accepts: recursive, hidden entries
    skipped, links to folders not followed."""
    out: List[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            raise TollgateError("read", f"cannot read {folder}: {e.strerror or e}") from e
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif keep(entry.name):
                out.append(Path(entry.path))
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TollgateError("read", f"cannot read {path}: {e}") from e


def _named(root: Path, paths: List[Path]) -> List[Tuple[str, str]]:
    files = [("/".join(p.relative_to(root).parts), _read(p)) for p in paths]
    return sorted(files, key=lambda f: f[0].encode("utf-8"))


def read_policies(folder: PathLike) -> List[Tuple[str, str]]:
    """Every ``*.cedar`` file under ``folder``, named relative to it with ``/``."""
    root = Path(folder)
    files = _named(root, _find(root, lambda n: n.endswith(".cedar")))
    if not files:
        raise TollgateError("read", f"no .cedar policy files under {root}")
    return files


def read_schema(path: PathLike) -> List[Tuple[str, str]]:
    """A schema file (named by its file name), or every ``*.cedarschema`` and
    ``*.cedarschema.json`` file under a folder (named relative to it)."""
    p = Path(path)
    if p.is_dir():
        files = _named(
            p, _find(p, lambda n: n.endswith(".cedarschema") or n.endswith(".cedarschema.json"))
        )
    elif p.exists():
        files = [(p.name, _read(p))]
    else:
        raise TollgateError("read", f"no schema at {p}")
    if not files:
        raise TollgateError("read", f"no .cedarschema files under {p}")
    return files


_ENTITIES_LINE = re.compile(r"^entities:[ \t]*(?P<value>[^#\n]*?)[ \t]*(?:#.*)?$", re.MULTILINE)


def read_workflows(folder: PathLike) -> List[Dict[str, Any]]:
    """Every workflow (``*.yaml``/``*.yml``) under ``folder`` as lint takes it: named relative to
    the folder, with the content of the entities file its top-level ``entities:`` names (read
    relative to the workflow file, as the CLI does; the module reads no files)."""
    root = Path(folder)
    out: List[Dict[str, Any]] = []
    for path in sorted(_find(root, lambda n: n.endswith((".yaml", ".yml")))):
        text = _read(path)
        workflow: Dict[str, Any] = {"name": "/".join(path.relative_to(root).parts), "text": text}
        found = _ENTITIES_LINE.search(text)
        if found and found.group("value"):
            rel = found.group("value").strip("'\"")
            entities = path.parent / rel
            try:
                workflow["entities"] = json.loads(_read(entities))
            except ValueError as e:
                raise TollgateError("read", f"{entities} (named by {path}): not JSON: {e}") from e
        out.append(workflow)
    return out
