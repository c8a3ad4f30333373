"""Bit-exact replicas of the libstdc++ random machinery that MLPerf LoadGen uses.

The official LoadGen draws every schedule from ``std::mt19937`` engines through
``std::uniform_int_distribution``, ``std::shuffle`` and
``std::exponential_distribution``. The wheel on PyPI is built with GCC 14, whose
libstdc++ implements them as follows (``bits/uniform_int_dist.h``,
``bits/stl_algo.h``, ``bits/random.tcc``; unchanged since GCC 11):

- ``std::mt19937(seed)`` keeps ``seed mod 2**32`` and runs the classic
  ``init_genrand`` recurrence. numpy's ``MT19937`` is the same engine, so its
  raw 32-bit stream is the C++ stream once its key is set from that recurrence.
- ``uniform_int_distribution(a, b)`` with a 32-bit engine uses Lemire's
  nearly-divisionless method: ``m = u32 * r`` (``r = b - a + 1``); the draw is
  rejected while ``m mod 2**32 < (2**32 - r) mod r``; the result is ``m >> 32``.
  A rejected draw is simply skipped, so a run of results with the same range is
  the accepted subsequence of the raw stream.
- ``std::shuffle`` walks forward (``swap(a[i], a[j])``, ``j`` uniform in
  ``[0, i]``). When ``n * n`` fits in the engine's range it takes one draw for
  two swaps: ``x`` uniform in ``[0, (i + 1) * (i + 2))`` gives ``x // (i + 2)``
  and ``x % (i + 2)``; an even ``n`` first does one swap with range 2.
- ``generate_canonical<double, 53>`` takes two draws ``(lo, hi)`` and returns
  ``(lo + hi * 2**32) / 2**64``, clamped below 1.0;
  ``exponential_distribution`` returns ``-log(1 - u) / lambda``.

Everything here works on whole numpy blocks; only the Fisher-Yates swaps and
rare Lemire rejections run element by element.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "StdMt19937",
    "bounded",
    "exponential",
    "generate_canonical",
    "shuffle",
    "uniform_int",
    "uniform_real01",
]

_MASK32 = 0xFFFF_FFFF
_TWO32 = 1 << 32
_STATE_WORDS = 624
# Largest number of elements std::shuffle handles with paired draws:
# the largest n with n * n <= 2**32 - 1.
_PAIRED_SHUFFLE_MAX = 65535
_CHUNK_MAX = 1 << 16
_CHUNK_MIN = 16


def _init_key(seed: int) -> NDArray[np.uint32]:
    """The 624-word state std::mt19937(seed) starts from (``init_genrand``)."""
    key = np.empty(_STATE_WORDS, dtype=np.uint32)
    x = seed & _MASK32
    key[0] = x
    for i in range(1, _STATE_WORDS):
        x = (1812433253 * (x ^ (x >> 30)) + i) & _MASK32
        key[i] = x
    return key


class StdMt19937:
    """``std::mt19937`` seeded like the C++ constructor, as a stream of uint32 blocks.

    ``seed`` is a Python int read with ``uint64_t`` semantics (LoadGen's seeds
    are ``uint64_t``); the engine keeps its low 32 bits, as libstdc++ does.
    """

    def __init__(self, seed: int) -> None:
        if not 0 <= seed < 1 << 64:
            raise ValueError(f"seed must be in [0, 2**64), got {seed}")
        self._bitgen = np.random.MT19937()
        self._bitgen.state = {
            "bit_generator": "MT19937",
            "state": {"key": _init_key(seed), "pos": _STATE_WORDS},
        }
        self._pending: NDArray[np.uint32] = np.empty(0, dtype=np.uint32)

    def next_u32_block(self, n: int) -> NDArray[np.uint32]:
        """The next ``n`` raw outputs, in order."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        held = self._pending.size
        if n <= held:
            out = self._pending[:n]
            self._pending = self._pending[n:]
            return out
        fresh = self._bitgen.random_raw(n - held).astype(np.uint32)
        if held == 0:
            return fresh
        out = np.concatenate([self._pending, fresh])
        self._pending = np.empty(0, dtype=np.uint32)
        return out

    def next_u32(self) -> int:
        """The next raw output."""
        return int(self.next_u32_block(1)[0])

    def unread(self, values: NDArray[np.uint32]) -> None:
        """Push outputs back so that the next reads return them first, in order."""
        if values.size:
            self._pending = np.concatenate([values.astype(np.uint32), self._pending])


