"""Text and JSON renderings of rows and deltas for ``mlmeter results``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from mlmeter.results._model import Delta, RunRow

_LIST_HEAD = ("id", "run_at", "kind", "source", "system", "benchmark", "scenario", "value", "valid")


def _value(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.6g} {unit}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    top = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    return "\n".join([top, *lines]).rstrip()


def render_rows(rows: Sequence[RunRow]) -> str:
    """One line per row, newest first."""
    if not rows:
        return "no results"
    body = [
        (str(r.id), r.run_at or r.recorded_at, r.kind, r.source, r.system, r.benchmark,
         r.scenario or "-", _value(r.value, r.unit), "VALID" if r.valid else "INVALID")
        for r in rows
    ]  # fmt: skip
    return _table(_LIST_HEAD, body)


def render_row(row: RunRow) -> str:
    """Every field of one row, ``extra`` as indented JSON."""
    lines = [f"{f.name:17}: {getattr(row, f.name)}" for f in dataclasses.fields(row)[:-1]]
    lines.append("extra            : " + json.dumps(row.extra, indent=2, sort_keys=True))
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def render_deltas(deltas: Sequence[Delta]) -> str:
    """One line per compared key: means, change, noise, verdict."""
    if not deltas:
        return "nothing to compare"
    head = ("system", "benchmark", "scenario", "a (n)", "b (n)", "change", "noise", "verdict")
    body = [
        (*d.key[:2], d.key[2] or "-", _mean(d.a, d.unit), _mean(d.b, d.unit), _pct(d.change),
         "-" if d.noise is None else f"{d.noise * 100:.2f}%", _verdict(d))
        for d in deltas
    ]  # fmt: skip
    return _table(head, body)


def _mean(values: Sequence[float], unit: str) -> str:
    if not values:
        return "-"
    return f"{sum(values) / len(values):.6g} {unit} ({len(values)})"


def _verdict(d: Delta) -> str:
    if d.change is None:
        return "missing"
    if d.better is None:
        return "same"
    word = "better" if d.better else "worse"
    if d.significant is None:
        return f"{word} (no repeats: noise unknown)"
    return word if d.significant else f"{word}, within noise"


def rows_json(rows: Sequence[RunRow]) -> str:
    """Rows as a JSON list of objects."""
    return json.dumps([dataclasses.asdict(r) for r in rows], indent=2)


def deltas_json(deltas: Sequence[Delta]) -> str:
    """Deltas as a JSON list of objects."""
    out: list[dict[str, Any]] = []
    for d in deltas:
        doc = dataclasses.asdict(d)
        doc["key"] = dict(zip(("system", "benchmark", "scenario"), d.key, strict=True))
        out.append(doc)
    return json.dumps(out, indent=2)
