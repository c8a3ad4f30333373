"""RaplMeter on a fake powercap tree, with counter wraps, under a fake and the real clock."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlmeter.errors import UsageError
from mlmeter.power import _rapl
from mlmeter.power._model import PowerError
from mlmeter.power._rapl import RaplMeter, find_zones, from_spec
from mlmeter.power._sim import FakeWallClock

T0 = 1_700_000_000.0
BIG = 262_143_328_850  # a real package range (about 262 kJ)


class FakeSysfs:
    """A powercap tree whose counters the test advances by joules, wrapping as RAPL does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.total_uj: dict[str, int] = {}
        self.ranges: dict[str, int] = {}
        (root / "intel-rapl").mkdir(parents=True)  # the control type: no counter
        (root / "intel-rapl" / "enabled").write_text("1\n")

    def zone(self, rel: str, name: str, max_range: int = BIG, start_uj: int = 0) -> None:
        d = self.root / rel
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "max_energy_range_uj").write_text(f"{max_range}\n")
        self.total_uj[rel], self.ranges[rel] = start_uj, max_range
        self._write(rel)

    def _write(self, rel: str) -> None:
        value = self.total_uj[rel] % self.ranges[rel]
        tmp = self.root / rel / "energy_uj.tmp"
        tmp.write_text(f"{value}\n")
        os.replace(tmp, self.root / rel / "energy_uj")  # sysfs reads never see half a write

    def add(self, rel: str, joules: float) -> None:
        self.total_uj[rel] += round(joules * 1e6)
        self._write(rel)


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    fs = FakeSysfs(tmp_path / "powercap")
    fs.zone("intel-rapl:0", "package-0", max_range=50_000_000, start_uj=42_000_000)
    fs.zone("intel-rapl:0/intel-rapl:0:0", "core")
    fs.zone("intel-rapl:0/intel-rapl:0:1", "dram")
    fs.zone("intel-rapl:1", "package-1")
    return fs


def test_zones_are_found_top_level_and_nested(sysfs: FakeSysfs) -> None:
    names = {z.path.name: z.name for z in find_zones(sysfs.root)}
    assert names == {
        "intel-rapl:0": "package-0",
        "intel-rapl:0:0": "core",
        "intel-rapl:0:1": "dram",
        "intel-rapl:1": "package-1",
    }


def test_package_power_through_counter_wraps(sysfs: FakeSysfs) -> None:
    clock = FakeWallClock(T0)
    meter = RaplMeter(sysfs.root, clock=clock)
    assert meter.probe().ok
    meter.start("run_testing")
    for _ in range(12):  # 60 W on package-0 wraps its 50 J counter about every 3 steps
        clock.advance(0.25)
        sysfs.add("intel-rapl:0", 60 * 0.25)
        sysfs.add("intel-rapl:1", 40 * 0.25)
        sysfs.add("intel-rapl:0/intel-rapl:0:0", 35 * 0.25)
        meter.samples()
    samples = meter.stop()
    assert len(samples) == 12
    assert [s.watts for s in samples] == pytest.approx([100.0] * 12)
    assert samples[-1].t_utc == pytest.approx(T0 + 3.0) and samples[0].mark == "run_testing"
    assert meter.energy_by_zone() == pytest.approx({"intel-rapl:0": 180.0, "intel-rapl:1": 120.0})
    meter.close()


def test_selected_zones_and_identify(sysfs: FakeSysfs) -> None:
    clock = FakeWallClock(T0)
    meter = from_spec(f"root={sysfs.root},zones=package-0+dram,interval=0.5")
    meter._clock, meter._threaded = clock, False  # a fake clock for an exact test
    info = meter.identify()
    assert (info.kind, info.scope, info.valid_for_closed) == ("rapl", "CPU package + DRAM", False)
    assert info.model == "RAPL package-0+dram"
    meter.start("m")
    clock.advance(2.0)
    sysfs.add("intel-rapl:0", 20.0)
    sysfs.add("intel-rapl:0/intel-rapl:0:1", 6.0)
    assert [s.watts for s in meter.stop()] == pytest.approx([13.0])


def test_poll_interval_allows_at_most_one_wrap(sysfs: FakeSysfs) -> None:
    # package-0's 50 J range wraps in 0.05 s at 1000 W: poll at half of that
    assert RaplMeter(sysfs.root).poll_interval == pytest.approx(50 / 1000 / 2)
    assert RaplMeter(sysfs.root, max_watts=10).poll_interval == 1.0  # 5 s to wrap
    slow = RaplMeter(sysfs.root, zones=["package-1"], max_watts=1000, interval=2.0)
    assert slow.poll_interval == 2.0


def test_real_thread_sums_every_joule(sysfs: FakeSysfs) -> None:
    meter = RaplMeter(sysfs.root, zones=["package-1"], interval=0.01)
    meter.start("live")
    try:
        for _ in range(25):
            sysfs.add("intel-rapl:1", 0.5)
            time.sleep(0.01)
        samples = meter.stop()
    finally:
        meter.close()
    assert len(samples) >= 5
    assert meter.energy_by_zone()["intel-rapl:1"] == pytest.approx(12.5)
    assert all(s.watts >= 0 for s in samples)


def test_no_powercap_is_one_line(tmp_path: Path) -> None:
    reason = RaplMeter(tmp_path / "missing").probe().reason
    assert reason == (
        f"no {tmp_path / 'missing'}: this machine exposes no RAPL counters (a VM or a non-Linux"
        " host); use --power sim, or ptd://HOST:PORT"
    )
    if not Path("/sys/class/powercap").exists():  # this machine: the default root is absent
        assert RaplMeter().probe().reason.startswith("no /sys/class/powercap: this machine")


def test_no_zones_is_one_line(tmp_path: Path) -> None:
    fs = FakeSysfs(tmp_path / "pc")
    reason = RaplMeter(fs.root).probe().reason
    assert "no RAPL zones to read" in reason and "zones: none" in reason and "\n" not in reason


def test_root_only_counters_name_the_fix(sysfs: FakeSysfs, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _rapl._read_text

    def deny(path: Path) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(_rapl, "_read_text", deny)
    avail = RaplMeter(sysfs.root).probe()
    assert not avail.ok and "readable only by root (Linux >= 5.10)" in avail.reason
    assert "sudo chmod a+r" in avail.reason


def test_a_vanished_counter_fails_the_run(sysfs: FakeSysfs) -> None:
    clock = FakeWallClock(T0)
    meter = RaplMeter(sysfs.root, clock=clock)
    meter.start("m")
    (sysfs.root / "intel-rapl:1" / "energy_uj").unlink()
    clock.advance(1.0)
    with pytest.raises(PowerError, match="RAPL counter read failed"):
        meter.stop()


def test_bad_spec() -> None:
    with pytest.raises(UsageError, match="unknown --power rapl option 'path=/x'"):
        from_spec("path=/x")
    with pytest.raises(UsageError, match="must be numbers"):
        from_spec("interval=fast")