def _thresholds(ranges: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Lemire's rejection threshold ``(2**32 - r) mod r`` for each range."""
    return (np.uint64(_TWO32) - ranges) % ranges


def _bounded_constant(gen: StdMt19937, r: int, n: int) -> NDArray[np.uint64]:
    """``n`` Lemire draws in ``[0, r)``: the accepted subsequence of the raw stream."""
    rng = np.uint64(r)
    threshold = np.uint64((_TWO32 - r) % r)
    out = np.empty(n, dtype=np.uint64)
    done = 0
    while done < n:
        product = gen.next_u32_block(n - done).astype(np.uint64) * rng
        accepted = product[(product & np.uint64(_MASK32)) >= threshold]
        out[done : done + accepted.size] = accepted >> np.uint64(32)
        done += accepted.size
    return out


def _redraw(gen: StdMt19937, spare: NDArray[np.uint32], r: int, t: int) -> tuple[int, int]:
    """Resolve one rejected Lemire draw; return the value and how many spares it used."""
    used = 0
    while True:
        raw = int(spare[used]) if used < spare.size else gen.next_u32()
        used += 1
        product = raw * r
        if product & _MASK32 >= t:
            return product >> 32, used


def bounded(gen: StdMt19937, ranges: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """One Lemire draw in ``[0, ranges[k])`` for each ``k``, consumed in order.

    Ranges must lie in ``[1, 2**32)``. Rejections shift the pairing of raw draws
    to ranges, so blocks are accepted up to the first rejection, which is then
    resolved one draw at a time; block sizes adapt to the rejection rate.
    """
    n = ranges.size
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    if int(ranges.min()) < 1 or int(ranges.max()) >= _TWO32:
        raise ValueError("every range must be in [1, 2**32)")
    thresholds = _thresholds(ranges)
    k = 0
    chunk = _CHUNK_MAX
    while k < n:
        size = min(n - k, chunk)
        raw = gen.next_u32_block(size)
        product = raw.astype(np.uint64) * ranges[k : k + size]
        rejected = (product & np.uint64(_MASK32)) < thresholds[k : k + size]
        first = int(np.argmax(rejected)) if bool(rejected.any()) else size
        out[k : k + first] = product[:first] >> np.uint64(32)
        k += first
        if first == size:
            chunk = min(_CHUNK_MAX, chunk * 4)
            continue
        spare = raw[first + 1 :]
        value, used = _redraw(gen, spare, int(ranges[k]), int(thresholds[k]))
        out[k] = value
        k += 1
        gen.unread(spare[used:])
        chunk = max(_CHUNK_MIN, min(_CHUNK_MAX, 2 * (first + 1)))
    return out


def uniform_int(gen: StdMt19937, lo: int, hi: int, n: int) -> NDArray[np.int64]:
    """``n`` draws of ``std::uniform_int_distribution(lo, hi)`` on a 32-bit engine.

    The distribution's integer type does not matter for ``hi - lo < 2**32``:
    libstdc++ widens to the engine's 64-bit ``result_type`` either way.
    """
    span = hi - lo
    if span < 0 or span >= _TWO32:
        raise ValueError(f"need 0 <= hi - lo < 2**32, got lo={lo}, hi={hi}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if span == _MASK32:
        # The engine's range equals the requested one: raw values, no rejection.
        return gen.next_u32_block(n).astype(np.int64) + lo
    return _bounded_constant(gen, span + 1, n).astype(np.int64) + lo


def _shuffle_targets(gen: StdMt19937, n: int) -> NDArray[np.int64]:
    """Swap partners ``j[i - 1]`` for ``i = 1 .. n - 1``, drawn as std::shuffle does."""
    if n > _PAIRED_SHUFFLE_MAX:
        ranges = np.arange(2, n + 1, dtype=np.uint64)
        return bounded(gen, ranges).astype(np.int64)
    start = 2 if n % 2 == 0 else 1
    b0 = np.arange(start + 1, n + 1, 2, dtype=np.uint64)  # (i - first) + 1
    b1 = b0 + np.uint64(1)
    head = np.array([2], dtype=np.uint64) if start == 2 else np.empty(0, dtype=np.uint64)
    draws = bounded(gen, np.concatenate([head, b0 * b1]))
    targets = np.empty(n - 1, dtype=np.int64)
    if start == 2:
        targets[0] = int(draws[0])
    pairs = draws[head.size :]
    targets[start - 1 :: 2] = (pairs // b1).astype(np.int64)
    targets[start::2] = (pairs % b1).astype(np.int64)
    return targets


def shuffle(gen: StdMt19937, arr: NDArray[np.int64]) -> None:
    """``std::shuffle(arr.begin(), arr.end(), gen)`` in place (1-D array)."""
    n = arr.shape[0]
    if n < 2:
        return
    targets = _shuffle_targets(gen, n).tolist()
    items = arr.tolist()
    for i, j in enumerate(targets, start=1):
        items[i], items[j] = items[j], items[i]
    arr[:] = items


def generate_canonical(gen: StdMt19937, n: int) -> NDArray[np.float64]:
    """``n`` draws of ``std::generate_canonical<double, 53>``: two raw draws each."""
    raw = gen.next_u32_block(2 * n).astype(np.float64).reshape(n, 2)
    u = (raw[:, 0] + raw[:, 1] * float(_TWO32)) / float(_TWO32 * _TWO32)
    u[u >= 1.0] = math.nextafter(1.0, 0.0)
    return u


def uniform_real01(gen: StdMt19937, n: int) -> NDArray[np.float64]:
    """``n`` draws of ``std::uniform_real_distribution<double>(0, 1)``."""
    return generate_canonical(gen, n)


def _glibc_log(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log`` through the C library, as the official binary calls it.

    numpy's vectorised ``log`` may differ from libm by an ulp, which can move a
    truncated nanosecond; ``math.log`` is libm's.
    """
    return np.fromiter(map(math.log, values.tolist()), dtype=np.float64, count=values.size)


def exponential(gen: StdMt19937, lam: float, n: int) -> NDArray[np.float64]:
    """``n`` draws of ``std::exponential_distribution<double>(lam)``."""
    if not lam > 0.0:
        raise ValueError(f"lambda must be > 0, got {lam}")
    u = generate_canonical(gen, n)
    return -_glibc_log(1.0 - u) / lam
