"""Power: meters (simulated, RAPL, NVML, a PTDaemon analyzer, an MLCommons power director),
the run window the loadgen logs, and MLPerf's power metrics.

Meters implement ``Meter`` (probe, identify, start, samples, stop, close) and register
under the ``mlmeter.power_meters`` entry-point group; ``get_meter("sim")`` builds one.
"""

from mlmeter.power._director import DirectorSession
from mlmeter.power._director_meter import DirectorMeter
from mlmeter.power._fake_ptd import FakePtd
from mlmeter.power._metrics import (
    InferencePower,
    TrainingEnergy,
    WindowStats,
    inference_power,
    interval_energy,
    ranging_problems,
    training_energy,
    window_stats,
)
from mlmeter.power._model import (
    Availability,
    Meter,
    MeterInfo,
    MeterUnavailable,
    PowerError,
    PowerSample,
)
from mlmeter.power._nvml import NvmlMeter
from mlmeter.power._ptd import PtdMeter
from mlmeter.power._rapl import RaplMeter
from mlmeter.power._registry import get_meter
from mlmeter.power._registry import names as meter_names
from mlmeter.power._run import PhaseResult, PowerRunResult, run_with_power
from mlmeter.power._sim import FakeWallClock, SimulatedMeter
from mlmeter.power._spl import read_spl, write_spl
from mlmeter.power._timefmt import format_power_time, parse_power_time
from mlmeter.power._training_log import NodeLog, read_node_log, write_node_log
from mlmeter.power._window import (
    CLOCK_LIMIT_CHECKER_S,
    CLOCK_LIMIT_RUN_S,
    ClockOffset,
    PowerWindow,
    in_window,
    measure_offset,
    window_from_detail,
)

__all__ = [
    "CLOCK_LIMIT_CHECKER_S",
    "CLOCK_LIMIT_RUN_S",
    "Availability",
    "ClockOffset",
    "DirectorMeter",
    "DirectorSession",
    "FakePtd",
    "FakeWallClock",
    "InferencePower",
    "Meter",
    "MeterInfo",
    "MeterUnavailable",
    "NodeLog",
    "NvmlMeter",
    "PhaseResult",
    "PowerError",
    "PowerRunResult",
    "PowerSample",
    "PowerWindow",
    "PtdMeter",
    "RaplMeter",
    "SimulatedMeter",
    "TrainingEnergy",
    "WindowStats",
    "format_power_time",
    "get_meter",
    "in_window",
    "inference_power",
    "interval_energy",
    "measure_offset",
    "meter_names",
    "parse_power_time",
    "ranging_problems",
    "read_node_log",
    "read_spl",
    "run_with_power",
    "training_energy",
    "window_from_detail",
    "window_stats",
    "write_node_log",
    "write_spl",
]
