"""``accuracy.txt``: the scored metric and its verdict, as ``mlmeter run`` writes it.

Its first ``name = value`` line is the metric, ``result = PASS|FAIL`` the verdict; the
``reference``, ``target`` and other ``key = value`` lines are kept as details. A file in
another layout (an official accuracy script's output) keeps its first line as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ACCURACY_FILE = "accuracy.txt"


@dataclass(frozen=True)
class AccuracyInfo:
    """The accuracy of one run; fields are None where the file does not say."""

    metric: str | None
    value: float | None
    passed: bool | None
    details: tuple[tuple[str, str], ...]  # every other key = value line, in file order
    text: str  # the first non-empty line, as written

    @property
    def verdict(self) -> str:
        """``PASS``, ``FAIL`` or ``""`` when the file has no verdict."""
        return "" if self.passed is None else ("PASS" if self.passed else "FAIL")


def read_accuracy_txt(path: Path) -> AccuracyInfo:
    """Parse an ``accuracy.txt``; never fails on an unknown layout."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    pairs = [_pair(ln) for ln in lines]
    metric: str | None = None
    value: float | None = None
    passed: bool | None = None
    details: list[tuple[str, str]] = []
    for pair in pairs:
        if pair is None:
            continue
        key, text = pair
        if key == "result" and text.upper() in ("PASS", "FAIL"):
            passed = text.upper() == "PASS"
        elif metric is None and _float(text) is not None:
            metric, value = key, _float(text)
        elif not key.startswith("hash"):
            details.append((key, text))
    return AccuracyInfo(metric, value, passed, tuple(details), lines[0] if lines else "")


def _pair(line: str) -> tuple[str, str] | None:
    key, sep, value = line.partition("=")
    return (key.strip(), value.strip()) if sep and key.strip() else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
