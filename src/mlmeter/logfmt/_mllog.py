"""One ``:::MLLOG`` line: the official JSON layout and value formatting."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from mlmeter.logfmt._numfmt import fmt_ns_as_ms, json_double
from mlmeter.logfmt._records import LogRecord

MARKER = ":::MLLOG"


def mllog_line(record: LogRecord, *, pid: int, tid: int) -> str:
    """The ``:::MLLOG {...}`` line for ``record`` (no trailing newline)."""
    meta = (
        f'{{"is_error": {_bool(record.is_error)}, "is_warning": {_bool(record.is_warning)}, '
        f'"file": {_string(record.source)}, "line_no": {record.line_no}, '
        f'"pid": {pid}, "tid": {tid}}}'
    )
    return (
        f'{MARKER} {{"key": {_string(record.key)}, "value": {mllog_value(record.value)}, '
        f'"time_ms": {fmt_ns_as_ms(record.time_ns)}, "namespace": "mlperf::logging", '
        f'"event_type": "POINT_IN_TIME", "metadata": {meta}}}'
    )


def mllog_value(value: object) -> str:
    """A value as the official writes it (doubles as ``%g``, containers without spaces)."""
    if value is None:
        return "null"
    if isinstance(value, bool | np.bool_):
        return _bool(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return json_double(float(value))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        inner = ",".join(f"{_string(str(k))}:{mllog_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ",".join(mllog_value(v) for v in value) + "]"
    raise TypeError(f"cannot log a {type(value).__name__} value in an MLLOG line")


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
