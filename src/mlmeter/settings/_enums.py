"""Scenario and test-mode enumerations, named as in the official LoadGen."""

from __future__ import annotations

from enum import Enum

from mlmeter.errors import SettingsError


class Scenario(Enum):
    """The four MLPerf inference scenarios."""

    SINGLE_STREAM = "SingleStream"
    MULTI_STREAM = "MultiStream"
    SERVER = "Server"
    OFFLINE = "Offline"

    @classmethod
    def parse(cls, text: str) -> Scenario:
        """Parse ``SingleStream``/``single-stream``/``ss`` style names."""
        key = text.replace("-", "").replace("_", "").lower()
        for member in cls:
            if key in (member.value.lower(), _ABBREV[member]):
                return member
        names = ", ".join(m.value for m in cls)
        raise SettingsError(f"unknown scenario {text!r}: use one of {names}")


_ABBREV = {
    Scenario.SINGLE_STREAM: "ss",
    Scenario.MULTI_STREAM: "ms",
    Scenario.SERVER: "server",
    Scenario.OFFLINE: "offline",
}


class TestMode(Enum):
    """What a run measures. Values are the official mode names."""

    __test__ = False  # not a pytest test class

    SUBMISSION_RUN = "SubmissionRun"
    ACCURACY_ONLY = "AccuracyOnly"
    PERFORMANCE_ONLY = "PerformanceOnly"
    FIND_PEAK_PERFORMANCE = "FindPeakPerformance"

    @classmethod
    def parse(cls, text: str) -> TestMode:
        """Parse official names, CLI names (``performance``, ``find-peak``) or 0-3."""
        key = text.replace("-", "").replace("_", "").lower()
        for member in cls:
            if key in (member.value.lower(), _MODE_ALIASES[member]):
                return member
        if key in _MODE_NUMBERS:
            return _MODE_NUMBERS[key]
        raise SettingsError(
            f"unknown mode {text!r}: use performance, accuracy, find-peak or submission"
        )


_MODE_ALIASES = {
    TestMode.SUBMISSION_RUN: "submission",
    TestMode.ACCURACY_ONLY: "accuracy",
    TestMode.PERFORMANCE_ONLY: "performance",
    TestMode.FIND_PEAK_PERFORMANCE: "findpeak",
}

# conf files use 0 = Submission, 1 = Accuracy, 2 = Performance, 3 = FindPeak
_MODE_NUMBERS = {
    "0": TestMode.SUBMISSION_RUN,
    "1": TestMode.ACCURACY_ONLY,
    "2": TestMode.PERFORMANCE_ONLY,
    "3": TestMode.FIND_PEAK_PERFORMANCE,
}
