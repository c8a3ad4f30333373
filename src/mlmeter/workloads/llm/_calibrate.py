"""Self-calibration: the client's own ceiling, measured before the run.

The measurement (a canned streaming echo server in another process, driven closed loop
by the same client) is ``mlmeter.suts._calibrate``. Its result goes into
``llm_metrics.json``, and the report warns when the run came close to the ceiling (the
client, not the server, may have been the limit).
"""

from __future__ import annotations

from typing import Any

from mlmeter.suts._calibrate import measure_ceiling
from mlmeter.workloads.llm._metrics import latency_summary

_NEAR_CEILING = 0.5  # warn above this share of the ceiling


def calibrate(workers: int, concurrency: int, duration_s: float = 1.0) -> dict[str, Any]:
    """The client's ceiling (requests/s) and overhead (TTFT) against the echo server."""
    result, ttft = measure_ceiling(workers, concurrency, duration_s)
    result["ttft_at_ceiling"] = latency_summary(ttft)  # from dispatch, with the client saturated
    return result


def ceiling_warning(calibration: dict[str, Any], requests_per_s: float) -> str:
    """A warning when the run used more than half of the client's measured ceiling."""
    ceiling = float(calibration.get("requests_per_s") or 0.0)
    if ceiling <= 0 or requests_per_s <= _NEAR_CEILING * ceiling:
        return ""
    share = requests_per_s / ceiling
    return (
        f"the run reached {share:.0%} of the client's calibrated ceiling "
        f"({ceiling:.0f} requests/s): the client may be the limit (add workers=N)"
    )
