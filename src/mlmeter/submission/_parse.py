"""Parsers for the files of an inference result: detail log, summary, ``accuracy.txt``,
and the submission metric of a scenario.

Every parser reads a file that may be hostile or broken: none evaluates anything
(``accuracy.txt`` dicts are read with ``json``, Python-style ones by a literal scanner that
accepts only numbers), and failures come back as one-line messages, never exceptions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.errors import UserError
from mlmeter.logfmt import read_detail

NS_PER_MS = 1_000_000.0

# loadgen.md §1 (RESULT_FIELD_NEW) and §7 (RESULT_FIELD_BENCHMARK_OVERWRITE for LLMs).
_METRIC: dict[str, tuple[str, str]] = {
    "SingleStream": ("early_stopping_latency_ss", "ms"),
    "MultiStream": ("early_stopping_latency_ms", "ms"),
    "Server": ("result_completed_samples_per_sec", "samples/s"),
    "Interactive": ("result_completed_samples_per_sec", "samples/s"),
    "Offline": ("result_samples_per_second", "samples/s"),
}
_TOKEN_METRIC: dict[str, str] = {
    "Server": "result_completed_tokens_per_second",
    "Interactive": "result_completed_tokens_per_second",
    "Offline": "result_tokens_per_second",
}
_LATENCY_SCENARIOS = ("SingleStream", "MultiStream")
_LLM_PREFIXES = ("llama", "mixtral", "gptj", "deepseek", "gpt-oss", "qwen", "whisper-llm")


@dataclass(frozen=True)
class Metric:
    """The submission metric of an entry: detail key, value (ms for latencies), unit."""

    key: str
    value: float | None
    unit: str


def parse_detail(path: Path) -> tuple[dict[str, Any], str]:
    """Key -> value of a detail log (first occurrence, as the official checker), or an error."""
    try:
        return dict(read_detail(path)), ""
    except UserError as exc:
        return {}, str(exc)
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"{path}: cannot read the detail log ({exc.__class__.__name__})"


def parse_summary(path: Path) -> tuple[dict[str, str], str]:
    """``key : value`` lines of a summary (first occurrence wins), or an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"{path}: cannot read the summary ({exc.__class__.__name__})"
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lstrip("*").strip()
        if sep and key and not key.startswith("="):
            out.setdefault(key, value.strip())
    return out, ""


def is_token_run(detail: dict[str, Any], benchmark: str) -> bool:
    """Whether the run reports tokens (§7): token latencies on, or an LLM benchmark."""
    flag = detail.get("requested_use_token_latencies", detail.get("effective_use_token_latencies"))
    if isinstance(flag, bool):
        return flag
    return benchmark.lower().startswith(_LLM_PREFIXES)


def submission_metric(detail: dict[str, Any], benchmark: str, scenario: str) -> Metric:
    """The metric the submission checker reports for ``scenario`` (SS/MS in ms)."""
    key, unit = _METRIC.get(scenario, ("", ""))
    if scenario in _TOKEN_METRIC and is_token_run(detail, benchmark):
        key, unit = _TOKEN_METRIC[scenario], "tokens/s"
    raw = _number(detail.get(key)) if key else None
    if raw is not None and scenario in _LATENCY_SCENARIOS:
        raw /= NS_PER_MS
    return Metric(key, raw, unit)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# --- accuracy.txt ---------------------------------------------------------------------

_HASH = re.compile(r"^hash=(\w+)$")  # the official pattern; the last such line counts
_PAIR = re.compile(r"([A-Za-z_][\w.\- ()]*?)\s*[=:]\s*(-?[0-9][0-9.eE+\-]*)\s*%?")
_DETAIL_KEYS = ("reference", "target", "samples", "result", "good", "total")


def parse_accuracy(path: Path) -> tuple[dict[str, Any] | None, str]:
    """``accuracy.txt`` as a dict (see ``accuracy_fields``), or an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path}: cannot read accuracy.txt ({exc.__class__.__name__})"
    return accuracy_fields(text), ""


def accuracy_fields(text: str) -> dict[str, Any]:
    """What an ``accuracy.txt`` says, in any of the official layouts or mlmeter's.

    Keys: ``values`` (every ``name = number`` pair, ``%`` dropped, in file order; JSON and
    Python-dict lines too), ``metric`` and ``value`` (the first pair that is not a detail
    such as ``reference`` or ``samples``; None if none), ``result`` (``PASS``/``FAIL``
    when mlmeter wrote the verdict, else None), ``hash`` (the last ``hash=`` line's value,
    as written, or None) and
    ``lines`` (the non-empty lines other than the hash line).
    """
    values: dict[str, float] = {}
    digest: str | None = None
    result: str | None = None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if m := _HASH.match(line):
            digest = m.group(1)
            continue
        lines.append(line)
        verdict = re.fullmatch(r"result\s*=\s*(PASS|FAIL)", line, flags=re.IGNORECASE)
        if verdict:
            result = verdict.group(1).upper()
        for name, number in _line_pairs(line):
            values.setdefault(name, number)
    metric = next((k for k in values if k.lower() not in _DETAIL_KEYS), None)
    return {
        "values": values,
        "metric": metric,
        "value": values.get(metric) if metric else None,
        "result": result,
        "hash": digest,
        "lines": lines,
    }


def _line_pairs(line: str) -> list[tuple[str, float]]:
    """``accuracy=76.456%, good=38228, total=50000`` or ``top1 = 0.76``: numeric pairs."""
    if line.startswith("{"):
        return _dict_pairs(line)
    out: list[tuple[str, float]] = []
    for part in line.split(","):
        m = _PAIR.fullmatch(part.strip())
        if m:
            number = _float(m.group(2))
            if number is not None:
                out.append((m.group(1).strip(), number))
    return out


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _dict_pairs(line: str) -> list[tuple[str, float]]:
    """``{"f1": 90.8, ...}`` (JSON) or ``{'rouge1': 44.4, ...}`` (Python repr)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        return [(str(k), float(v)) for k, v in data.items() if _number(v) is not None]
    pattern = r"['\"]([^'\"]+)['\"]\s*:\s*(?:np\.float64\()?(-?[0-9][0-9.eE+\-]*)"
    pairs = ((m.group(1), _float(m.group(2))) for m in re.finditer(pattern, line))
    return [(k, v) for k, v in pairs if v is not None]
