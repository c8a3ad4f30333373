"""Checks of each ``accuracy/`` folder: the metric against its target, and the log's hash.

The closed and network divisions must reach the round's target (``fraction x reference``)
and stay under its upper limit, if any. The open division runs other models, so, as the
official checker does, a value under the round's target is only a warning there; but a
run that misses the target its own ``accuracy.txt`` states (mlmeter writes
``target = 0.99 x reference = 74.25``) fails. ``hash=`` must be the sha256 of the full
accuracy log; a log the official tool truncated (over 10 KiB) cannot be re-hashed, and the
manifest's sha256 guards it instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlmeter.logfmt._digest import sha256_file
from mlmeter.rules import Benchmark
from mlmeter.submission import _layout as L
from mlmeter.submission._accuracy_txt import SEPARATOR, VIEWABLE_SIZE, hash_lines
from mlmeter.submission._checks_common import (
    CLOSED_LIKE,
    Context,
    entry_label,
    error,
    note,
    warning,
)
from mlmeter.submission._findings import Finding
from mlmeter.submission._model import InferenceEntry

_STATED_TARGET = re.compile(r"^target\s*=.*=\s*(-?[0-9][0-9.eE+\-]*)\s*$", re.MULTILINE)


def check_accuracy(ctx: Context) -> Iterator[Finding]:
    """The metric of every ``accuracy.txt`` against its target; its hash against the log."""
    for entry in ctx.tree.inference:
        path = entry.path / L.ACCURACY / L.ACCURACY_TXT
        if not path.is_file():
            continue  # files.missing reports it
        text = path.read_text(encoding="utf-8", errors="replace")
        bench = ctx.round.benchmark(entry.benchmark)
        if bench is not None:
            yield from _target(ctx, entry, bench, text)
        yield from _hash(ctx, entry, text)


def _target(ctx: Context, entry: InferenceEntry, bench: Benchmark, text: str) -> Iterator[Finding]:
    where = ctx.rel(entry.path / L.ACCURACY / L.ACCURACY_TXT)
    acc, closed = bench.accuracy, entry.division in CLOSED_LIKE
    m = re.search(acc.regex, text, re.MULTILINE)
    value = _float(m.group(1)) if m else None
    if value is None:
        msg = f"{entry_label(entry)}: no {acc.metric} value (no line matches {acc.regex!r})"
        yield (error if closed else note)("accuracy.no_metric", where, msg)
    else:
        yield from _round_target(ctx, entry, bench, value, where)
    if not closed:
        yield from _stated_target(entry, text, where)


def _round_target(
    ctx: Context, entry: InferenceEntry, bench: Benchmark, value: float, where: str
) -> Iterator[Finding]:
    acc, closed = bench.accuracy, entry.division in CLOSED_LIKE
    label = f"{entry_label(entry)}: {acc.metric} = {value:g}"
    if value < acc.target:
        msg = f"{label} is below the round {ctx.round.name} target {acc.target:g}"
        if closed:
            yield error("accuracy.below_target", where, msg)
        else:
            yield warning("accuracy.below_target", where, msg + " (accepted in open)")
    if acc.upper is not None and value > acc.upper and closed:
        msg = f"{label} is above the round {ctx.round.name} upper limit {acc.upper:g}"
        yield error("accuracy.above_limit", where, msg)


def _stated_target(entry: InferenceEntry, text: str, where: str) -> Iterator[Finding]:
    """Open division: the run must meet the target its own ``accuracy.txt`` states."""
    parsed = entry.accuracy or {}
    metric, value = parsed.get("metric"), parsed.get("value")
    stated = _STATED_TARGET.search(text)
    target = _float(stated.group(1)) if stated else None
    if isinstance(value, int | float) and target is not None and value < target:
        msg = (f"{entry_label(entry)}: {metric} = {value:g} is below the target its "
               f"accuracy.txt states ({target:g})")  # fmt: skip
        yield error("accuracy.below_target", where, msg)
    elif parsed.get("result") == "FAIL":
        msg = f"{entry_label(entry)}: accuracy.txt says result = FAIL"
        yield error("accuracy.below_target", where, msg)


def _hash(ctx: Context, entry: InferenceEntry, text: str) -> Iterator[Finding]:
    where = ctx.rel(entry.path / L.ACCURACY / L.ACCURACY_TXT)
    hashes = hash_lines(text)
    if not hashes:
        msg = f"{entry_label(entry)}: accuracy.txt has no hash=<sha256 of the accuracy log> line"
        yield error("accuracy.no_hash", where, msg)
        return
    log = entry.path / L.ACCURACY / L.ACCURACY_LOG
    if not log.is_file():
        return  # files.missing reports it
    if _truncated(log.read_bytes()):
        msg = f"{entry_label(entry)}: the accuracy log is truncated; its hash is not re-checked"
        yield note("accuracy.hash_unchecked", where, msg)
        return
    digest = sha256_file(log)
    if hashes[-1].lower() != digest:
        msg = (f"{entry_label(entry)}: hash={hashes[-1]} but mlperf_log_accuracy.json has "
               f"sha256 {digest}: the log changed after it was scored")  # fmt: skip
        yield error("accuracy.hash_mismatch", where, msg)


def _truncated(data: bytes) -> bool:
    """The official truncation: 4096 bytes, the separator, 4096 bytes."""
    return (
        len(data) == 2 * VIEWABLE_SIZE + len(SEPARATOR)
        and data[VIEWABLE_SIZE : VIEWABLE_SIZE + len(SEPARATOR)] == SEPARATOR
    )


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
