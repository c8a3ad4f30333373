"""Settings: ``TestSettings`` (requested), conf files, and ``EffectiveSettings`` (derived)."""

from mlmeter.settings._conf import (
    CONF_KEYS,
    SHIPPED_MLPERF_CONF,
    ConfLine,
    ConfSource,
    apply_conf,
    known_models,
    parse_conf,
    read_conf,
)
from mlmeter.settings._effective import EffectiveSettings, derive
from mlmeter.settings._enums import Scenario, TestMode
from mlmeter.settings._load import ResolvedSettings, load_test_settings, resolve_test_settings
from mlmeter.settings._overrides import OVERRIDE_NAMES, apply_overrides
from mlmeter.settings._test_settings import (
    FIELD_NAMES,
    OFFICIAL_QSL_RNG_SEED,
    OFFICIAL_SAMPLE_INDEX_RNG_SEED,
    OFFICIAL_SCHEDULE_RNG_SEED,
    TestSettings,
)

__all__ = [
    "CONF_KEYS",
    "FIELD_NAMES",
    "OFFICIAL_QSL_RNG_SEED",
    "OFFICIAL_SAMPLE_INDEX_RNG_SEED",
    "OFFICIAL_SCHEDULE_RNG_SEED",
    "OVERRIDE_NAMES",
    "SHIPPED_MLPERF_CONF",
    "ConfLine",
    "ConfSource",
    "EffectiveSettings",
    "ResolvedSettings",
    "Scenario",
    "TestMode",
    "TestSettings",
    "apply_conf",
    "apply_overrides",
    "derive",
    "known_models",
    "load_test_settings",
    "parse_conf",
    "read_conf",
    "resolve_test_settings",
]
