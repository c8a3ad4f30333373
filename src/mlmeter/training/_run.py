"""One timed training run, logged by the rules: the API for a user's own training loop.

::

    with TrainingRun(spec, "result_0.txt", seed=7) as run:   # submission info, init_start
        run.hyperparameters({"global_batch_size": 64, "opt_name": "lars", ...})
        model = build_model()                                 # untimed initialisation
        run.start(train_samples=len(train), eval_samples=len(val))  # init_stop, run_start
        for epoch in range(1, 50):
            with run.epoch(epoch):
                run.check_loss(train_one_epoch())             # NaN/inf -> TrainingDiverged
            run.eval_start(epoch)
            if run.eval_stop(evaluate(), epoch):              # logs eval_accuracy
                break                                         # target reached: success
    # leaving the block logs run_stop: success if the target was reached, else aborted

The order the official checkers need is enforced here (``start`` twice, an eval before
``start``, a stop before ``start`` raise ``RuntimeError``). Time-to-train is taken from
the logged ``run_start``/``run_stop`` times, exactly as the result summarizer does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from mlmeter.errors import RunError
from mlmeter.training import _keys
from mlmeter.training._mllog import JsonValue, LogOptions, MllogLogger
from mlmeter.training._spec import BenchmarkSpec, SubmissionInfo

Status = Literal["success", "aborted"]
# Call sites inside mlmeter are logged relative to its install folder ("mlmeter/...").
_INSTALL_ROOT = Path(__file__).resolve().parents[2]
REQUIRED_HYPERPARAMETERS = (_keys.GLOBAL_BATCH_SIZE, _keys.GRADIENT_ACCUMULATION_STEPS)


class TrainingAborted(RunError):
    """A training run ended without reaching its target (status aborted in the log)."""


class TrainingDiverged(TrainingAborted):
    """The training loss became NaN or infinite."""


class TimeLimitExceeded(TrainingAborted):
    """The run went over its time limit."""


class TrainingRun:
    """Logs one run of a benchmark; a context manager that always ends with ``run_stop``.

    ``log`` is a path, a stream or an ``MllogLogger``. Only ``rank`` 0 writes. The run's
    ``time_limit_s`` counts from ``run_start``; ``check_time`` (also called by
    ``check_loss``) raises ``TimeLimitExceeded`` past it.
    """

    def __init__(
        self,
        spec: BenchmarkSpec,
        log: str | Path | IO[str] | MllogLogger,
        *,
        seed: int,
        info: SubmissionInfo | None = None,
        rank: int = 0,
        time_limit_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if time_limit_s is not None and not time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {time_limit_s}")
        self.spec = spec
        self.info = info or SubmissionInfo()
        self.seed = seed
        self.time_limit_s = time_limit_s
        self._monotonic = monotonic
        self._owns_logger = not isinstance(log, MllogLogger)
        self.logger = (
            log
            if isinstance(log, MllogLogger)
            else MllogLogger(log, rank=rank, root_dir=_INSTALL_ROOT)
        )
        self._state: Literal["new", "init", "running", "stopped"] = "new"
        self._logged: set[str] = set()
        self._started_at: float | None = None
        self.reached_at: float | None = None  # progress (epochs or samples) of the target
        self.status: Status | None = None
        self.reason = ""
        self.evals: list[tuple[float, float]] = []  # (progress, value)
        self.run_start_ms: int | None = None
        self.run_stop_ms: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> TrainingRun:
        self.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != "stopped":
            if exc is not None:
                self.stop("aborted", reason=_reason(exc))
            else:
                status: Status = "success" if self.reached_at is not None else "aborted"
                self.stop(status, reason="" if status == "success" else "target not reached")
        if self._owns_logger:
            self.logger.close()

    def begin(self) -> None:
        """Log the submission info, ``cache_clear``, ``init_start`` and the seed."""
        self._expect("new", "begin")
        log, info = self.logger, self.info
        log.event(_keys.SUBMISSION_BENCHMARK, self.spec.benchmark, stack_offset=1)
        log.event(_keys.SUBMISSION_ORG, info.org, stack_offset=1)
        log.event(_keys.SUBMISSION_DIVISION, info.division, stack_offset=1)
        if self.spec.ruleset_major < 6:
            log.event(_keys.SUBMISSION_STATUS, info.status, stack_offset=1)
        log.event(_keys.SUBMISSION_PLATFORM, info.platform, stack_offset=1)
        if info.poc_name:
            log.event(_keys.SUBMISSION_POC_NAME, info.poc_name, stack_offset=1)
        if info.poc_email:
            log.event(_keys.SUBMISSION_POC_EMAIL, info.poc_email, stack_offset=1)
        log.event(_keys.CACHE_CLEAR, True, stack_offset=1)
        log.start(_keys.INIT_START, stack_offset=1)
        log.event(_keys.SEED, self.seed, stack_offset=1)
        self._state = "init"

    def hyperparameters(self, values: Mapping[str, JsonValue]) -> None:
        """Log each hyperparameter once (before or after ``start``, as the rules allow)."""
        for key, value in values.items():
            self.logger.event(key, value, stack_offset=1)
            self._logged.add(key)

    def start(self, *, train_samples: int, eval_samples: int) -> None:
        """Log the data set sizes, ``init_stop`` and ``run_start``; the clock starts."""
        self._expect("init", "start")
        missing = [k for k in REQUIRED_HYPERPARAMETERS if k not in self._logged]
        if missing:
            raise ValueError(f"log {', '.join(missing)} with hyperparameters() before start()")
        self.logger.event(_keys.TRAIN_SAMPLES, int(train_samples), stack_offset=1)
        self.logger.event(_keys.EVAL_SAMPLES, int(eval_samples), stack_offset=1)
        self.logger.end(_keys.INIT_STOP, stack_offset=1)
        self.run_start_ms = self._log_timed(self.logger.start, _keys.RUN_START)
        self._started_at = self._monotonic()
        self._state = "running"

    def stop(self, status: Status, *, reason: str = "") -> None:
        """Log ``run_stop`` with ``status`` (a reason, if any, goes into the metadata)."""
        if self._state == "stopped":
            raise RuntimeError("run_stop is already logged")
        self.status, self.reason = status, reason
        meta = {"reason": reason} if reason else None
        self.run_stop_ms = self._log_timed(
            self.logger.end, _keys.RUN_STOP, status=status, metadata=meta
        )
        self._state = "stopped"

    # ------------------------------------------------------------------ progress

    @contextmanager
    def epoch(self, epoch_num: int) -> Iterator[None]:
        """``epoch_start``/``epoch_stop`` around one epoch (numbered from 1)."""
        self._expect("running", "epoch")
        self.logger.start(_keys.EPOCH_START, stack_offset=2, epoch_num=epoch_num)
        yield
        self.logger.end(_keys.EPOCH_STOP, stack_offset=2, epoch_num=epoch_num)

    @contextmanager
    def block(self, first: float, count: float) -> Iterator[None]:
        """``block_start``/``block_stop`` over ``count`` units from ``first``.

        Epoch progress logs ``first_epoch_num``/``epoch_count``; sample progress logs
        ``samples_count`` (the start, then the end).
        """
        self._expect("running", "block")
        if self.spec.progress == "samples":
            self.logger.start(_keys.BLOCK_START, stack_offset=2, samples_count=int(first))
            yield
            self.logger.end(_keys.BLOCK_STOP, stack_offset=2, samples_count=int(first + count))
        else:
            first_epoch, epochs = _epoch_int(first), max(1, math.ceil(count))
            self.logger.start(
                _keys.BLOCK_START, stack_offset=2, first_epoch_num=first_epoch, epoch_count=epochs
            )
            yield
            self.logger.end(_keys.BLOCK_STOP, stack_offset=2, first_epoch_num=first_epoch)

    def eval_start(self, at: float) -> None:
        """``eval_start`` at progress ``at`` (epochs or samples)."""
        self._expect("running", "eval_start")
        self.logger.start(_keys.EVAL_START, stack_offset=1, **self._progress(at))

    def eval_stop(self, value: float, at: float) -> bool:
        """Log ``eval_accuracy`` and ``eval_stop``; return whether the target is reached."""
        self._expect("running", "eval_stop")
        progress = self._progress(at)
        self.logger.event(_keys.EVAL_ACCURACY, float(value), stack_offset=1, **progress)
        self.logger.end(_keys.EVAL_STOP, stack_offset=1, **progress)
        self.evals.append((at, float(value)))
        if self.spec.reached(value) and self.reached_at is None:
            self.reached_at = at
        return self.reached_at is not None

    def check_loss(self, loss: float) -> None:
        """Raise ``TrainingDiverged`` on a NaN or infinite loss, then check the time."""
        if not math.isfinite(loss):
            raise TrainingDiverged(f"training diverged: loss is {loss} at {self.progress_text()}")
        self.check_time()

    def check_time(self) -> None:
        """Raise ``TimeLimitExceeded`` when the run has gone past its time limit."""
        if self.over_time():
            self.raise_time_limit()

    def over_time(self) -> bool:
        """Whether the run has gone past its time limit."""
        return self.time_limit_s is not None and self.elapsed_s() > self.time_limit_s

    def elapsed_s(self) -> float:
        """Seconds on the clock since ``run_start`` (0 before it)."""
        return 0.0 if self._started_at is None else self._monotonic() - self._started_at

    def raise_time_limit(self) -> None:
        """Raise ``TimeLimitExceeded`` with the elapsed time and the limit."""
        raise TimeLimitExceeded(
            f"time limit exceeded: {self.elapsed_s():.1f} s on the clock > "
            f"--time-limit {self.time_limit_s or 0:g} s, at {self.progress_text()}"
        )

    # ------------------------------------------------------------------ results

    @property
    def time_to_train_s(self) -> float | None:
        """Seconds from ``run_start`` to ``run_stop`` as logged (ms resolution)."""
        if self.run_start_ms is None or self.run_stop_ms is None:
            return None
        return (self.run_stop_ms - self.run_start_ms) / 1000.0

    def progress_text(self) -> str:
        """The last evaluation position, for messages."""
        if not self.evals:
            return "the first block"
        unit = "epoch" if self.spec.progress == "epoch" else "samples"
        return f"{unit} {self.evals[-1][0]:g}"

    # ------------------------------------------------------------------ internals

    def _progress(self, at: float) -> LogOptions:
        if self.spec.progress == "samples":
            return {"samples_count": int(at)}
        return {"epoch_num": _epoch_value(at)}

    def _log_timed(self, method: Callable[..., None], key: str, **opts: object) -> int:
        when = self.logger.clock_ms()
        method(key, stack_offset=2, time_ms=when, **opts)
        return when

    def _expect(self, state: str, what: str) -> None:
        if self._state != state:
            raise RuntimeError(f"TrainingRun.{what}() needs state {state!r}, not {self._state!r}")


def _epoch_int(value: float) -> int:
    return math.floor(value + 1e-9)


def _epoch_value(value: float) -> float:
    """Whole epochs as ``int`` (``epoch_num: 3``), fractions rounded to 6 places."""
    rounded = round(value, 6)
    return int(rounded) if rounded == int(rounded) else rounded


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
