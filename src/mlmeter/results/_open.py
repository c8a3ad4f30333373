"""``open_store``: a results database from a URL, a path, ``$MLMETER_DB`` or the default."""

from __future__ import annotations

import os
from pathlib import Path

from mlmeter.results._sql import SqlStore

ENV_VAR = "MLMETER_DB"
DEFAULT_PATH = Path("~/.local/share/mlmeter/results.db")


def default_url() -> str:
    """``$MLMETER_DB`` if set, else ``~/.local/share/mlmeter/results.db``."""
    return os.environ.get(ENV_VAR) or str(DEFAULT_PATH.expanduser())


def open_store(url: str | None = None) -> SqlStore:
    """Open (creating and migrating as needed) the results database at ``url``.

    ``url``: ``None`` (``$MLMETER_DB``, else the default file), a file path,
    ``sqlite:///PATH`` or ``postgresql://user:pw@host:port/db`` (needs psycopg 3:
    ``pip install 'mlmeter[results-pg]'``)."""
    url = url or default_url()
    if url.startswith(("postgresql://", "postgres://")):
        from mlmeter.results._postgres import PostgresStore

        return PostgresStore(url)
    from mlmeter.results._sqlite import SqliteStore

    path = url.removeprefix("sqlite://") if url.startswith("sqlite://") else url
    return SqliteStore(url, path)
