"""``--power SPEC`` -> a meter: built-ins without entry points, plugins, and errors."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from mlmeter.errors import UsageError
from mlmeter.power import _registry
from mlmeter.power._nvml import NvmlMeter
from mlmeter.power._rapl import RaplMeter
from mlmeter.power._registry import BUILTINS, get_meter, names
from mlmeter.power._sim import SimulatedMeter
from mlmeter.power._sim_profiles import Square


def test_builtins_need_no_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "entry_points", lambda group: [])
    assert names() == ["sim", "rapl", "nvml", "ptd", "director"]
    sim = get_meter("sim:profile=square,low=50,high=150,period=0.2,interval=0.01,seed=3")
    assert isinstance(sim, SimulatedMeter) and sim.profile == Square(50, 150, 0.2)
    assert isinstance(get_meter("sim"), SimulatedMeter)
    assert isinstance(get_meter("nvml"), NvmlMeter)


def test_rapl_spec_reaches_the_meter(tmp_path: Path) -> None:
    meter = get_meter(f"rapl:root={tmp_path / 'none'}")
    assert isinstance(meter, RaplMeter)
    assert meter.probe().reason.startswith(f"no {tmp_path / 'none'}: this machine exposes no RAPL")


def test_network_meters_are_built_without_connecting() -> None:
    ptd = get_meter("ptd://127.0.0.1:8888")
    director = get_meter("director://127.0.0.1:4950")
    assert type(ptd).__name__ == "PtdMeter" and type(director).__name__ == "DirectorMeter"


def test_unknown_scheme_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "entry_points", lambda group: [])
    with pytest.raises(UsageError) as info:
        get_meter("wattsup:/dev/ttyUSB0")
    assert str(info.value) == (
        "unknown power meter 'wattsup': use --power sim|rapl|nvml|ptd|director"
    )
    with pytest.raises(UsageError, match="--power needs a meter"):
        get_meter("  ")


def test_plugins_come_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [
        EntryPoint("mine", "mlmeter.power._sim:from_spec", _registry.GROUP),
        EntryPoint("sim", "mlmeter.power._rapl:from_spec", _registry.GROUP),  # cannot shadow
        EntryPoint("broken", "mlmeter.power._nowhere:from_spec", _registry.GROUP),
        EntryPoint("notameter", "builtins:str", _registry.GROUP),
    ]
    monkeypatch.setattr(_registry, "entry_points", lambda group: eps)
    assert names() == [*BUILTINS, "broken", "mine", "notameter"]
    assert isinstance(get_meter("mine:profile=sine"), SimulatedMeter)
    assert isinstance(get_meter("sim"), SimulatedMeter)
    with pytest.raises(UsageError, match="plugin 'broken' cannot be loaded"):
        get_meter("broken")
    with pytest.raises(UsageError, match="'notameter' is not a Meter: it lacks probe"):
        get_meter("notameter")
