"""NvmlMeter: the message where NVML is missing, and the maths against a fake pynvml."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Iterator

import pytest

from mlmeter.errors import UsageError
from mlmeter.power._model import PowerError
from mlmeter.power._nvml import NvmlMeter, from_spec
from mlmeter.power._sim import FakeWallClock

T0 = 1_700_000_000.0


class FakeNvml(types.ModuleType):
    """GPU 0 has an energy counter (mJ); GPU 1 is older and has power readings only (mW)."""

    class NVMLError(Exception):
        pass

    def __init__(self, count: int = 2) -> None:
        super().__init__("pynvml")
        self.count, self.inits, self.shutdowns = count, 0, 0
        self.energy_mj = 5_000_000
        self.power_mw = 70_000
        self.broken = False

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> str:
        return ["NVIDIA H100", "Tesla P4"][h]

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        if h == 1:
            raise self.NVMLError("Not Supported")
        if self.broken:
            raise self.NVMLError("GPU is lost")
        return self.energy_mj

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return self.power_mw


@pytest.fixture
def fake() -> Iterator[FakeNvml]:
    module = FakeNvml()
    saved = sys.modules.get("pynvml")
    sys.modules["pynvml"] = module
    yield module
    if saved is None:
        del sys.modules["pynvml"]
    else:
        sys.modules["pynvml"] = saved


def test_missing_library_is_one_line() -> None:
    if "pynvml" in sys.modules or _importable("pynvml"):
        pytest.skip("pynvml is installed here")
    avail = NvmlMeter().probe()
    assert not avail.ok
    assert avail.reason == (
        "NVML is not installed: pip install nvidia-ml-py, or use --power sim|rapl|ptd://HOST:PORT"
    )


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_energy_counter_and_power_fallback(fake: FakeNvml) -> None:
    clock = FakeWallClock(T0)
    meter = NvmlMeter(clock=clock)
    assert meter.probe().ok
    info = meter.identify()
    assert info.model == "NVML NVIDIA H100 + Tesla P4" and info.scope == "GPU board"
    assert info.details["methods"] == ["energy counter", "power readings"]
    assert not info.valid_for_closed
    meter.start("gpu_testing")
    for step_mj, mw in [(250_000, 70_000), (300_000, 80_000), (125_000, 60_000)]:
        clock.advance(0.5)
        fake.energy_mj += step_mj  # GPU 0: 500, 600, 250 W over each 0.5 s
        fake.power_mw = mw  # GPU 1: 70, 80, 60 W
        meter.samples()
    samples = meter.stop()
    assert [s.watts for s in samples] == pytest.approx([570.0, 680.0, 310.0])
    assert [s.t_utc - T0 for s in samples] == pytest.approx([0.5, 1.0, 1.5])
    assert {s.mark for s in samples} == {"gpu_testing"}
    meter.close()
    assert fake.shutdowns == 1


def test_selected_gpu_and_bad_index(fake: FakeNvml) -> None:
    assert from_spec("gpus=1").probe().ok
    avail = from_spec("gpus=3").probe()
    assert not avail.ok and avail.reason == "no GPU 3: NVML sees 2 (use gpus=0..1)"


def test_no_gpu(fake: FakeNvml) -> None:
    fake.count = 0
    assert NvmlMeter().probe().reason.startswith("NVML sees no NVIDIA GPU")


def test_init_failure(fake: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> None:
        raise fake.NVMLError("NVML Shared Library Not Found")

    monkeypatch.setattr(fake, "nvmlInit", fail)
    reason = NvmlMeter().probe().reason
    assert reason.startswith("NVML cannot start (NVML Shared Library Not Found)")


def test_thread_failure_reaches_the_caller(fake: FakeNvml) -> None:
    meter = NvmlMeter([0], interval=0.01)
    meter.start("m")
    try:
        time.sleep(0.05)
        fake.broken = True
        time.sleep(0.05)
        with pytest.raises(PowerError, match="NVML read failed: GPU is lost"):
            meter.stop()
    finally:
        meter.close()


def test_bad_spec() -> None:
    with pytest.raises(UsageError, match="unknown --power nvml option 'gpu=0'"):
        from_spec("gpu=0")
    with pytest.raises(UsageError, match="gpus are integers"):
        from_spec("gpus=a")
