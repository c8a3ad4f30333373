"""The official power timestamp: UTC, month first, milliseconds (``MM-DD-YYYY HH:MM:SS.mmm``).

LoadGen writes ``power_begin``/``power_end`` in this format (``DateTimeStringForPower``) and
PTDaemon, run with ``TZ=UTC``, stamps its samples the same way; every official parser reads
it month first with ``%m-%d-%Y %H:%M:%S.%f``. Milliseconds are truncated, not rounded, as
``mlmeter.loadgen`` writes them.
"""

from __future__ import annotations

import datetime as _dt
import re

from mlmeter.errors import UserError

POWER_TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"
_PATTERN = re.compile(r"^(\d\d)-(\d\d)-(\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{1,6})$")


def format_power_time_ns(wall_ns: int) -> str:
    """``MM-DD-YYYY HH:MM:SS.mmm`` (UTC) for integer nanoseconds since the epoch, exactly as
    the loadgen writes ``power_begin``/``power_end`` (through float seconds)."""
    return format_power_time(wall_ns / 1e9)


def format_power_time(t_utc: float) -> str:
    """``MM-DD-YYYY HH:MM:SS.mmm`` (UTC) for seconds since the epoch."""
    t = _dt.datetime.fromtimestamp(t_utc, _dt.UTC)
    return t.strftime("%m-%d-%Y %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def parse_power_time(text: str) -> float:
    """Seconds since the epoch for an official UTC power timestamp (month first)."""
    m = _PATTERN.match(text.strip())
    if m is None:
        raise UserError(
            f"invalid power timestamp {text!r}:"
            " expected UTC 'MM-DD-YYYY HH:MM:SS.mmm' (month first)"
        )
    month, day, year, hour, minute, second, frac = m.groups()
    try:
        t = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError as exc:
        raise UserError(f"invalid power timestamp {text!r}: {exc}") from None
    whole = (t - _dt.datetime(1970, 1, 1)) // _dt.timedelta(seconds=1)
    micros = int(frac.ljust(6, "0"))
    return (whole * 1_000_000 + micros) / 1e6
