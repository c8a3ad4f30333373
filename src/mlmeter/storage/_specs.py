"""MLPerf Storage workloads as typed data: training workloads and checkpointing models.

The numbers live in ``storage/data/workloads.toml`` (TOML, no code); this module reads it
with :mod:`tomllib` and validates it into frozen dataclasses. An unknown key or a value of
the wrong type is refused with the file, the line and the key to fix.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from mlmeter.errors import ConfigError, SettingsError, UsageError

WORKLOADS_TOML = Path(__file__).parent / "data" / "workloads.toml"
FORMATS = ("npz", "tfrecord", "hdf5")
ACCELERATORS = ("a100", "h100")
_T = TypeVar("_T")


@dataclass(frozen=True)
class StorageWorkload:
    """One training workload on one accelerator type (a DLIO workload config)."""

    name: str
    accelerator: str
    format: str
    samples_per_file: int
    record_bytes: int
    record_bytes_stdev: int
    batch_size: int
    read_threads: int
    compute_s: float
    epochs: int
    au_threshold: float
    source: str

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise SettingsError(f"format={self.format!r}: use one of {', '.join(FORMATS)}")
        for name in ("samples_per_file", "record_bytes", "batch_size", "read_threads", "epochs"):
            _positive_int(name, getattr(self, name))
        if not isinstance(self.record_bytes_stdev, int) or self.record_bytes_stdev < 0:
            raise SettingsError(f"record_bytes_stdev={self.record_bytes_stdev!r}: must be >= 0")
        if not isinstance(self.compute_s, int | float) or self.compute_s < 0:
            raise SettingsError(f"compute_s={self.compute_s!r}: seconds per batch, >= 0")
        if not isinstance(self.au_threshold, int | float) or not 0 < self.au_threshold <= 1:
            raise SettingsError(f"au_threshold={self.au_threshold!r}: a fraction in (0, 1]")


@dataclass(frozen=True)
class CheckpointModel:
    """A transformer checkpointing case: its shape and its closed-division parallelism."""

    name: str
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    layers: int
    vocab: int
    tp: int
    pp: int
    dp: int
    zero_stage: int
    processes: int
    source: str = ""

    def __post_init__(self) -> None:
        for f in fields(self)[1:-1]:
            if f.name != "zero_stage":
                _positive_int(f.name, getattr(self, f.name))
        if self.zero_stage not in (0, 1, 2, 3):
            raise SettingsError(f"zero_stage={self.zero_stage!r}: use 0, 1, 2 or 3")
        if self.heads % self.kv_heads:
            raise SettingsError(f"kv_heads={self.kv_heads}: must divide heads={self.heads}")
        if self.processes != self.tp * self.pp * self.dp:
            raise SettingsError(
                f"processes={self.processes}: must equal tp x pp x dp = "
                f"{self.tp * self.pp * self.dp}"
            )


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SettingsError(f"{name}={value!r}: must be a whole number >= 1")


def workload_names(path: Path | None = None) -> tuple[str, ...]:
    """The training workloads in the table, in file order (``unet3d``, ``resnet50``, ...)."""
    return tuple(_table(path or WORKLOADS_TOML)[0])


def checkpoint_model_names(path: Path | None = None) -> tuple[str, ...]:
    """The checkpointing models in the table (``llama3-8b`` ... ``llama3-1t``)."""
    return tuple(_table(path or WORKLOADS_TOML)[1])


def load_workload(
    name: str, accelerator: str = "h100", path: Path | None = None
) -> StorageWorkload:
    """The workload ``name`` for ``accelerator`` (``a100`` or ``h100``)."""
    training = _table(path or WORKLOADS_TOML)[0]
    if name not in training:
        raise UsageError(f"unknown storage workload {name!r}: use one of {', '.join(training)}")
    by_accel = training[name]
    if accelerator not in by_accel:
        known = ", ".join(by_accel)
        raise UsageError(f"--accelerator {accelerator!r}: {name} has only {known}")
    return by_accel[accelerator]


def load_checkpoint_model(name: str, path: Path | None = None) -> CheckpointModel:
    """The checkpointing model ``name`` (``llama3-8b``, ``-70b``, ``-405b``, ``-1t``)."""
    models = _table(path or WORKLOADS_TOML)[1]
    if name not in models:
        raise UsageError(f"unknown checkpoint model {name!r}: use one of {', '.join(models)}")
    return models[name]


_Training = dict[str, dict[str, StorageWorkload]]
_Models = dict[str, CheckpointModel]
_WORKLOAD_KEYS = {f.name for f in fields(StorageWorkload)} - {"name", "accelerator"}
_MODEL_KEYS = {f.name for f in fields(CheckpointModel)} - {"name"}


@functools.cache
def _table(path: Path) -> tuple[_Training, _Models]:
    """The validated contents of a workloads file (cached per path)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), 0, f"not valid TOML: {exc}") from None
    where = _Where(path, text)
    where.check_keys("", data, {"version", "round", "training", "checkpoint"})
    if data.get("version") != 1:
        where.fail("version", f"version={data.get('version')!r}: this mlmeter reads version 1")
    training = {n: _training(where, n, t) for n, t in data.get("training", {}).items()}
    models = {n: _model(where, n, t) for n, t in data.get("checkpoint", {}).items()}
    return training, models


def _training(where: _Where, name: str, table: dict[str, Any]) -> dict[str, StorageWorkload]:
    common = {k: v for k, v in table.items() if not isinstance(v, dict)}
    where.check_keys(f"training.{name}", common, _WORKLOAD_KEYS - {"compute_s"})
    out: dict[str, StorageWorkload] = {}
    for accel, over in ((k, v) for k, v in table.items() if isinstance(v, dict)):
        section = f"training.{name}.{accel}"
        if accel not in ACCELERATORS:
            where.fail(f"[{section}]", f"[{section}]: unknown accelerator; use {ACCELERATORS}")
        where.check_keys(section, over, _WORKLOAD_KEYS)
        merged = {**common, **over}
        missing = sorted(_WORKLOAD_KEYS - set(merged))
        if missing:
            where.fail(f"[{section}]", f"[{section}]: missing {', '.join(missing)}")
        out[accel] = where.build(section, StorageWorkload, name=name, accelerator=accel, **merged)
    return out


def _model(where: _Where, name: str, table: dict[str, Any]) -> CheckpointModel:
    section = f"checkpoint.{name}"
    where.check_keys(section, table, _MODEL_KEYS)
    missing = sorted(_MODEL_KEYS - {"source"} - set(table))
    if missing:
        where.fail(f"[{section}]", f"[{section}]: missing {', '.join(missing)}")
    return where.build(section, CheckpointModel, name=name, **table)


@dataclass(frozen=True)
class _Where:
    """Turns a problem into a ``ConfigError`` carrying the file and the line."""

    path: Path
    text: str

    def line_of(self, needle: str) -> int:
        for no, line in enumerate(self.text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith(needle) or stripped.startswith(f'"{needle}"'):
                return no
        return 0

    def fail(self, needle: str, message: str) -> None:
        raise ConfigError(str(self.path), self.line_of(needle), message)

    def check_keys(self, section: str, table: dict[str, Any], allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                where = f"[{section}]" if section else "the top level"
                self.fail(key, f"unknown key {key!r} in {where}: use {', '.join(sorted(allowed))}")

    def build(self, section: str, cls: type[_T], **values: Any) -> _T:
        try:
            return cls(**values)
        except SettingsError as exc:
            raise ConfigError(
                str(self.path), self.line_of(f"[{section}]"), f"[{section}] {exc}"
            ) from None
