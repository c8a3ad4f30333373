"""``--set key=value``: settings from the command line, in either of two vocabularies.

* The official ``TestSettings`` attribute names, in API units: ``min_duration_ms=600000``,
  ``server_target_qps=100``, ``server_target_latency_ns=15000000``; the official Python
  binding names ``ttft_latency``/``tpot_latency`` (ns) for ``server_ttft_latency``/
  ``server_tpot_latency``; ``scenario=Server`` and ``mode=accuracy`` (or 0-3).
* The conf-file keys, in conf units, for the run's scenario: ``min_duration=600000`` (ms),
  ``target_qps=100`` (Server or Offline), ``target_latency=15`` (ms; SingleStream,
  MultiStream or Server), ``target_latency_percentile=99`` (%), ``samples_per_query``,
  ``coalesce_queries``, ``max_async_queries``, ``response_timeout`` (ms).

A name in both vocabularies is the attribute, in API units: ``accuracy_log_probability`` is a
fraction and ``ttft_latency`` is in ns here, while in conf files they are in % and ms.
The run's scenario is the last ``scenario=`` given, else the one the settings already have.
Booleans accept 0/1/true/false.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlmeter.errors import SettingsError
from mlmeter.settings._conf import (
    BOOL_KEYS,
    CONF_KEYS,
    conf_targets,
    conf_value,
    convert,
    did_you_mean,
    key_hint,
    key_sections,
)
from mlmeter.settings._enums import Scenario, TestMode
from mlmeter.settings._test_settings import FIELD_NAMES, TestSettings

# The official Python binding's attribute names for two TestSettings fields.
BINDING_ALIASES = {"ttft_latency": "server_ttft_latency", "tpot_latency": "server_tpot_latency"}
OVERRIDE_NAMES: frozenset[str] = FIELD_NAMES | CONF_KEYS | frozenset(BINDING_ALIASES)

_DEFAULTS = TestSettings().as_dict()
_TRUE, _FALSE = ("1", "true"), ("0", "false")
_NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class Override:
    """One ``--set name=value``; ``name`` is known (in one of the two vocabularies)."""

    text: str
    name: str
    raw_value: str


def parse_override(text: str) -> Override:
    """Split and check the name of one ``name=value``."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        raise SettingsError(f"--set takes name=value, got {text!r}")
    if name not in OVERRIDE_NAMES:
        raise SettingsError(f"unknown setting {name!r}{did_you_mean(name, sorted(OVERRIDE_NAMES))}")
    if not value:
        raise SettingsError(f"--set {text}: give a value after '='")
    return Override(text, name, value)


def override_scenario(overrides: Sequence[Override]) -> Scenario | None:
    """The last ``scenario=`` among the overrides, if any."""
    chosen = None
    for override in overrides:
        if override.name == "scenario":
            with _blame(override):
                chosen = Scenario.parse(override.raw_value)
    return chosen


def override_changes(
    overrides: Sequence[Override], scenario: Scenario
) -> list[tuple[str, Any, Override]]:
    """``(field, value, override)`` in order, conf keys read for ``scenario``."""
    changes: list[tuple[str, Any, Override]] = []
    for override in overrides:
        for field, value in _override_fields(override, scenario).items():
            changes.append((field, value, override))
    return changes


def apply_overrides(settings: TestSettings, overrides: Sequence[str]) -> TestSettings:
    """Apply ``--set`` texts to ``settings`` (which gives the scenario unless one is set)."""
    parsed = [parse_override(text) for text in overrides]
    scenario = override_scenario(parsed) or settings.scenario
    for field, value, override in override_changes(parsed, scenario):
        with _blame(override):
            settings = settings.replace(**{field: value})
    return settings


def _override_fields(override: Override, scenario: Scenario) -> dict[str, Any]:
    name = BINDING_ALIASES.get(override.name, override.name)
    with _blame(override):
        if name not in FIELD_NAMES:
            return _conf_fields(override.name, override.raw_value, scenario)
        value = _api_value(name, override.raw_value)
        _check_alias_units(override, value)
        return {name: value}


@contextmanager
def _blame(override: Override) -> Iterator[None]:
    """Prefix a ``SettingsError`` with the ``--set`` text that caused it."""
    try:
        yield
    except SettingsError as exc:
        raise SettingsError(f"--set {override.text}: {exc}") from None


def _api_value(field: str, text: str) -> Any:
    default = _DEFAULTS[field]
    if field == "scenario":
        return Scenario.parse(text)
    if field == "mode":
        return TestMode.parse(text)
    if isinstance(default, bool):
        return _bool(field, text)
    if isinstance(default, int):
        return _int(field, text)
    return _float(field, text)


def _bool(field: str, text: str) -> bool:
    lowered = text.lower()
    if lowered not in _TRUE + _FALSE:
        raise SettingsError(f"{field} takes 0/1/true/false, got {text!r}")
    return lowered in _TRUE


def _int(field: str, text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        pass
    number = _float_or_none(text)
    if number is None or not number.is_integer():
        raise SettingsError(f"{field} takes a whole number, got {text!r}")
    return int(number)


def _float(field: str, text: str) -> float:
    number = _float_or_none(text)
    if number is None:
        raise SettingsError(f"{field} takes a number, got {text!r}")
    return number


def _float_or_none(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _check_alias_units(override: Override, value: int) -> None:
    if override.name in BINDING_ALIASES and 0 < value < _NS_PER_MS:
        field = BINDING_ALIASES[override.name]
        raise SettingsError(
            f"{override.name} is in ns here (the official attribute), "
            f"so {value} is under 1 ms; write {override.name}={value * _NS_PER_MS} for "
            f"{value} ms, or {field}={value} if you mean ns"
        )


def _conf_fields(key: str, text: str, scenario: Scenario) -> dict[str, Any]:
    fields = conf_targets(key, scenario)
    if not fields:
        raise SettingsError(_unused_message(key, scenario))
    if key in BOOL_KEYS:
        text = "1" if _bool(key, text) else "0"
    number = conf_value(key, text, scenario)
    return {field: convert(key, field, number) for field in fields}


def _unused_message(key: str, scenario: Scenario) -> str:
    if key_hint(key):
        return f"{key}: {key_hint(key)}"
    where = " and ".join(s.value for s in key_sections(key))
    return f"{key} is not used in {scenario.value}: it applies to {where}"
