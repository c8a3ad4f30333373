"""Refuse unknown keys and values of the wrong kind in a round file, naming file and line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlmeter.errors import ConfigError

_STR_LIST = "list of strings"
_NUM = "number"
# table -> key -> expected kind; "*" tables hold one sub-table per benchmark.
_ROUND_KEYS = {
    "inherits": "string",
    "official": "boolean",
    "description": "string",
    "min_duration_ms": "integer",
    "waived_errors": _STR_LIST,
    "remove_benchmarks": _STR_LIST,
    "remove_training": _STR_LIST,
}
_SEED_KEYS = dict.fromkeys(
    ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"), "integer"
)
FILE_KEYS = dict.fromkeys(
    (
        "performance",
        "performance_optional",
        "accuracy",
        "accuracy_optional",
        "scenario",
        "scenario_optional",
    ),
    _STR_LIST,
)
_SYSTEM_KEYS = {"required_fields": _STR_LIST, "training_required_fields": _STR_LIST}
_BENCH_KEYS = {
    "category": "string",
    "datacenter": _STR_LIST,
    "edge": _STR_LIST,
    "performance_sample_count": "integer",
    "min_query_count": "table",
    "accuracy": "table",
    "server_latency_ms": _NUM,
    "ttft_ms": _NUM,
    "tpot_ms": _NUM,
    "early_stopping": "boolean",
    "token_latencies": "boolean",
}
_ACC_KEYS = {
    "metric": "string",
    "regex": "string",
    "reference": _NUM,
    "fraction": _NUM,
    "upper_fraction": _NUM,
}
_QUERY_KEYS = dict.fromkeys(("SingleStream", "MultiStream", "Server", "Offline"), "integer")
_TRAIN_KEYS = {"runs": "integer", "target": _NUM, "higher_is_better": "boolean"}
_TOP = {"round": _ROUND_KEYS, "seeds": _SEED_KEYS, "files": FILE_KEYS, "system": _SYSTEM_KEYS}


def validate(path: Path, text: str, data: dict[str, Any]) -> None:
    """Refuse unknown keys and values of the wrong kind, naming the file and line."""
    for table, value in data.items():
        if table in _TOP:
            _check_table(path, text, table, value, _TOP[table])
        elif table == "benchmarks":
            for name, sub in _as_table(path, text, table, value).items():
                _check_benchmark(path, text, f"benchmarks.{name}", sub)
        elif table == "training":
            for name, sub in _as_table(path, text, table, value).items():
                _check_table(path, text, f"training.{name}", sub, _TRAIN_KEYS)
        else:
            _unknown(path, text, table, "", ("benchmarks", "training", *_TOP))


def _check_benchmark(path: Path, text: str, where: str, sub: Any) -> None:
    _check_table(path, text, where, sub, _BENCH_KEYS)
    if "accuracy" in sub:
        _check_table(path, text, f"{where}.accuracy", sub["accuracy"], _ACC_KEYS)
    if "min_query_count" in sub:
        _check_table(path, text, f"{where}.min_query_count", sub["min_query_count"], _QUERY_KEYS)


def _as_table(path: Path, text: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(
            str(path), line_of(text, where.split(".")[-1]), f"'{where}' must be a table"
        )
    return value


def _check_table(path: Path, text: str, where: str, value: Any, keys: dict[str, str]) -> None:
    for key, item in _as_table(path, text, where, value).items():
        if key not in keys:
            _unknown(path, text, key, where, tuple(keys))
        if not _kind_ok(item, keys[key]):
            raise ConfigError(
                str(path),
                line_of(text, key),
                f"'{where}.{key}' must be {_article(keys[key])}, got {item!r}",
            )


def _unknown(path: Path, text: str, key: str, where: str, known: tuple[str, ...]) -> None:
    name = f"{where}.{key}" if where else key
    raise ConfigError(
        str(path),
        line_of(text, key),
        f"unknown key '{name}'; known keys: {', '.join(sorted(known))}",
    )


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _NUM:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "table":
        return isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def line_of(text: str, key: str) -> int:
    """The first line that defines ``key`` (as ``key =`` or in a ``[table]`` header)."""
    k = re.escape(key)
    pattern = re.compile(rf'^\s*(\[\[?[^\]]*\b{k}\b[^\]]*\]|"?{k}"?\s*=|.*[{{,]\s*"?{k}"?\s*=)')
    for no, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return no
    return 0


def _article(kind: str) -> str:
    """``an integer``, ``a number``."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
