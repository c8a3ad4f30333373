"""mlmeter's LoadGen: MLPerf scenarios, timing and logs, and nothing else.

It knows SUTs, QSLs, settings, schedules and logs. It knows nothing of models,
data sets, accuracy scoring, power or submission rules (see STYLE.md).
"""

from mlmeter.loadgen._api import (
    abort,
    complete,
    complete_arrays,
    first_token,
    late_responses,
    sample_error,
)
from mlmeter.loadgen._interfaces import (
    QSL,
    SUT,
    ArraySUT,
    IntArray,
    QuerySample,
    QuerySampleResponse,
)
from mlmeter.loadgen._issuer import Progress
from mlmeter.loadgen._log_settings import LogSettings
from mlmeter.loadgen._session import TestResult, start_test

__all__ = [
    "QSL",
    "SUT",
    "ArraySUT",
    "IntArray",
    "LogSettings",
    "Progress",
    "QuerySample",
    "QuerySampleResponse",
    "TestResult",
    "abort",
    "complete",
    "complete_arrays",
    "first_token",
    "late_responses",
    "sample_error",
    "start_test",
]
