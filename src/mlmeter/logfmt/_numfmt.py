"""Number formatting as the official LoadGen prints it (C++ iostreams).

- ``fmt_double``: the default stream format, 6 significant digits, i.e. ``%g``:
  ``1.43398e+06``, ``1000``, ``0.99``, ``4.0083e-05``.
- ``fmt_fixed``: ``std::fixed`` with a precision (LoadGen's ``DoubleToString``, 2 by default):
  ``988.85``.
- ``fmt_percent_label``: a percentile as the labels show it: ``0.999`` -> ``99.90``
  (``digits=1``: ``90.0``, as in "90.0th percentile latency").
- ``fmt_ns_as_ms`` / ``fmt_ns_as_us``: exact decimal renderings of integer nanoseconds
  (``time_ms`` of the detail log: 6 decimals; trace ``ts``: 3 decimals).
"""

from __future__ import annotations

import math


def fmt_double(x: float) -> str:
    """C++ default stream formatting of a double (precision 6, like ``%g``)."""
    return format(float(x), "g")


def fmt_fixed(x: float, digits: int = 2) -> str:
    """C++ ``std::fixed`` formatting with ``digits`` decimals."""
    return f"{float(x):.{digits}f}"


def fmt_percent_label(fraction: float, digits: int = 2) -> str:
    """``fraction * 100`` with ``digits`` decimals (``0.5`` -> ``50.00``)."""
    return fmt_fixed(fraction * 100, digits)


def fmt_ns_as_ms(ns: int) -> str:
    """Integer ns as ms with 6 decimals, exactly (``7581`` -> ``0.007581``)."""
    return _scaled(ns, 1_000_000, 6)


def fmt_ns_as_us(ns: int) -> str:
    """Integer ns as µs with 3 decimals, exactly (``130906`` -> ``130.906``)."""
    return _scaled(ns, 1_000, 3)


def json_double(x: float) -> str:
    """A double as a JSON value in the ``%g`` form; non-finite as ``NaN``/``Infinity``.

    The official writes C++ ``inf``/``nan``, which no JSON reader accepts; Python's
    ``json`` reads ``Infinity``/``NaN``.
    """
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return fmt_double(x)


def _scaled(ns: int, unit: int, digits: int) -> str:
    ns = int(ns)
    sign = "-" if ns < 0 else ""
    whole, frac = divmod(abs(ns), unit)
    return f"{sign}{whole}.{frac:0{digits}d}"
