"""RaplMeter: CPU energy from Linux powercap (``/sys/class/powercap/intel-rapl:*``).

Each zone directory has ``name`` (``package-0``, ``core``, ``dram``...), ``energy_uj`` (a
cumulative microjoule counter) and ``max_energy_range_uj`` (where it wraps). The meter polls
the counters on a thread and turns each difference into the average power over the poll
interval; it polls at least twice per shortest wrap time at ``max_watts``, so it sees at most
one wrap between polls and adds the range back when a counter goes down. The samples carry
the sum over the selected zones (by default the ``package-*`` zones). RAPL covers the CPU
package (and DRAM when selected), not the wall: an estimate, never valid for a closed power
submission. ``energy_uj`` is root-only since Linux 5.10 (CVE-2020-8694).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlmeter.errors import UsageError
from mlmeter.power._model import Availability, MeterInfo, MeterUnavailable, PowerError, PowerSample
from mlmeter.power._sampler import PollingMeter, WallClock

DEFAULT_ROOT = "/sys/class/powercap"
_ZONE = re.compile(r"^intel-rapl:\d+(:\d+)?$")


def _read_text(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()


@dataclass(frozen=True)
class Zone:
    """One powercap zone."""

    path: Path
    name: str
    max_range_uj: int

    def read_uj(self) -> int:
        """The counter now."""
        return int(_read_text(self.path / "energy_uj"))


def find_zones(root: Path) -> list[Zone]:
    """Every ``intel-rapl:N[:M]`` zone under ``root`` (top level and nested), by path."""
    seen: dict[str, Zone] = {}
    for d in sorted([*root.glob("intel-rapl:*"), *root.glob("intel-rapl:*/intel-rapl:*")]):
        if _ZONE.match(d.name) and d.name not in seen and (d / "energy_uj").exists():
            name = _read_text(d / "name")
            seen[d.name] = Zone(d, name, int(_read_text(d / "max_energy_range_uj")))
    return list(seen.values())


class RaplMeter(PollingMeter):
    """A Meter over RAPL energy counters."""

    def __init__(
        self,
        root: str | Path = DEFAULT_ROOT,
        *,
        zones: Sequence[str] = (),
        interval: float = 1.0,
        max_watts: float = 1000.0,
        clock: WallClock | None = None,
    ) -> None:
        if interval <= 0 or max_watts <= 0:
            raise UsageError("--power rapl: interval and max_watts must be > 0")
        super().__init__("mlmeter-rapl", clock)
        self.root, self.zone_names = Path(root), tuple(zones)
        self.interval, self.max_watts = interval, max_watts
        self._zones: list[Zone] = []
        self._last: list[int] = []
        self._t_last = 0.0
        self._zone_joules: dict[str, float] = {}

    def probe(self) -> Availability:
        """Whether the counters exist and can be read; ``reason`` names the fix."""
        try:
            self._select()
        except MeterUnavailable as exc:
            return Availability(False, str(exc))
        return Availability(True)

    def _select(self) -> list[Zone]:
        root = self.root
        if not root.is_dir():
            raise MeterUnavailable(
                f"no {root}: this machine exposes no RAPL counters (a VM or a non-Linux host);"
                " use --power sim, or ptd://HOST:PORT"
            )
        zones = find_zones(root)
        chosen = (
            [z for z in zones if z.name in self.zone_names]
            if self.zone_names
            else [z for z in zones if z.name.startswith("package")]
        )
        if not chosen:
            have = ", ".join(sorted({z.name for z in zones})) or "none"
            raise MeterUnavailable(
                f"no RAPL zones to read under {root} (zones: {have}): load the intel_rapl_msr"
                " module, pick zones with --power rapl:zones=NAME, or use --power sim"
            )
        for z in chosen:
            try:
                z.read_uj()
            except PermissionError:
                raise MeterUnavailable(
                    f"{z.path / 'energy_uj'} is readable only by root (Linux >= 5.10): run as"
                    f" root or `sudo chmod a+r {root}/intel-rapl:*/energy_uj`"
                ) from None
        return chosen

    @property
    def poll_interval(self) -> float:
        """Seconds between polls: ``interval``, or less so no counter can wrap twice."""
        zones = self._zones or self._select()
        shortest = min(z.max_range_uj for z in zones) / 1e6 / self.max_watts
        return min(self.interval, shortest / 2)

    def identify(self) -> MeterInfo:
        """RAPL: an on-chip estimate of the CPU package (not the wall)."""
        zones = self._zones or self._select()
        names = [z.name for z in zones]
        scope = "CPU package" + (" + DRAM" if any("dram" in n for n in names) else "")
        return MeterInfo(
            kind="rapl",
            model="RAPL " + "+".join(names),
            scope=scope,
            valid_for_closed=False,
            needs_ranging=False,
            details={"root": str(self.root), "zones": {z.path.name: z.name for z in zones}},
        )

    def start(self, mark: str, phase: str = "testing") -> None:
        """Read the baselines and start polling."""
        if self._poller.running:
            raise PowerError("the RAPL meter is already sampling: stop it first")
        zones = self._select()
        with self._lock:
            self._zones, self._mark, self._samples = zones, mark, []
            self._last = [z.read_uj() for z in zones]
            self._t_last = self._clock.time()
            self._zone_joules = {z.path.name: 0.0 for z in zones}
        self._start_polling(self.poll_interval)

    def poll(self) -> None:
        """Read every counter once and add a sample (the thread calls this)."""
        with self._lock:
            now = self._clock.time()
            if not self._zones or now <= self._t_last:
                return
            try:
                values = [z.read_uj() for z in self._zones]
            except (OSError, ValueError) as exc:
                raise PowerError(f"RAPL counter read failed: {exc}") from None
            joules = 0.0
            for z, old, new in zip(self._zones, self._last, values, strict=True):
                delta = new - old if new >= old else new + z.max_range_uj - old
                self._zone_joules[z.path.name] += delta / 1e6
                joules += delta / 1e6
            watts = joules / (now - self._t_last)
            self._samples.append(PowerSample(now, watts, mark=self._mark))
            self._last, self._t_last = values, now

    def energy_by_zone(self) -> dict[str, float]:
        """Joules per zone directory since ``start``."""
        with self._lock:
            return dict(self._zone_joules)

    def _stopped(self) -> None:
        """Forget the zones: a poll after ``stop`` adds nothing."""
        self._zones = []


def from_spec(spec: str) -> RaplMeter:
    """``--power rapl[:root=PATH,zones=package-0+dram,interval=S,max_watts=W]``."""
    opts: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in ("root", "zones", "interval", "max_watts"):
            raise UsageError(
                f"unknown --power rapl option {item!r}: use root=PATH, zones=NAME+NAME,"
                " interval=SECONDS, max_watts=W"
            )
        opts[key] = value
    try:
        interval, max_watts = float(opts.get("interval", 1)), float(opts.get("max_watts", 1000))
    except ValueError:
        raise UsageError("--power rapl: interval and max_watts must be numbers") from None
    zones = tuple(filter(None, opts.get("zones", "").split("+")))
    root = opts.get("root", DEFAULT_ROOT)
    return RaplMeter(root, zones=zones, interval=interval, max_watts=max_watts)
