"""Two processes recording into the same SQLite file at once lose nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _checks():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "_sc", Path(__file__).with_name("_store_checks.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(240)
def test_two_processes_add_200_rows_each(tmp_path: Path) -> None:
    _checks().check_two_writers(str(tmp_path / "shared.db"), n=200)
