"""mlperf.conf / user.conf: parse, validate and apply with the official LoadGen semantics.

Syntax: ``model.Scenario.key = value`` (spaces around ``=``), ``#`` comments (whole-line or
trailing), blank lines; ``*`` stands for any model and/or any scenario. Times are in ms and
percentages in %; they are converted to the ``TestSettings`` units (ns, fractions).

Semantics of LoadGen 6.0.17 (``TestSettings::FromConfig`` in ``test_settings_internal.cc``,
checked against the official wheel by ``tests/unit/test_conf.py``):

* Files are applied one after the other (mlperf.conf, then user.conf). For each key LoadGen
  looks in THAT file for ``model.Scenario``, then ``*.Scenario``, then ``model.*``, then
  ``*.*``, and overwrites the field if it finds one. So any matching user.conf line, even
  ``*.*``, beats every mlperf.conf line. A repeated name in one file: the last line wins.
* Scenario-specific keys are looked up in their own section whatever the run's scenario
  (``target_qps``: server_target_qps from Server, offline_expected_qps from Offline); the
  others are looked up under the run's scenario.
* Seeds, ``accuracy_log_probability`` and ``test05*`` are read only from mlperf.conf.
  ``ttft_latency``/``tpot_latency`` apply only while use_token_latencies is on, and
  ``token_latency_scaling_factor`` only while infer_token_latencies is on.

Where LoadGen would silently ignore or misread a line, mlmeter refuses it with
``ConfigError(path, line_no, ...)``: unknown keys or scenarios, ``key=value`` without
spaces, octal-looking or fractional whole numbers, negative values, user.conf lines LoadGen
never reads (seeds, ``*.Offline.target_latency_percentile``, ``target_duration``).
``response_timeout`` (ms) is an mlmeter extension that LoadGen ignores.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from mlmeter.errors import ConfigError, SettingsError
from mlmeter.settings._enums import Scenario, TestMode
from mlmeter.settings._test_settings import TestSettings

ConfSource = Literal["mlperf", "user"]

SHIPPED_MLPERF_CONF = Path(__file__).parent / "data" / "mlperf.conf"
WILDCARD = "*"

_NS_PER_MS = 1_000_000
_U64_MAX = 2**64 - 1
_SS, _MS = Scenario.SINGLE_STREAM, Scenario.MULTI_STREAM
_SERVER, _OFFLINE = Scenario.SERVER, Scenario.OFFLINE


@dataclass(frozen=True)
class ConfLine:
    """One validated setting line; ``scenario`` None means ``*``, ``model`` may be ``*``."""

    path: str
    line_no: int
    model: str
    scenario: Scenario | None
    key: str
    raw_value: str

    @property
    def where(self) -> str:
        """``path:line_no``, as in error messages and provenance."""
        return f"{self.path}:{self.line_no}"


@dataclass(frozen=True)
class ConfChange:
    """A field that a conf line sets, with the value in ``TestSettings`` units."""

    field: str
    value: Any
    line: ConfLine


class _Kind(Enum):
    INT = "a whole number"
    NUMBER = "a number"
    BOOL = "0 or 1"
    MODE = "0 (submission), 1 (accuracy), 2 (performance) or 3 (find peak)"


@dataclass(frozen=True)
class _Target:
    field: str
    section: Scenario | None = None  # None: looked up under the run's scenario
    scale: int = 1
    positive: bool = False
    whole: bool = False  # LoadGen reads it with strtoull: a fraction would be truncated


@dataclass(frozen=True)
class _Key:
    name: str
    kind: _Kind
    targets: tuple[_Target, ...]
    unit: str = ""
    mlperf_only: bool = False
    gate: str | None = None
    hint: str = ""


def _key(name: str, kind: _Kind, *targets: _Target, **options: Any) -> _Key:
    return _Key(name, kind, targets, **options)


def _same(name: str, kind: _Kind, **options: Any) -> _Key:
    return _Key(name, kind, (_Target(name),), **options)


_INT, _NUMBER, _BOOL = _Kind.INT, _Kind.NUMBER, _Kind.BOOL

# In the order LoadGen 6.0.17 reads them (the order matters only for the gates).
_KEY_TABLE: tuple[_Key, ...] = (
    _key("mode", _Kind.MODE, _Target("mode")),
    _same("qsl_rng_seed", _INT, mlperf_only=True),
    _same("sample_index_rng_seed", _INT, mlperf_only=True),
    _same("schedule_rng_seed", _INT, mlperf_only=True),
    _same("accuracy_log_probability", _NUMBER, unit="%", mlperf_only=True),
    _same("test05", _BOOL, mlperf_only=True),
    _same("test05_qsl_rng_seed", _INT, mlperf_only=True),
    _same("test05_sample_index_rng_seed", _INT, mlperf_only=True),
    _same("test05_schedule_rng_seed", _INT, mlperf_only=True),
    _same("use_token_latencies", _BOOL),
    _key(
        "ttft_latency",
        _INT,
        _Target("server_ttft_latency", _SERVER, _NS_PER_MS),
        unit="ms",
        gate="use_token_latencies",
    ),
    _key(
        "tpot_latency",
        _INT,
        _Target("server_tpot_latency", _SERVER, _NS_PER_MS),
        unit="ms",
        gate="use_token_latencies",
    ),
    _same("infer_token_latencies", _BOOL),
    _same("token_latency_scaling_factor", _INT, gate="infer_token_latencies"),
    _key(
        "target_latency_percentile",
        _NUMBER,
        _Target("single_stream_target_latency_percentile", _SS),
        _Target("multi_stream_target_latency_percentile", _MS),
        _Target("server_target_latency_percentile", _SERVER),
        unit="%",
    ),
    _key("samples_per_query", _INT, _Target("multi_stream_samples_per_query", _MS, positive=True)),
    _key(
        "target_latency",
        _NUMBER,
        _Target("server_target_latency_ns", _SERVER, _NS_PER_MS, whole=True),
        _Target("single_stream_expected_latency_ns", _SS, _NS_PER_MS, positive=True),
        _Target("multi_stream_expected_latency_ns", _MS, _NS_PER_MS, positive=True),
        unit="ms",
    ),
    _same("performance_issue_unique", _BOOL),
    _same("performance_issue_same", _BOOL),
    _same("performance_issue_same_index", _INT),
    _same("sample_concatenate_permutation", _BOOL),
    _key("coalesce_queries", _BOOL, _Target("server_coalesce_queries", _SERVER)),
    _key("max_async_queries", _INT, _Target("server_max_async_queries", _SERVER)),
    _key("min_duration", _INT, _Target("min_duration_ms"), unit="ms"),
    _key("max_duration", _INT, _Target("max_duration_ms"), unit="ms"),
    _same("min_query_count", _INT),
    _same("max_query_count", _INT),
    _same("performance_sample_count_override", _INT),
    _same("accuracy_sample_count_override", _INT),
    _key(
        "target_qps",
        _NUMBER,
        _Target("server_target_qps", _SERVER, positive=True),
        _Target("offline_expected_qps", _OFFLINE, positive=True),
    ),
    _same("print_timestamps", _BOOL),
    _same("accuracy_log_rng_seed", _INT),
    _same("accuracy_log_sampling_target", _INT),
    _key(
        "target_duration",
        _INT,
        hint="remove the line: LoadGen never reads it (min_duration sets the run length)",
    ),
    _key("response_timeout", _INT, _Target("response_timeout_ms"), unit="ms"),  # mlmeter
)
_KEYS: dict[str, _Key] = {k.name: k for k in _KEY_TABLE}

CONF_KEYS: frozenset[str] = frozenset(_KEYS)
MLPERF_ONLY_KEYS: frozenset[str] = frozenset(k.name for k in _KEY_TABLE if k.mlperf_only)
BOOL_KEYS: frozenset[str] = frozenset(k.name for k in _KEY_TABLE if k.kind is _Kind.BOOL)

_FLOAT_FIELDS = frozenset(n for n, v in TestSettings().as_dict().items() if isinstance(v, float))
_SCENARIO_NAMES = [s.value for s in Scenario]
_INT_RE = re.compile(r"\+?(?:0|[1-9][0-9]*|0[xX][0-9a-fA-F]+)")
_OCTAL_RE = re.compile(r"\+?0[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


# ---------------------------------------------------------------- parsing


def parse_conf(
    text: str, path: str = "user.conf", *, source: ConfSource = "user"
) -> list[ConfLine]:
    """Parse and validate conf text; raise ``ConfigError(path, line_no, ...)`` on a bad line."""
    out: list[ConfLine] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = _parse_line(raw, path, line_no)
        if line is not None:
            check_line(line, source)
            out.append(line)
    return out


def read_conf(path: str | Path, *, source: ConfSource = "user") -> list[ConfLine]:
    """Read, parse and validate a conf file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            f"cannot read {source}.conf {str(path)!r}: {exc.strerror}; check the path"
        ) from None
    except UnicodeDecodeError:
        raise SettingsError(f"{source}.conf {str(path)!r} is not UTF-8 text") from None
    return parse_conf(text, str(path), source=source)


