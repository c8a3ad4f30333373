"""NvmlMeter: NVIDIA GPU board power through NVML (``pip install nvidia-ml-py``, module
``pynvml``; optional).

Per GPU it prefers ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the driver
loaded, Volta and later): each sample is the average power since the previous poll. Older
GPUs fall back to ``nvmlDeviceGetPowerUsage`` (milliwatts, a ~1 s windowed average), which
the window maths integrates as reading x interval. Samples carry the sum over the GPUs. The
board is not the wall: an estimate, never valid for a closed power submission; on A100/H100
the power sensor sees only about a quarter of the runtime, which can skew short or bursty
runs (arXiv 2312.02741).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.power._model import Availability, MeterInfo, MeterUnavailable, PowerError, PowerSample
from mlmeter.power._sampler import PollingMeter, WallClock

CAVEAT = "on A100/H100 the power sensor samples about 25 % of the runtime (arXiv 2312.02741)"


def load_pynvml() -> ModuleType:
    """The ``pynvml`` module, initialised; MeterUnavailable says why not in one line."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        raise MeterUnavailable(
            "NVML is not installed: pip install nvidia-ml-py, or use --power sim|rapl|ptd://HOST:PORT"
        ) from None
    try:
        nvml.nvmlInit()
        count = int(nvml.nvmlDeviceGetCount())
    except nvml.NVMLError as exc:
        raise MeterUnavailable(
            f"NVML cannot start ({exc}): no NVIDIA driver or GPU here; use --power sim|rapl"
        ) from None
    if count == 0:
        nvml.nvmlShutdown()
        raise MeterUnavailable("NVML sees no NVIDIA GPU: use --power sim|rapl|ptd://HOST:PORT")
    return nvml


class NvmlMeter(PollingMeter):
    """A Meter over NVML: energy counters where the GPU has them, else power readings."""

    def __init__(
        self, gpus: Sequence[int] = (), *, interval: float = 1.0, clock: WallClock | None = None
    ) -> None:
        if interval <= 0:
            raise UsageError("--power nvml: interval must be > 0")
        super().__init__("mlmeter-nvml", clock)
        self.gpus, self.interval = tuple(gpus), interval
        self._nvml: Any = None
        self._handles: list[Any] = []
        self._energy: list[bool] = []  # per GPU: the counter works
        self._last_mj: list[int] = []
        self._t_last = 0.0

    def probe(self) -> Availability:
        """Whether NVML and a GPU are here (never raises)."""
        try:
            self._open()
        except MeterUnavailable as exc:
            return Availability(False, str(exc))
        return Availability(True)

    def _open(self) -> Any:
        if self._nvml is None:
            nvml = load_pynvml()
            count = int(nvml.nvmlDeviceGetCount())
            indices = self.gpus or tuple(range(count))
            bad = [i for i in indices if not 0 <= i < count]
            if bad:
                nvml.nvmlShutdown()
                raise MeterUnavailable(
                    f"no GPU {bad[0]}: NVML sees {count} (use gpus=0..{count - 1})"
                )
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in indices]
            self._energy = [self._has_counter(nvml, h) for h in self._handles]
            self._nvml = nvml
        return self._nvml

    @staticmethod
    def _has_counter(nvml: Any, handle: Any) -> bool:
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        except nvml.NVMLError:
            return False
        return True

    def identify(self) -> MeterInfo:
        """The GPUs and how each is read."""
        nvml = self._open()
        names = [str(nvml.nvmlDeviceGetName(h)) for h in self._handles]
        methods = ["energy counter" if e else "power readings" for e in self._energy]
        return MeterInfo(
            kind="nvml",
            model="NVML " + " + ".join(names),
            scope="GPU board",
            valid_for_closed=False,
            needs_ranging=False,
            details={"gpus": names, "methods": methods, "caveat": CAVEAT},
        )

    def start(self, mark: str, phase: str = "testing") -> None:
        """Take the baselines and start polling."""
        nvml = self._open()
        with self._lock:
            self._mark, self._samples = mark, []
            self._last_mj = [
                self._read_mj(nvml, h, e) for h, e in zip(self._handles, self._energy, strict=True)
            ]
            self._t_last = self._clock.time()
        self._start_polling(self.interval)

    @staticmethod
    def _read_mj(nvml: Any, handle: Any, energy: bool) -> int:
        return int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) if energy else 0

    def poll(self) -> None:
        """Read every GPU once and add a sample (the thread calls this)."""
        with self._lock:
            now = self._clock.time()
            if self._nvml is None or now <= self._t_last:
                return
            try:
                watts, mj = self._read_all(now)
            except self._nvml.NVMLError as exc:
                raise PowerError(f"NVML read failed: {exc}") from None
            self._samples.append(PowerSample(now, watts, mark=self._mark))
            self._last_mj, self._t_last = mj, now

    def _read_all(self, now: float) -> tuple[float, list[int]]:
        nvml, watts, values = self._nvml, 0.0, []
        for handle, energy, old in zip(self._handles, self._energy, self._last_mj, strict=True):
            if energy:
                new = int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
                watts += (new - old) / 1000 / (now - self._t_last)
                values.append(new)
            else:
                watts += int(nvml.nvmlDeviceGetPowerUsage(handle)) / 1000
                values.append(0)
        return watts, values

    def close(self) -> None:
        """Stop polling and shut NVML down."""
        super().close()
        if self._nvml is not None:
            self._nvml.nvmlShutdown()
            self._nvml = None


def from_spec(spec: str) -> NvmlMeter:
    """``--power nvml[:gpus=0+1,interval=S]``."""
    opts: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in ("gpus", "interval"):
            raise UsageError(
                f"unknown --power nvml option {item!r}: use gpus=0+1, interval=SECONDS"
            )
        opts[key] = value
    try:
        gpus = tuple(int(g) for g in filter(None, opts.get("gpus", "").split("+")))
        interval = float(opts.get("interval", 1.0))
    except ValueError:
        raise UsageError("--power nvml: gpus are integers (0+1) and interval is seconds") from None
    return NvmlMeter(gpus, interval=interval)
