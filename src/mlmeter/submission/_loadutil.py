"""Small helpers the loader's modules share: folder listing, findings, JSON objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlmeter.submission._findings import Finding, Severity
from mlmeter.submission._model import SystemDesc, Tree


def subdirs(path: Path) -> list[Path]:
    """Sub-folders of ``path`` in name order, hidden ones and links skipped."""
    try:
        items = sorted(path.iterdir())
    except OSError:
        return []
    return [p for p in items if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]


def problem(
    tree: Tree, path: Path, code: str, message: str, severity: Severity = Severity.ERROR
) -> None:
    """Record something the loader could not read."""
    tree.problems.append(Finding(severity, code, tree.rel(path), message))


def read_json_object(tree: Tree, path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None and a ``load.bad_json`` finding."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem(tree, path, "load.bad_json", f"cannot read JSON: {_why(exc)}")
        return None
    if not isinstance(data, dict):
        problem(tree, path, "load.bad_json", f"a JSON object expected, got {type(data).__name__}")
        return None
    return data


def _why(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return exc.__class__.__name__


def load_systems(tree: Tree, org: Path, key_division: str, org_name: str = "") -> set[str]:
    """Read ``org/systems/*.json`` into ``tree.systems`` as ``(key_division, org, stem)``."""
    org_name = org_name or org.name
    names: set[str] = set()
    for path in sorted((org / "systems").glob("*.json")):
        if not path.is_file():
            continue
        names.add(path.stem)
        fields = read_json_object(tree, path)
        if fields is not None:
            desc = SystemDesc(key_division, org_name, path.stem, path, fields)
            tree.systems[(key_division, org_name, path.stem)] = desc
    return names