@functools.cache
def shipped_mlperf_lines() -> tuple[ConfLine, ...]:
    """The lines of the shipped mlperf.conf (LoadGen 6.0.17), parsed once."""
    return tuple(read_conf(SHIPPED_MLPERF_CONF, source="mlperf"))


def known_models() -> tuple[str, ...]:
    """The benchmark names the shipped mlperf.conf mentions, sorted."""
    return tuple(sorted({line.model for line in shipped_mlperf_lines()} - {WILDCARD}))


def _parse_line(raw: str, path: str, line_no: int) -> ConfLine | None:
    content = raw.split("#", 1)[0].strip()
    if not content:
        return None
    words = content.split()
    if len(words) != 3 or words[1] != "=":
        raise ConfigError(path, line_no, _shape_error(content, words))
    try:
        model, scenario, key = _split_name(words[0])
    except SettingsError as exc:
        raise ConfigError(path, line_no, str(exc)) from None
    return ConfLine(path, line_no, model, scenario, key, words[2])


def _shape_error(content: str, words: list[str]) -> str:
    if len(words) > 3 and words[1] == "=":
        return f"expected one value after '=', got {' '.join(words[2:])!r}"
    if words[-1] == "=" and len(words) == 2:
        return f"missing value after '=' in {content!r}"
    if "=" in content:
        return (
            f"write spaces around '=' as in 'model.Scenario.key = value', got {content!r} "
            "(LoadGen ignores or rejects it)"
        )
    return f"expected 'model.Scenario.key = value', got {content!r}"


