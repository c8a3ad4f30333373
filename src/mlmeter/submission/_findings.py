"""Findings: what every submission check returns (never a bare boolean).

A ``Finding`` names its severity, a stable code (``perf.invalid_run``), the path it is
about (relative to the tree's root, ``/``-separated) and a one-line message with the
numbers. ``Findings`` is the list a check run returns, with the views the CLI prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is: an error fails the check; a warning and a note do not."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}


@dataclass(frozen=True, order=False)
class Finding:
    """One thing a check found."""

    severity: Severity
    code: str  # stable, dotted: "<check>.<what>", e.g. "perf.invalid_run"
    path: str  # relative to the tree's root, "/"-separated; "" for the whole tree
    message: str  # one line, with the numbers

    def __post_init__(self) -> None:
        if not isinstance(self.severity, Severity):
            object.__setattr__(self, "severity", Severity(self.severity))
        if "\n" in self.message:
            raise ValueError(f"a finding's message is one line: {self.message!r}")

    def as_dict(self) -> dict[str, str]:
        """The JSON object: ``severity``, ``code``, ``path``, ``message``."""
        d = asdict(self)
        d["severity"] = self.severity.value
        return d

    def line(self) -> str:
        """``error perf.invalid_run: closed/Org/results/...: the run is INVALID (...)``."""
        where = f"{self.path}: " if self.path else ""
        return f"{self.severity.value} {self.code}: {where}{self.message}"


class Findings:
    """An ordered list of findings (errors first, then by path and code)."""

    def __init__(self, items: Iterable[Finding] = ()) -> None:
        self._items = list(items)

    def add(self, *items: Finding) -> None:
        """Append findings."""
        self._items.extend(items)

    def extend(self, items: Iterable[Finding]) -> None:
        """Append every finding of ``items``."""
        self._items.extend(items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.sorted())

    def __len__(self) -> int:
        return len(self._items)

    def sorted(self) -> list[Finding]:
        """Errors first, then warnings, then notes; by path and code within each."""
        return sorted(self._items, key=lambda f: (_ORDER[f.severity], f.path, f.code, f.message))

    @property
    def errors(self) -> list[Finding]:
        """The findings that fail the check."""
        return [f for f in self.sorted() if f.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def codes(self) -> set[str]:
        """Every code present."""
        return {f.code for f in self._items}

    def to_json(self) -> str:
        """A JSON list of ``{severity, code, path, message}`` objects."""
        return json.dumps([f.as_dict() for f in self.sorted()], indent=2)

    def render(self) -> str:
        """Grouped by severity, one line each, then a count line."""
        lines: list[str] = []
        for severity in Severity:
            group = [f for f in self.sorted() if f.severity is severity]
            if group:
                lines.append(f"{severity.value}s ({len(group)}):")
                lines += [f"  {f.line().split(' ', 1)[1]}" for f in group]
        n_err = len(self.errors)
        lines.append(
            "submission check: PASS (no errors)" if n_err == 0
            else f"submission check: FAIL ({n_err} error(s))"
        )  # fmt: skip
        return "\n".join(lines)
