"""Per-sample timings of a finished run, read back from its files.

Two sources, the compact one first:

- ``mlmeter_timings.npz`` (written by every run up to 4 M samples): a NumPy ``.npz``
  holding ``format`` = ``"mlmeter.timings"``, ``version`` = 1, and the run's integer-ns
  arrays (times from the test start): ``query_start`` int64[nq + 1] (query q covers
  samples ``[query_start[q], query_start[q + 1])``), ``scheduled_ns`` int64[nq],
  ``issued_ns`` int64[nq] and ``completed_ns`` int64[ns] (-1: never answered).
- ``mlperf_log_trace.json`` (``mlmeter run --trace``): one ``Sample`` ``b`` event per
  sample at its query's scheduled time, with ``issue_start_ns`` (issue - scheduled) and
  ``complete_ns`` (completion - scheduled, -1: never answered). It is parsed line by line
  with one regular expression, so the official LoadGen's trace (not quite JSON) reads too.

Latencies follow the loadgen: a sample's latency runs from its query's scheduled time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from mlmeter.errors import UserError
from mlmeter.logfmt import TIMINGS_FILE, TIMINGS_FORMAT, TIMINGS_VERSION

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TRACE_FILE = "mlperf_log_trace.json"

_SAMPLE_BEGIN = re.compile(
    rb'"name":"Sample"[^\n]*?"ph":"b"[^\n]*?"ts":(-?[0-9.]+)[^\n]*?"query_seq":(\d+)'
    rb'[^\n]*?"issue_start_ns":(-?\d+),\s*"complete_ns":(-?\d+)'
)
_BLOCK = 1 << 23  # bytes read at a time from the trace


@dataclass(frozen=True, eq=False)
class SampleTimings:
    """One row per issued sample, in issue order: int64 ns from the test start."""

    query_seq: IntArray  # the query each sample belongs to
    scheduled_ns: IntArray  # its query's scheduled time: the latency origin
    issued_ns: IntArray  # its query's issue time
    completed_ns: IntArray  # its response time; -1 if never answered
    source: str  # the file the timings came from

    def __post_init__(self) -> None:
        cols = (self.query_seq, self.scheduled_ns, self.issued_ns, self.completed_ns)
        if len({c.shape for c in cols}) != 1 or cols[0].ndim != 1:
            raise ValueError("SampleTimings columns must be 1-D arrays of one length")

    @property
    def answered(self) -> BoolArray:
        """True for samples that got a response."""
        mask: BoolArray = self.completed_ns >= 0
        return mask

    def sample_latencies(self) -> IntArray:
        """Latency of every answered sample (completion - scheduled)."""
        ok = self.answered
        lat: IntArray = self.completed_ns[ok] - self.scheduled_ns[ok]
        return lat

    def queries(self) -> tuple[IntArray, IntArray, IntArray]:
        """Per query: (scheduled, issued, completed); completed is the slowest sample's
        response, -1 when one of its samples was never answered."""
        q = self.query_seq
        nq = int(q.max()) + 1 if q.size else 0
        sched = np.full(nq, -1, dtype=np.int64)
        issued = np.full(nq, -1, dtype=np.int64)
        done = np.full(nq, -1, dtype=np.int64)
        sched[q], issued[q] = self.scheduled_ns, self.issued_ns
        np.maximum.at(done, q, self.completed_ns)
        missing = np.zeros(nq, dtype=bool)
        missing[q[~self.answered]] = True
        done[missing] = -1
        present = np.zeros(nq, dtype=bool)
        present[q] = True
        return sched[present], issued[present], done[present]

    def query_latencies(self) -> IntArray:
        """Latency of every fully answered query (slowest sample - scheduled)."""
        sched, _, done = self.queries()
        ok = done >= 0
        lat: IntArray = done[ok] - sched[ok]
        return lat


def read_timings(run_dir: Path) -> SampleTimings | None:
    """The run's timings from the compact file or the trace; None when neither exists."""
    compact = run_dir / TIMINGS_FILE
    if compact.is_file():
        return read_timings_npz(compact)
    trace = run_dir / TRACE_FILE
    if trace.is_file():
        return read_trace_timings(trace)
    return None


def read_timings_npz(path: Path) -> SampleTimings:
    """Read ``mlmeter_timings.npz``; refuse a newer version with the fix."""
    with np.load(path, allow_pickle=False) as z:
        fmt = str(z["format"]) if "format" in z.files else ""
        version = int(z["version"]) if "version" in z.files else 0
        if fmt != TIMINGS_FORMAT or version < 1:
            raise UserError(f"{path}: not an mlmeter timings file (no format {TIMINGS_FORMAT!r})")
        if version > TIMINGS_VERSION:
            raise UserError(
                f"{path} uses timings format version {version}, newer than this mlmeter "
                f"reads (up to {TIMINGS_VERSION}): upgrade mlmeter"
            )
        starts = z["query_start"].astype(np.int64)
        sched, issued = z["scheduled_ns"].astype(np.int64), z["issued_ns"].astype(np.int64)
        done = z["completed_ns"].astype(np.int64)
    seq = np.repeat(np.arange(starts.size - 1, dtype=np.int64), np.diff(starts))
    seq = seq[: done.size]
    return SampleTimings(seq, sched[seq], issued[seq], done[: seq.size], str(path))


def read_trace_timings(path: Path) -> SampleTimings:
    """Read the ``Sample`` begin events of a trace (ours or the official LoadGen's)."""
    parts: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
    with path.open("rb") as f:
        for block in _line_blocks(f):
            rows = _SAMPLE_BEGIN.findall(block)
            if rows:
                parts.append(_columns(np.array(rows, dtype=np.bytes_)))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return SampleTimings(empty, empty, empty, empty, str(path))
    seq, sched, issue_off, done_off = (np.concatenate(c) for c in zip(*parts, strict=True))
    done = np.where(done_off >= 0, sched + done_off, -1)
    return SampleTimings(seq, sched, sched + issue_off, done, str(path))


def _columns(rows: npt.NDArray[np.bytes_]) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(query_seq, scheduled ns, issue offset, completion offset) of matched text rows."""
    sched = np.rint(rows[:, 0].astype(np.float64) * 1000.0).astype(np.int64)  # µs -> ns
    return (
        rows[:, 1].astype(np.int64),
        sched,
        rows[:, 2].astype(np.int64),
        rows[:, 3].astype(np.int64),
    )


def _line_blocks(f: BinaryIO) -> Iterator[bytes]:
    """The file in large blocks that each end at a line break (the last one may not)."""
    rest = b""
    while block := f.read(_BLOCK):
        block = rest + block
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        if cut:
            yield block[:cut]
    if rest:
        yield rest