def _split_name(name: str) -> tuple[str, Scenario | None, str]:
    parts = name.rsplit(".", 2)
    if len(parts) != 3 or not all(parts):
        hint = f": write '*.*.{name}' for every model and scenario" if name in _KEYS else ""
        raise SettingsError(f"expected a 'model.Scenario.key' name, got {name!r}{hint}")
    model, scenario, key = parts
    if key not in _KEYS:
        raise SettingsError(f"unknown key {key!r}{did_you_mean(key, sorted(_KEYS))}")
    return model, _parse_scenario(scenario, name), key


def _parse_scenario(text: str, name: str) -> Scenario | None:
    if text == WILDCARD:
        return None
    for scenario in Scenario:
        if scenario.value == text:
            return scenario
    options = [*_SCENARIO_NAMES, WILDCARD]
    raise SettingsError(f"unknown scenario {text!r} in {name!r}{did_you_mean(text, options)}")


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option (case-insensitive), or ``''``."""
    by_lower = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


# ---------------------------------------------------------------- validation


def check_line(line: ConfLine, source: ConfSource) -> None:
    """Validate a line for a file of the given source; raise ``ConfigError`` naming the fix."""
    key = _KEYS.get(line.key)
    if key is None:
        raise ConfigError(
            line.path, line.line_no, f"unknown key {line.key!r}{did_you_mean(line.key, _KEYS)}"
        )
    try:
        _check_source(key, source)
        conf_value(line.key, line.raw_value, line.scenario)
        _check_read(key, line.scenario, source)
    except SettingsError as exc:
        raise ConfigError(line.path, line.line_no, str(exc)) from None


def _check_source(key: _Key, source: ConfSource) -> None:
    if key.mlperf_only and source != "mlperf":
        raise SettingsError(
            f"{key.name} is read only from mlperf.conf (LoadGen ignores it in user.conf): "
            f"remove the line, or use --set {key.name}=... for a run that is not a submission"
        )


def _check_read(key: _Key, scenario: Scenario | None, source: ConfSource) -> None:
    if source == "mlperf" or _reachable(key, scenario):
        return  # the shipped mlperf.conf has such lines; LoadGen never reads them
    if key.hint:
        raise SettingsError(f"{key.name}: {key.hint}")
    where = " and ".join(t.section.value for t in key.targets if t.section is not None)
    assert scenario is not None
    raise SettingsError(
        f"LoadGen never reads {key.name} for {scenario.value}: use it with {where} (or '*')"
    )


def _reachable(key: _Key, scenario: Scenario | None) -> tuple[_Target, ...]:
    """The targets a line of this scenario (None: ``*``) can set."""
    return tuple(
        t for t in key.targets if scenario is None or t.section is None or t.section is scenario
    )


def conf_value(key_name: str, raw_value: str, scenario: Scenario | None) -> int | float:
    """Parse and range-check a value of ``key_name`` given for ``scenario`` (None: ``*``)."""
    key = _KEYS[key_name]
    value = _parse_number(key, raw_value)
    if value < 0:
        raise SettingsError(f"{key.name} must be >= 0, got {raw_value}")
    _check_kind(key, value, raw_value)
    _check_range(key, value, raw_value)
    for target in _reachable(key, scenario):
        _check_target(key, target, value, raw_value)
    return value


def _parse_number(key: _Key, text: str) -> int | float:
    if _OCTAL_RE.fullmatch(text):
        raise SettingsError(
            f"{key.name} = {text}: LoadGen reads a leading 0 as octal; write it without the 0"
        )
    if _INT_RE.fullmatch(text):
        return int(text, 0)
    if _FLOAT_RE.fullmatch(text) and math.isfinite(float(text)):
        return float(text)
    raise SettingsError(f"{key.name} takes {_accepts(key)}, got {text!r}")


def _accepts(key: _Key) -> str:
    unit = f" ({key.unit})" if key.unit else ""
    return f"{key.kind.value}{unit}"


def _check_kind(key: _Key, value: int | float, text: str) -> None:
    if key.kind is _Kind.NUMBER:
        return
    if not isinstance(value, int):
        raise SettingsError(
            f"{key.name} takes {_accepts(key)}, got {text!r} (LoadGen would truncate it)"
        )
    if key.kind is _Kind.BOOL and value not in (0, 1):
        raise SettingsError(f"{key.name} takes 0 or 1, got {text!r}")
    if key.kind is _Kind.MODE and value not in range(4):
        raise SettingsError(f"{key.name} takes {_accepts(key)}, got {text!r}")


def _check_range(key: _Key, value: int | float, text: str) -> None:
    if key.name.endswith("_percentile") and not 0 < value < 100:
        raise SettingsError(f"{key.name} is a percentage in (0, 100), got {text}")
    if key.unit == "%" and value > 100:
        raise SettingsError(f"{key.name} is a percentage in [0, 100], got {text}")


def _check_target(key: _Key, target: _Target, value: int | float, text: str) -> None:
    section = f" for {target.section.value}" if target.section else ""
    if target.positive and value == 0:
        raise SettingsError(f"{key.name} must be > 0{section}, got {text}")
    if target.whole and not isinstance(value, int):
        raise SettingsError(
            f"{key.name}{section} takes whole {key.unit} (LoadGen truncates {text}): "
            f"write a whole number or scope the line to another scenario"
        )
    if target.field not in _FLOAT_FIELDS and value * target.scale > _U64_MAX:
        raise SettingsError(f"{key.name} = {text} is too large (64-bit limit)")


# ---------------------------------------------------------------- applying


def apply_conf(
    settings: TestSettings,
    lines: Sequence[ConfLine],
    model: str,
    scenario: Scenario,
    *,
    source: ConfSource,
) -> TestSettings:
    """Apply one conf file's lines for ``(model, scenario)``, as one LoadGen ``FromConfig``."""
    changes, _ = conf_changes(settings, lines, model, scenario, source=source)
    return apply_changes(settings, changes)


