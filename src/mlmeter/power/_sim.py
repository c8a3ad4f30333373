"""SimulatedMeter: a deterministic fake power meter (the default in tests and CI).

Samples lie on a fixed grid, ``start + k * interval``, like an analyzer with its own clock;
each reading is the average power over the period ending at its stamp (what an analyzer
reports), taken from a seeded profile (``_sim_profiles``), plus optional seeded noise and
dropouts. With the real clock a background thread takes the samples as time passes; with a
``FakeWallClock`` nothing runs in the background and the samples up to the fake "now" are
taken whenever they are asked for, so tests are exact.

Spec (``--power sim:...``): ``profile=constant|square|ramp|sine|load``, the profile's own
keys (e.g. ``low,high,period,duty``), and ``interval`` (s, default 1), ``seed``, ``noise``
(W, standard deviation), ``dropout`` (probability per sample).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence

from mlmeter.errors import UsageError
from mlmeter.power._model import Availability, MeterInfo, PowerError, PowerSample
from mlmeter.power._sampler import FakeWallClock as FakeWallClock  # mlmeter.power's import
from mlmeter.power._sampler import PollThread, RealWallClock, WallClock
from mlmeter.power._sim_profiles import PROFILES, Load, Profile, make_profile

VOLTS = 230.0
PF = 0.95
_EPS = 1e-6  # s: a grid point that float steps of a fake clock miss (epoch floats: ~0.2 µs)
_COMMON = ("interval", "seed", "noise", "dropout")


class SimulatedMeter:
    """A Meter with a known power profile and an analytic ``expected_energy``."""

    def __init__(
        self,
        profile: Profile,
        *,
        interval: float = 1.0,
        seed: int = 0,
        noise: float = 0.0,
        dropout: float = 0.0,
        clock: WallClock | None = None,
        load: Callable[[], float] | None = None,
    ) -> None:
        if interval <= 0 or noise < 0 or not 0 <= dropout < 1:
            raise UsageError("--power sim: need interval > 0, noise >= 0 and 0 <= dropout < 1")
        self.profile, self.interval, self.seed = profile, interval, seed
        self.noise, self.dropout = noise, dropout
        self._clock: WallClock = clock or RealWallClock()
        self._threaded = clock is None
        self._load = load
        self._origin = self._clock.time()
        self._lock = threading.Lock()
        self._samples: list[PowerSample] = []
        self._readings: list[tuple[float, float, float]] = []  # (from, to, true watts)
        self._mark, self._start, self._k = "", 0.0, 0
        self._rng = random.Random(seed)
        self._running = False
        self._poller = PollThread("mlmeter-sim")

    def follow(self, load: Callable[[], float]) -> None:
        """Set the callback a ``load`` profile reads (e.g. queries in flight)."""
        self._load = load

    def probe(self) -> Availability:
        """Always available."""
        return Availability(True)

    def identify(self) -> MeterInfo:
        """A simulated source: never valid for a closed power submission."""
        details = {**vars(self.profile), "interval": self.interval, "seed": self.seed}
        details.update(noise=self.noise, dropout=self.dropout)
        return MeterInfo(
            kind="sim",
            model=f"simulated ({self.profile.name})",
            scope="simulated",
            valid_for_closed=False,
            needs_ranging=False,
            details=details,
        )

    def start(self, mark: str, phase: str = "testing") -> None:
        """Start a new series of samples tagged ``mark``."""
        with self._lock:
            if self._running:
                raise PowerError("the simulated meter is already sampling: stop it first")
            self._samples, self._readings = [], []
            self._mark, self._start, self._k = mark, self._clock.time(), 0
            self._rng = random.Random(self.seed)
            self._running = True
        if self._threaded:
            self._poller.start(self._catch_up, self.interval / 2)

    def _catch_up(self) -> None:
        with self._lock:
            now = self._clock.time()
            while self._running and self._start + (self._k + 1) * self.interval <= now + _EPS:
                self._k += 1
                self._take(
                    self._start + (self._k - 1) * self.interval,
                    self._start + self._k * self.interval,
                )

    def _take(self, a: float, b: float) -> None:
        if isinstance(self.profile, Load):
            value = self._load() if self._load is not None else 0.0
            watts = self.profile.watts_at_load(value)
        else:
            watts = self.profile.energy(a - self._origin, b - self._origin) / (b - a)
        self._readings.append((a, b, watts))
        noisy = max(0.0, watts + self._rng.gauss(0.0, self.noise)) if self.noise else watts
        if self.dropout and self._rng.random() < self.dropout:
            return
        amps = noisy / (VOLTS * PF)
        self._samples.append(PowerSample(b, noisy, VOLTS, amps, PF, self._mark))

    def samples(self) -> Sequence[PowerSample]:
        """The samples so far."""
        self._catch_up()
        with self._lock:
            return list(self._samples)

    def stop(self) -> Sequence[PowerSample]:
        """Stop sampling and return every sample since ``start``."""
        self._catch_up()
        self._halt()
        with self._lock:
            return list(self._samples)

    def _halt(self) -> None:
        with self._lock:
            self._running = False
        self._poller.halt()

    def close(self) -> None:
        """Stop the thread if it runs."""
        self._halt()

    def expected_energy(self, a: float, b: float) -> float:
        """The true joules over UTC ``[a, b]``: the profile's closed form, or for ``load``
        the recorded readings (each held over its period), without noise or dropouts."""
        if not isinstance(self.profile, Load):
            return self.profile.energy(a - self._origin, b - self._origin)
        with self._lock:
            periods = list(self._readings)
        return sum(w * max(0.0, min(b, hi) - max(a, lo)) for lo, hi, w in periods)


def parse_sim_spec(spec: str) -> tuple[str, dict[str, float]]:
    """``profile=square,low=50`` -> ("square", {"low": 50.0}); a UsageError names a bad key."""
    name, params = "constant", {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--power sim: expected key=value, got {item!r}")
        if key == "profile":
            name = value
            continue
        try:
            params[key] = float(value)
        except ValueError:
            raise UsageError(f"--power sim: {key} must be a number, got {value!r}") from None
    return name, params


def from_spec(spec: str) -> SimulatedMeter:
    """A SimulatedMeter from ``--power sim[:key=value,...]`` (the part after ``sim:``)."""
    name, params = parse_sim_spec(spec)
    cls = PROFILES.get(name)
    if cls is None:
        raise UsageError(f"unknown sim profile {name!r}: use profile={'|'.join(PROFILES)}")
    allowed = [*cls.__dataclass_fields__, *_COMMON]
    for key in params:
        if key not in allowed:
            raise UsageError(
                f"unknown --power sim option {key!r} for profile={name}: use {', '.join(allowed)}"
            )
    common = {k: params.pop(k) for k in _COMMON if k in params}
    profile = make_profile(name, params)
    return SimulatedMeter(
        profile,
        interval=common.get("interval", 1.0),
        seed=int(common.get("seed", 0)),
        noise=common.get("noise", 0.0),
        dropout=common.get("dropout", 0.0),
    )
