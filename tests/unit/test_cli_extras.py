"""Commands that need an optional extra fail in one line naming it."""

from __future__ import annotations

import sys

import pytest

from mlmeter.cli._extras import require
from mlmeter.cli.main import main
from mlmeter.errors import UsageError


def test_a_missing_module_names_the_extra() -> None:
    with pytest.raises(UsageError) as info:
        require("net", ("json", "no_such_module_mlmeter"), "mlmeter serve x")
    message = str(info.value)
    assert message == ("mlmeter serve x needs no_such_module_mlmeter: pip install 'mlmeter[net]'")


def test_installed_modules_pass() -> None:
    assert require("net", ("json", "sqlite3"), "anything") is None  # no error


def test_dashboard_without_the_net_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if not installed
    assert main(["dashboard", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: mlmeter dashboard needs starlette: pip install 'mlmeter[net]'")