def conf_changes(
    settings: TestSettings,
    lines: Sequence[ConfLine],
    model: str,
    scenario: Scenario,
    *,
    source: ConfSource,
) -> tuple[list[ConfChange], list[str]]:
    """The fields one file sets for ``(model, scenario)``, and notes on lines without effect."""
    for each in lines:
        check_line(each, source)
    index = {(ln.model, ln.scenario, ln.key): ln for ln in lines}  # last duplicate wins
    current = settings.as_dict()
    changes: list[ConfChange] = []
    notes: list[str] = []
    for key in _KEY_TABLE:
        for target in key.targets:
            line = _lookup(index, model, target.section or scenario, key.name)
            if line is None:
                continue
            if key.gate is not None and not current[key.gate]:
                notes.append(_gate_note(line, key.gate, model))
                continue
            raw = conf_value(key.name, line.raw_value, line.scenario)
            value = convert(key.name, target.field, raw)
            changes.append(ConfChange(target.field, value, line))
            current[target.field] = value
    return changes, notes


def apply_changes(settings: TestSettings, changes: Iterable[ConfChange]) -> TestSettings:
    """Apply changes in order; a rejected value raises ``ConfigError`` at its line."""
    for change in changes:
        try:
            settings = settings.replace(**{change.field: change.value})
        except SettingsError as exc:
            raise ConfigError(change.line.path, change.line.line_no, str(exc)) from None
    return settings


