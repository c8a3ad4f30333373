"""``spl.txt``: the sample log, one line per reading, exactly as PTDaemon writes it.

``Time,<MM-DD-YYYY HH:MM:SS.mmm>,Watts,<w>,Volts,<v>,Amps,<a>,PF,<pf>,Mark,<mark>``, every
number with six decimals (C's ``%f``), the time in UTC, month first. A value the meter does
not know is ``-1.000000`` (as the director writes volts/amps/PF when it sums several
analyzers), an unset mark is ``notset``. Multichannel analyzers append
``,Ch1,Watts,...,Ch2,...``; the reader takes the totals and ignores that suffix.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlmeter.errors import UserError
from mlmeter.logfmt import atomic_write_text
from mlmeter.power._model import PowerSample
from mlmeter.power._timefmt import format_power_time, parse_power_time

UNKNOWN = -1.0
NO_MARK = "notset"
_KEYS = ("Time", "Watts", "Volts", "Amps", "PF", "Mark")


def _num(value: float | None) -> str:
    return f"{UNKNOWN if value is None else value:f}"


def format_spl_line(sample: PowerSample) -> str:
    """One ``spl.txt`` line (without the newline)."""
    return (
        f"Time,{format_power_time(sample.t_utc)},Watts,{sample.watts:f},"
        f"Volts,{_num(sample.volts)},Amps,{_num(sample.amps)},PF,{_num(sample.pf)},"
        f"Mark,{sample.mark or NO_MARK}"
    )


def format_spl(samples: Iterable[PowerSample]) -> str:
    """The text of an ``spl.txt`` holding ``samples``."""
    return "".join(format_spl_line(s) + "\n" for s in samples)


def write_spl(path: str | Path, samples: Iterable[PowerSample]) -> None:
    """Write ``samples`` to ``path`` atomically."""
    atomic_write_text(path, format_spl(samples))


def _optional(text: str) -> float | None:
    value = float(text)
    return None if value == UNKNOWN else value


def parse_spl_line(line: str) -> PowerSample:
    """A sample from one ``spl.txt`` line; a ValueError says what is wrong."""
    fields = line.rstrip("\r\n").split(",")
    if len(fields) < 12 or tuple(fields[0:12:2]) != _KEYS:
        raise ValueError("expected Time,<t>,Watts,<w>,Volts,<v>,Amps,<a>,PF,<pf>,Mark,<mark>")
    mark = fields[11]
    return PowerSample(
        t_utc=parse_power_time(fields[1]),
        watts=float(fields[3]),
        volts=_optional(fields[5]),
        amps=_optional(fields[7]),
        pf=_optional(fields[9]),
        mark="" if mark == NO_MARK else mark,
    )


def parse_spl(text: str, source: str = "spl.txt") -> list[PowerSample]:
    """Every sample in ``text`` (blank lines skipped); a UserError names the bad line."""
    out: list[PowerSample] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(parse_spl_line(line))
        except (ValueError, UserError) as exc:
            raise UserError(f"{source}:{line_no}: not a sample line ({exc})") from None
    return out


def read_spl(path: str | Path) -> list[PowerSample]:
    """Every sample in the ``spl.txt`` at ``path``."""
    return parse_spl(Path(path).read_text(encoding="utf-8"), str(path))
