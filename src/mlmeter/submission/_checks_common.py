"""What every check family shares: the context it reads and the finding constructors.

A check is a function ``(ctx) -> Iterable[Finding]``; it reads the loaded ``Tree``, the
round's rules and the tree's manifest, and never raises on bad data (``_check`` turns an
exception into a ``check.crashed`` finding anyway).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.rules import Round
from mlmeter.submission._findings import Finding, Severity
from mlmeter.submission._model import InferenceEntry, Tree

CLOSED_LIKE = ("closed", "network")


@dataclass(frozen=True)
class Context:
    """What a check reads."""

    tree: Tree
    round: Round
    manifest: dict[str, Any] | None  # mlmeter_submission.json, None when absent

    def rel(self, path: Path) -> str:
        """``path`` relative to the tree's root."""
        return self.tree.rel(path)


Check = Callable[[Context], Iterable[Finding]]


def error(code: str, path: str, message: str) -> Finding:
    """An error finding."""
    return Finding(Severity.ERROR, code, path, message)


def warning(code: str, path: str, message: str) -> Finding:
    """A warning finding."""
    return Finding(Severity.WARNING, code, path, message)


def note(code: str, path: str, message: str) -> Finding:
    """A note finding."""
    return Finding(Severity.NOTE, code, path, message)


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (booleans and text are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(float(value)):
        return None
    return float(value)


def entry_label(entry: InferenceEntry) -> str:
    """``resnet50 Offline``."""
    return f"{entry.benchmark} {entry.scenario}"


def perf_dir(ctx: Context, entry: InferenceEntry) -> str:
    """The entry's ``performance/run_1`` folder, relative to the root."""
    return ctx.rel(entry.path / "performance" / "run_1")