def _lookup(
    index: dict[tuple[str, Scenario | None, str], ConfLine],
    model: str,
    section: Scenario,
    key: str,
) -> ConfLine | None:
    for m, s in ((model, section), (WILDCARD, section), (model, None), (WILDCARD, None)):
        line = index.get((m, s, key))
        if line is not None:
            return line
    return None


def _gate_note(line: ConfLine, gate: str, model: str) -> str:
    return (
        f"{line.where}: {line.key} has no effect because {gate} is off for {model!r} "
        f"(as in LoadGen); set {model}.*.{gate} = 1 to use it"
    )


def convert(key_name: str, field: str, value: int | float) -> Any:
    """A conf value of ``key_name`` in the units of ``TestSettings.<field>``."""
    key = _KEYS[key_name]
    target = next(t for t in key.targets if t.field == field)
    if key.kind is _Kind.BOOL:
        return value == 1
    if key.kind is _Kind.MODE:
        return TestMode.parse(str(value))
    if key.unit == "%":
        return float(value) * 0.01  # as LoadGen: strtod(text) * 0.01
    if field in _FLOAT_FIELDS:
        return float(value) * target.scale
    if isinstance(value, int):
        return value * target.scale
    return round(value * target.scale)


def conf_targets(key_name: str, scenario: Scenario) -> tuple[str, ...]:
    """The fields ``key_name`` sets in a run of ``scenario`` (by its own section)."""
    key = _KEYS[key_name]
    return tuple(t.field for t in key.targets if t.section in (None, scenario))


def key_sections(key_name: str) -> tuple[Scenario, ...]:
    """The scenarios a scenario-specific key applies to (empty: every scenario)."""
    return tuple(t.section for t in _KEYS[key_name].targets if t.section is not None)


def key_hint(key_name: str) -> str:
    """Why a key has no effect anywhere (``target_duration``), or ``''``."""
    return _KEYS[key_name].hint
