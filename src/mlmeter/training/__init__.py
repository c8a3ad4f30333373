"""The generic time-to-train harness: MLLOG events (``:::MLLOG`` lines) and their keys.

``MllogLogger`` writes the official training log format line by line (flushed, rank 0
only by default); ``read_mllog`` reads it back; ``keys`` holds the official key names
(``mlperf_logging.mllog.constants``).
"""

from mlmeter.training import _keys as keys
from mlmeter.training._mllog import (
    MARKER,
    EventType,
    JsonValue,
    LogOptions,
    MllogEvent,
    MllogLogger,
    MllogParseError,
    encode_line,
    parse_mllog_line,
    read_mllog,
)

__all__ = [
    "MARKER",
    "EventType",
    "JsonValue",
    "LogOptions",
    "MllogEvent",
    "MllogLogger",
    "MllogParseError",
    "encode_line",
    "keys",
    "parse_mllog_line",
    "read_mllog",
]
