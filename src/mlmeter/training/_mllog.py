"""Training ``:::MLLOG`` lines, written and read as the official ``mlperf_logging.mllog`` does.

A line is ``:::MLLOG `` and a JSON object with the keys in this order::

    {"namespace": "", "time_ms": 1760039600000, "event_type": "POINT_IN_TIME",
     "key": "seed", "value": 11, "metadata": {"file": "train.py", "lineno": 97}}

``time_ms`` is integer milliseconds since the Unix epoch; ``event_type`` is
``INTERVAL_START`` (``start``), ``INTERVAL_END`` (``end``) or ``POINT_IN_TIME``
(``event``); ``metadata`` starts with the call site (``file``, ``lineno``) followed by
``epoch_num``, ``first_epoch_num``, ``epoch_count``, ``samples_count``, ``step_num`` and
``status`` where given (in the caller's keyword order), then any extra fields. JSON
uses Python's default separators (``", "``, ``": "``) and ASCII escapes, like the
official library.

The logger flushes after every line, so a crash loses nothing already logged. Only rank 0
writes unless ``rank`` is ``None``; other ranks write nothing and open no file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final, Literal, TypeAlias, TypedDict

import numpy as np

from mlmeter.clock import wall_clock_utc_ns
from mlmeter.errors import UserError
from mlmeter.training import _keys

if TYPE_CHECKING:
    from typing_extensions import Unpack

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
EventType: TypeAlias = Literal["POINT_IN_TIME", "INTERVAL_START", "INTERVAL_END"]
StrPath: TypeAlias = "str | Path"

MARKER: Final = ":::MLLOG"
EVENT_TYPES: Final[frozenset[str]] = frozenset(
    {_keys.POINT_IN_TIME, _keys.INTERVAL_START, _keys.INTERVAL_END}
)


class MllogParseError(UserError):
    """A ``:::MLLOG`` line whose JSON is not a valid event: carries the file and line."""

    def __init__(self, path: str, line_no: int, message: str) -> None:
        super().__init__(f"{path}:{line_no}: {message}")
        self.path = path
        self.line_no = line_no


@dataclass(frozen=True, slots=True)
class MllogEvent:
    """One training log event, as written on a ``:::MLLOG`` line."""

    key: str
    value: JsonValue = None
    time_ms: int = 0
    event_type: EventType = "POINT_IN_TIME"
    namespace: str = ""
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"key must be a non-empty string, got {self.key!r}")
        if isinstance(self.time_ms, bool) or not isinstance(self.time_ms, int):
            raise ValueError(f"time_ms must be an integer, got {self.time_ms!r}")
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"event_type must be one of {sorted(EVENT_TYPES)}")
        if not isinstance(self.namespace, str):
            raise ValueError(f"namespace must be a string, got {self.namespace!r}")

    @property
    def file(self) -> str | None:
        """The source file of the call that logged the event."""
        return _opt_str(self.metadata.get("file"))

    @property
    def lineno(self) -> int | None:
        """The source line of the call that logged the event."""
        return _opt_int(self.metadata.get("lineno"))

    @property
    def epoch_num(self) -> float | None:
        """``metadata.epoch_num`` (a fraction for DLRM), if present."""
        v = self.metadata.get(_keys.EPOCH_NUM)
        return v if isinstance(v, int | float) and not isinstance(v, bool) else None

    @property
    def samples_count(self) -> int | None:
        """``metadata.samples_count``, if present."""
        return _opt_int(self.metadata.get(_keys.SAMPLES_COUNT))

    @property
    def status(self) -> str | None:
        """``metadata.status`` (``success`` / ``aborted`` on ``run_stop``), if present."""
        return _opt_str(self.metadata.get(_keys.STATUS))

    def to_line(self) -> str:
        """The ``:::MLLOG {...}`` line (no newline), byte-compatible with the official."""
        return encode_line(
            self.namespace, self.time_ms, self.event_type, self.key, self.value, self.metadata
        )


def encode_line(
    namespace: str,
    time_ms: int,
    event_type: str,
    key: str,
    value: object,
    metadata: Mapping[str, object],
) -> str:
    """Encode one event exactly as ``mlperf_logging.mllog`` does (numpy values included)."""
    record = {
        "namespace": namespace,
        "time_ms": time_ms,
        "event_type": event_type,
        "key": key,
        "value": value,
        "metadata": dict(metadata),
    }
    return f"{MARKER} {json.dumps(record, default=_numpy_default)}"


def _numpy_default(obj: object) -> object:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _opt_str(v: JsonValue | None) -> str | None:
    return v if isinstance(v, str) else None


def _opt_int(v: JsonValue | None) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _now_ms() -> int:
    return wall_clock_utc_ns() // 1_000_000


_META_FIELDS: Final = frozenset(
    {
        _keys.EPOCH_NUM,
        _keys.FIRST_EPOCH_NUM,
        _keys.EPOCH_COUNT,
        _keys.SAMPLES_COUNT,
        _keys.STEP_NUM,
        _keys.STATUS,
    }
)


class LogOptions(TypedDict, total=False):
    """The keyword arguments of ``MllogLogger.event``/``start``/``end`` (see ``log``)."""

    metadata: Mapping[str, object] | None
    time_ms: int | None
    namespace: str | None
    epoch_num: float | None
    first_epoch_num: int | None
    epoch_count: int | None
    samples_count: int | None
    step_num: int | None
    status: str | None


class MllogLogger:
    """Writes training ``:::MLLOG`` lines to a file or stream, flushing every line.

    ``sink`` is a path (opened for append, created with its folder) or an open text
    stream (not closed by ``close``). With ``rank`` other than 0 nothing is written and
    no file is opened; pass ``rank=None`` to log from every process. ``root_dir`` is
    trimmed from the reported source file; ``clock`` returns ms since the epoch.
    """

    def __init__(
        self,
        sink: StrPath | IO[str],
        *,
        rank: int | None = 0,
        namespace: str = "",
        root_dir: StrPath | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.enabled = rank is None or rank == 0
        self.namespace = namespace
        self._root = f"{str(root_dir).rstrip('/')}/" if root_dir is not None else None
        self._clock = clock
        self._owned = False
        self._stream: IO[str] | None = None
        if self.enabled:
            self._stream = self._open(sink)

    def _open(self, sink: StrPath | IO[str]) -> IO[str]:
        if not isinstance(sink, str | Path):
            return sink
        path = Path(sink)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._owned = True
        return path.open("a", encoding="utf-8")

    def clock_ms(self) -> int:
        """The logger's clock now: integer ms since the Unix epoch."""
        return self._clock()

    def event(
        self, key: str, value: object = None, *, stack_offset: int = 0, **meta: Unpack[LogOptions]
    ) -> None:
        """Log a ``POINT_IN_TIME`` event (see ``log`` for the keyword arguments)."""
        self.log(_keys.POINT_IN_TIME, key, value, stack_offset=stack_offset + 1, **meta)

    def start(
        self, key: str, value: object = None, *, stack_offset: int = 0, **meta: Unpack[LogOptions]
    ) -> None:
        """Log an ``INTERVAL_START`` event, e.g. ``init_start``, ``epoch_start``."""
        self.log(_keys.INTERVAL_START, key, value, stack_offset=stack_offset + 1, **meta)

    def end(
        self, key: str, value: object = None, *, stack_offset: int = 0, **meta: Unpack[LogOptions]
    ) -> None:
        """Log an ``INTERVAL_END`` event, e.g. ``run_stop`` with ``status="success"``."""
        self.log(_keys.INTERVAL_END, key, value, stack_offset=stack_offset + 1, **meta)

    def log(
        self,
        event_type: EventType,
        key: str,
        value: object = None,
        *,
        stack_offset: int = 0,
        **opts: Unpack[LogOptions],
    ) -> None:
        """Write one event and flush.

        ``time_ms`` (default: the clock) and ``namespace`` (default: the logger's)
        override the line's fields. ``epoch_num``, ``first_epoch_num``, ``epoch_count``,
        ``samples_count``, ``step_num`` and ``status`` go into the metadata after
        ``file``/``lineno``, in the order given, when not ``None``; ``metadata`` adds
        further fields (and, like the official, may override ``file``/``lineno``).
        ``stack_offset`` counts extra frames between the logged call site and this call.
        """
        if self._stream is None:
            return
        named = {k: v for k, v in opts.items() if k in _META_FIELDS and v is not None}
        meta: dict[str, object] = self._caller(stack_offset + 1)
        meta.update(named)
        extra = opts.get("metadata")
        if extra:
            clash = sorted(set(extra) & set(named))
            if clash:
                raise ValueError(f"metadata given twice: {', '.join(clash)}")
            meta.update(extra)
        namespace = opts.get("namespace")
        ns = self.namespace if namespace is None else namespace
        time_ms = opts.get("time_ms")
        when = self._clock() if time_ms is None else time_ms
        self._stream.write(encode_line(ns, when, event_type, key, value, meta) + "\n")
        self._stream.flush()

    def _caller(self, depth: int) -> dict[str, object]:
        frame = sys._getframe(depth + 1)
        filename = frame.f_code.co_filename
        if self._root is not None and filename.startswith(self._root):
            filename = filename[len(self._root) :]
        return {"file": filename, "lineno": frame.f_lineno}

    def close(self) -> None:
        """Close the file if the logger opened it (a stream given by the caller stays open)."""
        stream, self._stream = self._stream, None
        if stream is not None and self._owned:
            stream.close()

    def __enter__(self) -> MllogLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def parse_mllog_line(line: str, *, source: str = "<string>", line_no: int = 0) -> MllogEvent | None:
    """The event on ``line``, or ``None`` when it has no ``:::MLLOG`` marker.

    Text before the marker (``[1,0]<stdout>:`` from mpirun) is ignored, as the official
    parser does. Raises ``MllogParseError`` when the JSON after the marker is invalid.
    """
    at = line.find(MARKER)
    if at < 0:
        return None
    try:
        raw = json.loads(line[at + len(MARKER) :])
        return _event_from_json(raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise MllogParseError(source, line_no, f"invalid {MARKER} line: {exc}") from None


def _event_from_json(raw: object) -> MllogEvent:
    if not isinstance(raw, dict):
        raise TypeError("the JSON is not an object")
    meta = raw.get("metadata") or {}
    if not isinstance(meta, dict):
        raise TypeError("metadata is not an object")
    return MllogEvent(
        key=raw["key"],
        value=raw.get("value"),
        time_ms=raw["time_ms"],
        event_type=raw.get("event_type", _keys.POINT_IN_TIME),
        namespace=raw.get("namespace", ""),
        metadata=meta,
    )


def read_mllog(path: StrPath, *, strict: bool = True) -> list[MllogEvent]:
    """Every ``:::MLLOG`` event in ``path``, in file order; other lines are skipped.

    With ``strict=False`` a malformed ``:::MLLOG`` line (say, truncated by a crash) is
    skipped instead of raising ``MllogParseError``.
    """
    events: list[MllogEvent] = []
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        for no, line in enumerate(f, start=1):
            try:
                event = parse_mllog_line(line, source=str(path), line_no=no)
            except MllogParseError:
                if strict:
                    raise
                continue
            if event is not None:
                events.append(event)
    return events
