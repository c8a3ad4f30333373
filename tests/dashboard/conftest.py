"""Fixtures shared by the dashboard tests: a real SQLite store holding the rows of
``_dashboard_data.make_rows`` and the dashboard served over it on loopback."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from mlmeter.dashboard import dashboard_app
from mlmeter.results import open_store
from mlmeter.results._sql import SqlStore
from mlmeter.suts._uvicorn import ServerThread


def load_data() -> ModuleType:
    """``_dashboard_data.py`` beside this file, whatever pytest's import mode."""
    name = "mlmeter_tests_dashboard_data"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).with_name("_dashboard_data.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """A real SQLite store holding ``make_rows``."""
    with open_store(str(tmp_path / "r.db")) as opened:
        opened.add(load_data().make_rows(tmp_path / "logs"))
        yield opened


@pytest.fixture
def served(store: SqlStore) -> Iterator[str]:
    """The dashboard over ``store``, served on loopback: its base URL."""
    with ServerThread(dashboard_app(store)) as url:
        yield url
