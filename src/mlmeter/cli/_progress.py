"""A live one-line progress bar on stderr, fed by polling ``Progress`` (never the hot path)."""

from __future__ import annotations

import sys
import threading
from time import perf_counter_ns

from mlmeter.loadgen import Progress
from mlmeter.settings import TestSettings

_WIDTH = 24


class ProgressBar:
    """Redraws ``issued`` and elapsed-vs-min-duration five times a second."""

    def __init__(self, progress: Progress, settings: TestSettings) -> None:
        self._p = progress
        self._label = f"{settings.scenario.value}/{settings.mode.value}"
        self._min_s = settings.min_duration_ms / 1000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlmeter-progress", daemon=True)

    def start(self) -> None:
        """Start redrawing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and clear the line."""
        self._stop.set()
        self._thread.join(timeout=1)
        sys.stderr.write("\r" + " " * 78 + "\r")
        sys.stderr.flush()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            sys.stderr.write("\r" + self.line())
            sys.stderr.flush()

    def line(self) -> str:
        """The current progress line."""
        started = self._p.started_ns
        elapsed = (perf_counter_ns() - started) / 1e9 if started else 0.0
        frac = min(elapsed / self._min_s, 1.0) if self._min_s else 1.0
        filled = int(frac * _WIDTH)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        return (
            f"{self._label} [{bar}] {elapsed:6.1f}/{self._min_s:.1f} s  "
            f"issued {self._p.issued:,} queries"
        )[:78]
