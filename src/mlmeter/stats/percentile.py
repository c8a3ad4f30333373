"""MLPerf percentiles: the nearest-rank rule LoadGen uses, without interpolation.

LoadGen sorts the latencies ascending and reports the element at 0-based index
``floor(n * p)``. The product is formed in IEEE double precision and truncated, so
floating-point error is part of the rule: ``100 * 0.29 == 28.999999999999996``, hence
the 29th-percentile of 100 values is element 28, not 29. We replicate that exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: The percentiles every summary and detail log reports, in order.
REPORTED_PERCENTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.97, 0.99, 0.999)


def percentile_index(n: int, p: float) -> int:
    """Return the 0-based index of the ``p``-th percentile among ``n`` sorted values.

    This is ``int(n * p)`` computed in double precision, i.e. exactly what the C++
    ``static_cast<size_t>(n * p)`` gives (``n`` converts to a double exactly for any
    realistic ``n < 2**53``), clamped to ``n - 1`` so that ``p == 1`` means the maximum.

    Raises:
        ValueError: if ``n < 1`` or ``p`` is outside ``[0, 1]``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    return min(int(float(n) * p), n - 1)


def percentile(sorted_values: npt.NDArray[np.int64], p: float) -> int:
    """Return the ``p``-th percentile of ascending ``sorted_values`` (MLPerf rule).

    The array must already be sorted ascending; this is not checked (it would cost a
    pass over the data on every call).
    """
    return int(sorted_values[percentile_index(len(sorted_values), p)])


def percentiles(
    sorted_values: npt.NDArray[np.int64], ps: Sequence[float] = REPORTED_PERCENTILES
) -> dict[float, int]:
    """Return ``{p: percentile(sorted_values, p)}`` for each ``p`` in ``ps``, in order."""
    return {p: percentile(sorted_values, p) for p in ps}
