"""``mlmeter_timings.npz``: a run's per-query and per-sample times, compact and versioned.

Arrays (all int64 ns from the test start): ``query_start`` [nq + 1] (query q covers samples
``[query_start[q], query_start[q + 1])``), ``scheduled_ns`` and ``issued_ns`` [nq],
``completed_ns`` [ns] (-1: never answered); plus ``format`` and ``version``. About
8 bytes a sample, read with ``allow_pickle=False``. The report's plots come from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlmeter.logfmt._atomic import atomic_writer

TIMINGS_FILE = "mlmeter_timings.npz"
TIMINGS_FORMAT = "mlmeter.timings"
TIMINGS_VERSION = 1
MAX_TIMED_SAMPLES = 4_000_000  # larger runs skip the file (32 MB of completion times)

IntArray = npt.NDArray[np.int64]


def write_timings(
    path: Path,
    *,
    query_start: IntArray,
    scheduled_ns: IntArray,
    issued_ns: IntArray,
    completed_ns: IntArray,
) -> Path:
    """Write the timings file atomically; return its path."""
    with atomic_writer(path, binary=True) as f:
        np.savez(
            f,
            format=np.array(TIMINGS_FORMAT),
            version=np.array(TIMINGS_VERSION, dtype=np.int64),
            query_start=np.asarray(query_start, dtype=np.int64),
            scheduled_ns=np.asarray(scheduled_ns, dtype=np.int64),
            issued_ns=np.asarray(issued_ns, dtype=np.int64),
            completed_ns=np.asarray(completed_ns, dtype=np.int64),
        )
    return path
