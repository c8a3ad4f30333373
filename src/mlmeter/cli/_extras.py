"""Commands that need an optional extra say so in one line, instead of a traceback."""

from __future__ import annotations

import importlib.util

from mlmeter.errors import UsageError

NET = ("starlette", "uvicorn", "httptools", "aiohttp")


def require(extra: str, modules: tuple[str, ...], what: str) -> None:
    """Raise a one-line ``UsageError`` naming ``pip install 'mlmeter[EXTRA]'`` when one of
    ``modules`` is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"{what} needs {', '.join(missing)}: pip install 'mlmeter[{extra}]'")


def require_net(what: str) -> None:
    """The network division's servers and clients (the ``net`` extra)."""
    require("net", NET, what)
