"""``accuracy.txt``: the scored metric against its target, and the log's hash."""

from __future__ import annotations

from pathlib import Path

from mlmeter.logfmt import atomic_write_text
from mlmeter.logfmt._digest import sha256_file
from mlmeter.workloads import AccuracyResult


def write_accuracy_txt(path: Path, acc: AccuracyResult, accuracy_log: Path) -> Path:
    """Write the metric, reference, target and verdict, then ``hash=<sha256 of the log>``."""
    t = acc.target
    digest = sha256_file(accuracy_log)
    lines = [
        f"{acc.metric} = {acc.value:.6g}",
        f"reference = {t.reference:.6g}",
        f"target = {t.fraction:.4g} x reference = {t.threshold:.6g}",
        f"samples = {acc.count}",
        f"result = {'PASS' if acc.passed else 'FAIL'}",
        *(f"{k} = {v}" for k, v in sorted(acc.details.items())),
        f"hash={digest}",
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
