"""A prefetching loader: reader threads or processes fill a bounded queue of batches.

One :class:`Loader` per rank holds a pool of ``read_threads`` readers for the whole run
(threads: reads release the GIL; or processes started with ``spawn``). For each epoch,
:meth:`Loader.epoch` starts an assembler thread that keeps every reader busy with the next
files (in the order given: the caller shuffles), cuts the samples into batches of
``batch_size`` and puts them on a queue of at most ``prefetch_size`` batches. The epoch
stops after ``steps`` batches. Closing an epoch early, or a failed read, stops the
assembler and cancels pending reads: no thread is left behind.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from mlmeter.errors import UsageError
from mlmeter.storage._reader import FileRead, ReadOptions, Throttle, read_file

WORKERS = ("threads", "processes")
_POLL_S = 0.05


@dataclass(frozen=True)
class Batch:
    """A batch handed to an accelerator: how many samples, how many bytes were read."""

    samples: int
    nbytes: int


@dataclass(frozen=True)
class _Failed:
    error: Exception


_END = object()


def _ready() -> None:
    """A no-op run by each worker process at start-up."""


class Loader:
    """One rank's readers and prefetch queue (a context manager: closing ends the pool)."""

    def __init__(
        self,
        opts: ReadOptions,
        *,
        batch_size: int,
        read_threads: int,
        prefetch_size: int = 2,
        workers: str = "threads",
        throttle: Throttle | None = None,
    ) -> None:
        if workers not in WORKERS:
            raise UsageError(f"--workers {workers!r}: use threads or processes")
        if min(batch_size, read_threads, prefetch_size) < 1:
            raise UsageError("batch size, --read-threads and --prefetch must be at least 1")
        if throttle is not None and workers == "processes":
            raise UsageError("a throttle is shared between threads: use --workers threads")
        self.opts, self.batch_size, self.prefetch_size = opts, batch_size, prefetch_size
        self.read_threads, self.throttle = read_threads, throttle
        self._pool: Executor
        if workers == "threads":
            self._pool = ThreadPoolExecutor(read_threads, thread_name_prefix="reader")
        else:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(read_threads, mp_context=ctx)
            self._start_workers()

    def _start_workers(self) -> None:
        """Start every worker process now, not within the first timed epoch."""
        try:
            for fut in [self._pool.submit(_ready) for _ in range(self.read_threads)]:
                fut.result()
        except Exception:
            self._pool.shutdown(wait=True, cancel_futures=True)
            raise

    def _submit(self, path: str) -> Future[FileRead]:
        if self.throttle is None:
            return self._pool.submit(read_file, path, self.opts)
        return self._pool.submit(read_file, path, self.opts, self.throttle)

    def epoch(self, files: Sequence[str], steps: int) -> EpochBatches:
        """The batches of one epoch over ``files`` (in this order), at most ``steps``."""
        return EpochBatches(self, list(files), steps)

    def close(self) -> None:
        """Stop the readers (pending reads are cancelled)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Loader:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EpochBatches:
    """An iterator of :class:`Batch` fed by an assembler thread; close it when done."""

    def __init__(self, loader: Loader, files: list[str], steps: int) -> None:
        self._loader, self._files, self._steps = loader, files, steps
        self._queue: queue.Queue[object] = queue.Queue(maxsize=loader.prefetch_size)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._assemble, name="assembler", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        if self._done:
            raise StopIteration
        item = self._get()
        if isinstance(item, Batch):
            return item
        self._done = True
        if isinstance(item, _Failed):
            raise item.error
        raise StopIteration

    def _get(self) -> object:
        while True:
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return _END

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the epoch was closed; False when closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _assemble(self) -> None:
        pending: deque[Future[FileRead]] = deque()
        try:
            self._run(pending)
        except Exception as exc:  # handed to the consumer, who re-raises it
            self._put(_Failed(exc))
        finally:
            for fut in pending:
                fut.cancel()
            self._put(_END)

    def _run(self, pending: deque[Future[FileRead]]) -> None:
        loader, files = self._loader, iter(self._files)
        lookahead = 2 * loader.read_threads
        made = have = nbytes = 0
        while made < self._steps and not self._stop.is_set():
            while len(pending) < lookahead and (path := next(files, None)) is not None:
                pending.append(loader._submit(path))
            if not pending:
                return  # out of files: the consumer sees the end
            got = pending.popleft().result()
            have, nbytes = have + got.samples, nbytes + got.nbytes
            while have >= loader.batch_size and made < self._steps:
                if not self._put(Batch(loader.batch_size, nbytes)):
                    return
                have, nbytes, made = have - loader.batch_size, 0, made + 1

    def close(self) -> None:
        """Stop the assembler and wait for it (it finishes at most one read)."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        self._thread.join()

    def __enter__(self) -> EpochBatches:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
