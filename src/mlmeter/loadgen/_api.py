"""The SUT-facing functions: ``complete``, ``complete_arrays`` and ``first_token``.

They route to the recorder of the run in progress (one at a time, as with the
official LoadGen). Responses that arrive when no run is active — after a timeout,
say — are counted and dropped rather than raising in the SUT's thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlmeter.loadgen._interfaces import IntArray, QuerySampleResponse
from mlmeter.loadgen._recorder import Recorder


class _Idle:
    """The sink while no run is active."""

    late = 0

    def complete(self, responses: Sequence[QuerySampleResponse]) -> None:
        _Idle.late += len(responses)

    def complete_arrays(self, ids: IntArray, data: Sequence[bytes] | None = None) -> None:
        _Idle.late += len(ids)

    def first_token(self, responses: Sequence[QuerySampleResponse]) -> None:
        return None

    def abort(self, reason: str) -> None:
        return None

    def sample_error(self, reason: str) -> None:
        return None


_IDLE = _Idle()
_ID_SHIFT = 40  # up to 2**40 samples a run
_ID_RUNS = 1 << 22  # ids stay below 2**62: they fit numpy int64
_runs = [0]


def next_id_base() -> int:
    """A fresh id offset for a run, so late answers to an earlier run are recognised."""
    _runs[0] = (_runs[0] + 1) % _ID_RUNS
    return _runs[0] << _ID_SHIFT


_sink: Recorder | _Idle = _IDLE


def activate(rec: Recorder) -> None:
    """Route responses to ``rec`` (called by the session)."""
    global _sink
    if isinstance(_sink, Recorder) and not _sink.closed:
        raise RuntimeError("a test is already running in this process")
    _sink = rec


def deactivate(rec: Recorder) -> None:
    """Stop routing responses to ``rec``."""
    global _sink
    rec.closed = True
    if _sink is rec:
        _sink = _IDLE


def complete(responses: Sequence[QuerySampleResponse]) -> None:
    """Report finished samples. Thread-safe; call from any thread."""
    _sink.complete(responses)


def complete_arrays(ids: IntArray, data: Sequence[bytes] | None = None) -> None:
    """Array fast path: report the samples ``ids`` (int64) finished, with optional data."""
    _sink.complete_arrays(ids, data)


def first_token(responses: Sequence[QuerySampleResponse]) -> None:
    """Report first tokens (LLM runs). Thread-safe; call from any thread."""
    _sink.first_token(responses)


def sample_error(reason: str) -> None:
    """Count a failed sample (e.g. HTTP 500) by ``reason``; thread-safe.

    The SUT still answers the sample with ``complete``. The run goes on, and at its end
    it is INVALID, with the count per reason in the detail log and the summary.
    """
    _sink.sample_error(reason)


def abort(reason: str) -> None:
    """End the run in progress with an error (e.g. the SUT's model failed); thread-safe."""
    _sink.abort(reason)


def late_responses() -> int:
    """Responses received while no run was active (since the process started)."""
    return _Idle.late
