"""``mlperf_log_trace.json``: Chrome trace events, one async ``b``/``e`` pair per sample.

The layout follows the official file: ``{"traceEvents":[``, one event per line, a closing
``{"name":"LastTrace"}``, then ``displayTimeUnit`` and ``otherData``. Each sample's ``b``
event sits at its scheduled time (the issue time when none is given) with the official
args ``sample_seq``, ``query_seq``, ``sample_idx``, ``issue_start_ns`` (issue - scheduled)
and ``complete_ns`` (completion - scheduled); its ``e`` event sits at the completion.
Timestamps are µs from ``origin_ns`` with 3 decimals. Unlike the official file, ours is
valid JSON (LoadGen double-quotes some string args).

Writing is streamed in chunks; the trace is large (≈ 300 bytes per sample) and is only
written when the caller asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from mlmeter._version import __version__
from mlmeter.logfmt._atomic import StrPath, atomic_writer
from mlmeter.logfmt._numfmt import fmt_ns_as_us

IntArray = npt.NDArray[np.int64]
_CHUNK = 16384


def write_trace(
    path: StrPath,
    *,
    origin_ns: int,
    sample_seq: npt.ArrayLike,
    query_seq: npt.ArrayLike,
    sample_index: npt.ArrayLike,
    issue_ns: npt.ArrayLike,
    complete_ns: npt.ArrayLike,
    scheduled_ns: npt.ArrayLike | None = None,
    pid: int | None = None,
    wall_origin_ns: int | None = None,
) -> int:
    """Write the per-sample trace; return the number of samples written.

    All times share one clock with ``origin_ns``. A sample whose issue time is before
    ``origin_ns`` (e.g. ``-1``: never issued) is left out; one whose completion is before
    ``origin_ns`` (never answered) gets a ``b`` event only, with ``complete_ns`` = -1.
    ``wall_origin_ns`` (default ``origin_ns``) goes to ``otherData.ts``.
    """
    cols = _columns(sample_seq, query_seq, sample_index, issue_ns, complete_ns, scheduled_ns)
    keep = cols[3] >= origin_ns
    cols = [c[keep] for c in cols]
    pid = os.getpid() if pid is None else pid
    with atomic_writer(path) as f:
        f.write('{"traceEvents":[\n')
        for chunk in _event_chunks(cols, origin_ns, pid):
            f.write(chunk)
        f.write('{"name":"LastTrace"}\n],\n"displayTimeUnit":"ns",\n"otherData":{\n')
        origin_us = fmt_ns_as_us(origin_ns if wall_origin_ns is None else wall_origin_ns)
        f.write(f'"ts":{origin_us},\n"version":"MLPerf LoadGen v1.0",\n')
        f.write(f'"generator":"mlmeter {__version__}"\n}}\n}}\n')
    return int(cols[0].size)


def _columns(*arrays: npt.ArrayLike | None) -> list[IntArray]:
    """Equal-length int64 columns; scheduled (last) defaults to the issue times."""
    cols = [np.asarray(a, dtype=np.int64) for a in arrays[:5]]
    scheduled = arrays[5]
    cols.append(cols[3] if scheduled is None else np.asarray(scheduled, dtype=np.int64))
    sizes = {c.shape for c in cols}
    if len(sizes) != 1 or cols[0].ndim != 1:
        raise ValueError(f"trace columns must be 1-D arrays of one length, got {sorted(sizes)}")
    return cols


def _event_chunks(cols: list[IntArray], origin_ns: int, pid: int) -> Iterator[str]:
    n = cols[0].size
    for start in range(0, n, _CHUNK):
        part = [c[start : start + _CHUNK].tolist() for c in cols]
        yield "".join(_sample_events(origin_ns, pid, *row) for row in zip(*part, strict=True))


def _sample_events(
    origin: int, pid: int, seq: int, query: int, idx: int, issue: int, done: int, sched: int
) -> str:
    answered = done >= origin
    args = (
        f'"sample_seq":{seq},"query_seq":{query},"sample_idx":{idx},'
        f'"issue_start_ns":{issue - sched},"complete_ns":{done - sched if answered else -1}'
    )
    text = (
        f'{{"name":"Sample","cat":"default","ph":"b","pid":{pid},"id":{seq},'
        f'"ts":{fmt_ns_as_us(sched - origin)},"args":{{{args}}}}},\n'
    )
    if answered:
        text += (
            f'{{"name":"Sample","cat":"default","ph":"e", "pid":{pid},"id":{seq},'
            f'"ts":{fmt_ns_as_us(done - origin)}}},\n'
        )
    return text
