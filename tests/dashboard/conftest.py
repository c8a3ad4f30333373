"""Fixtures shared by the dashboard tests: a real SQLite store holding the rows of
``_dashboard_data.make_rows`` and the dashboard served over it on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _dashboard_data import make_rows

from mlmeter.dashboard import dashboard_app
from mlmeter.results import open_store
from mlmeter.results._sql import SqlStore
from mlmeter.suts._uvicorn import ServerThread


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """A real SQLite store holding ``make_rows``."""
    with open_store(str(tmp_path / "r.db")) as opened:
        opened.add(make_rows(tmp_path / "logs"))
        yield opened


@pytest.fixture
def served(store: SqlStore) -> Iterator[str]:
    """The dashboard over ``store``, served on loopback: its base URL."""
    with ServerThread(dashboard_app(store)) as url:
        yield url
