"""``TestSettings``: every field of the official LoadGen TestSettings, frozen and validated.

Times are integer nanoseconds in this API (``*_ns``), except the duration fields whose
official names end in ``_ms``. Conf files use ms and % (see ``_conf``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from mlmeter.errors import SettingsError
from mlmeter.settings._enums import Scenario, TestMode

# Seeds that mlperf.conf sets and the submission checker requires.
OFFICIAL_QSL_RNG_SEED = 2085463073848966840
OFFICIAL_SAMPLE_INDEX_RNG_SEED = 2747215439041700203
OFFICIAL_SCHEDULE_RNG_SEED = 16159082839903944936

_U64_MAX = 2**64 - 1


@dataclass(frozen=True)
class TestSettings:
    """Requested settings of one LoadGen run (official field names and defaults)."""

    __test__ = False  # not a pytest test class

    scenario: Scenario = Scenario.SINGLE_STREAM
    mode: TestMode = TestMode.PERFORMANCE_ONLY
    single_stream_expected_latency_ns: int = 1_000_000
    single_stream_target_latency_percentile: float = 0.90
    multi_stream_expected_latency_ns: int = 8_000_000
    multi_stream_target_latency_percentile: float = 0.99
    multi_stream_samples_per_query: int = 8
    server_target_qps: float = 1.0
    server_target_latency_ns: int = 100_000_000
    server_target_latency_percentile: float = 0.99
    server_coalesce_queries: bool = False
    server_find_peak_qps_decimals_of_precision: int = 1
    server_find_peak_qps_boundary_step_size: float = 1.0
    server_max_async_queries: int = 0
    server_num_issue_query_threads: int = 0
    offline_expected_qps: float = 1.0
    sample_concatenate_permutation: bool = False
    min_duration_ms: int = 10_000
    max_duration_ms: int = 0
    min_query_count: int = 100
    max_query_count: int = 0
    qsl_rng_seed: int = 0
    sample_index_rng_seed: int = 0
    schedule_rng_seed: int = 0
    accuracy_log_rng_seed: int = 0
    accuracy_log_probability: float = 0.0
    accuracy_log_sampling_target: int = 0
    test05: bool = False
    test05_qsl_rng_seed: int = 0
    test05_sample_index_rng_seed: int = 0
    test05_schedule_rng_seed: int = 0
    print_timestamps: bool = False
    performance_issue_unique: bool = False
    performance_issue_same: bool = False
    performance_issue_same_index: int = 0
    performance_sample_count_override: int = 0
    accuracy_sample_count_override: int = 0
    use_token_latencies: bool = False
    server_ttft_latency: int = 100_000_000
    server_tpot_latency: int = 100_000_000
    infer_token_latencies: bool = False
    token_latency_scaling_factor: int = 0
    # mlmeter extension: longest silence (no response while samples are outstanding)
    # before the run ends with SUTTimeoutError. 0 disables the watchdog.
    response_timeout_ms: int = 120_000
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            _check_field(f.name, value)
            if _FIELD_TYPES[f.name] is float and not isinstance(value, float):
                object.__setattr__(self, f.name, float(value))

    def replace(self, **changes: Any) -> TestSettings:
        """Return a copy with ``changes`` applied (validated again)."""
        unknown = sorted(set(changes) - FIELD_NAMES)
        if unknown:
            raise SettingsError(f"unknown TestSettings field {unknown[0]!r}{_hint(unknown[0])}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (enums as their official names), in field order."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            out[f.name] = value.value if isinstance(value, Scenario | TestMode) else value
        return out


FIELD_NAMES: frozenset[str] = frozenset(f.name for f in fields(TestSettings)) - {"extra"}

_PERCENTILES = {
    "single_stream_target_latency_percentile",
    "multi_stream_target_latency_percentile",
    "server_target_latency_percentile",
}
_POSITIVE = {
    "single_stream_expected_latency_ns",
    "multi_stream_expected_latency_ns",
    "multi_stream_samples_per_query",
    "server_target_qps",
    "offline_expected_qps",
    "server_find_peak_qps_boundary_step_size",
}


def _check_field(name: str, value: Any) -> None:
    expected = _FIELD_TYPES[name]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is int and isinstance(value, bool):
        raise SettingsError(f"{name} must be an integer, got {value!r}")
    if not isinstance(value, expected):  # bools pass as ints only where declared bool
        raise SettingsError(f"{name} must be {_type_name(expected)}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_range(name, value)


def _check_range(name: str, value: float) -> None:
    if name in _PERCENTILES and not 0.0 < value < 1.0:
        raise SettingsError(f"{name} must be a fraction in (0, 1), got {value!r}")
    if name in _POSITIVE and not value > 0:
        raise SettingsError(f"{name} must be > 0, got {value!r}")
    if value < 0:
        raise SettingsError(f"{name} must be >= 0, got {value!r}")
    if name.endswith("_seed") and value > _U64_MAX:
        raise SettingsError(f"{name} must fit in 64 bits, got {value!r}")
    if name == "accuracy_log_probability" and value > 1.0:
        raise SettingsError(f"accuracy_log_probability must be in [0, 1], got {value!r}")


def _type_name(t: type) -> str:
    return {bool: "true/false", int: "an integer", float: "a number"}.get(t, t.__name__)


def _hint(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(FIELD_NAMES), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_types() -> dict[str, type]:
    defaults = TestSettings.__dataclass_fields__
    return {
        name: type(f.default) if not isinstance(f.default, bool) else bool
        for name, f in defaults.items()
        if name != "extra"
    }


_FIELD_TYPES = _field_types()
