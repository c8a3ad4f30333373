"""Read a round's TOML, resolve its ``inherits`` chain, and validate it into a ``Round``.

A round file states only its changes from the round it inherits: tables merge key by
key, any other value (lists included) replaces the inherited one, and
``[round] remove_benchmarks`` / ``remove_training`` drop inherited benchmarks. Unknown
keys are refused with the file and line; no file can run code (TOML only, no eval).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from mlmeter.errors import ConfigError, UsageError
from mlmeter.rules._schema import (
    Accuracy,
    Benchmark,
    RequiredFiles,
    Round,
    Seeds,
    TrainingBenchmark,
)
from mlmeter.rules._validate import FILE_KEYS, line_of, validate

DATA = Path(__file__).parent / "data"
_NOT_INHERITED = ("inherits", "official", "description", "remove_benchmarks", "remove_training")


def available_rounds() -> tuple[str, ...]:
    """The names of the shipped rounds, oldest official first, ``dev`` last."""
    names = [p.stem for p in DATA.glob("*.toml")]
    return tuple(sorted(names, key=_order))


def latest_official() -> str:
    """The newest shipped round marked ``official = true``."""
    official = [
        n
        for n in available_rounds()
        if _read(_path_of(n))[0].get("round", {}).get("official", False)
    ]
    if not official:
        raise UsageError("no official round is shipped in mlmeter/rules/data")
    return official[-1]


def load_round(name_or_path: str | Path) -> Round:
    """The rules of a shipped round (``"6.0"``, ``"dev"``) or of a ``.toml`` file."""
    path = _path_of(name_or_path)
    merged = _resolve(path, ())
    return _build(path, merged)


def _order(name: str) -> tuple[int, tuple[int, ...], str]:
    parts = name.split(".")
    if all(p.isdigit() for p in parts):
        return (0, tuple(int(p) for p in parts), name)
    return (1, (), name)


def _path_of(name_or_path: str | Path, near: Path | None = None) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or isinstance(name_or_path, Path):
        path = Path(text)
        if not path.is_absolute() and near is not None and (near / path).exists():
            path = near / path
        if not path.is_file():
            raise UsageError(f"round file not found: {text} (use --round NAME or a .toml path)")
        return path
    if near is not None and (near / f"{text}.toml").is_file():
        return near / f"{text}.toml"
    path = DATA / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(available_rounds())
        raise UsageError(f"unknown round {text!r}: use one of {known}, or a .toml file")
    return path


def _read(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), _decode_line(exc), f"not valid TOML: {exc}") from None


def _decode_line(exc: tomllib.TOMLDecodeError) -> int:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else 0


def _resolve(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The merged data of ``path`` and every round it inherits."""
    here = path.resolve()
    if here in seen:
        chain = " -> ".join(p.stem for p in (*seen, here))
        raise ConfigError(
            str(path), line_of(path.read_text(), "inherits"), f"'inherits' makes a cycle: {chain}"
        )
    data, text = _read(path)
    validate(path, text, data)
    parent = data.get("round", {}).get("inherits")
    if parent is None:
        return data
    base = _resolve(_path_of(parent, near=path.parent), (*seen, here))
    return _merge(base, data)


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``: removals first, then tables merge key by key."""
    base = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    base["round"] = {k: v for k, v in base.get("round", {}).items() if k not in _NOT_INHERITED}
    removals = child.get("round", {})
    for table, key in (("benchmarks", "remove_benchmarks"), ("training", "remove_training")):
        for name in removals.get(key, ()):
            base.get(table, {}).pop(name, None)
    return _deep_merge(base, child)


def _deep_merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = _deep_merge(old, value)
        else:
            out[key] = value
    return out


def _build(path: Path, data: dict[str, Any]) -> Round:
    """The validated ``Round`` of merged data (missing tables name the key to add)."""
    rnd = data.get("round", {})
    for table in ("seeds", "files", "system"):
        if table not in data:
            raise ConfigError(
                str(path), 0, f"missing table [{table}] (in it or a round it inherits)"
            )
    if "min_duration_ms" not in rnd:
        raise ConfigError(str(path), 0, "missing 'round.min_duration_ms'")
    f = data["files"]
    files = RequiredFiles(**{k: tuple(f.get(k, ())) for k in FILE_KEYS})
    return Round(
        name=path.stem,
        inherits=rnd.get("inherits"),
        official=bool(rnd.get("official", False)),
        min_duration_ms=rnd["min_duration_ms"],
        seeds=_construct(path, "seeds", Seeds, data["seeds"]),
        files=files,
        system_fields=tuple(data["system"].get("required_fields", ())),
        training_system_fields=tuple(data["system"].get("training_required_fields", ())),
        benchmarks={n: _benchmark(path, n, b) for n, b in data.get("benchmarks", {}).items()},
        training={
            n: _construct(path, f"training.{n}", TrainingBenchmark, {"name": n, **t})
            for n, t in data.get("training", {}).items()
        },
        waived_errors=tuple(rnd.get("waived_errors", ())),
        source=str(path),
    )


def _benchmark(path: Path, name: str, b: dict[str, Any]) -> Benchmark:
    if "accuracy" not in b:
        raise ConfigError(str(path), 0, f"benchmarks.{name}: missing [benchmarks.{name}.accuracy]")
    acc = _construct(path, f"benchmarks.{name}.accuracy", Accuracy, b["accuracy"])
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in b.items() if k != "accuracy"}
    bench: Benchmark = _construct(
        path, f"benchmarks.{name}", Benchmark, {"name": name, **fields, "accuracy": acc}
    )
    return bench


def _construct(path: Path, where: str, cls: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except TypeError as exc:
        missing = re.findall(r"'(\w+)'", str(exc))
        what = f"missing key(s) {', '.join(f'{where}.{m}' for m in missing)}" if missing else exc
        raise ConfigError(str(path), 0, f"{what} (in it or a round it inherits)") from None
