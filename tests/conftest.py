"""Settings for every test: the results store lives in a temporary folder.

``mlmeter run`` and ``mlmeter train`` record each result in the results database; without
this, tests that call them would write to the user's ``~/.local/share/mlmeter``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _results_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``MLMETER_DB`` points at a fresh SQLite file for the whole session."""
    path = tmp_path_factory.mktemp("results-db") / "results.db"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLMETER_DB", str(path))
    yield path
    patch.undo()
