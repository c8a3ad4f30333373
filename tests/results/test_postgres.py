"""The PostgreSQL backend against a real server: a throwaway cluster started from Debian's
postgresql binaries (initdb, pg_ctl) listening only on a unix socket in a temp folder.
Skipped, with the reason, when psycopg or the server binaries are missing; as root the
server runs as the unprivileged ``postgres`` user."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import _store_checks as checks
import pytest

from mlmeter.errors import UserError
from mlmeter.results import open_store

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (mlmeter[results-pg])")

PORT = 54329
_names = itertools.count()


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(dirs[-1]).parent if dirs else None


def _as_server_user() -> list[str]:
    """The prefix that runs a server command unprivileged (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run the server as")
    if runuser is None:
        pytest.skip("running as root and runuser is missing")
    return [runuser, "-u", "postgres", "--"]


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        pytest.skip(f"cannot {what} a PostgreSQL server here: {' '.join(tail)}")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A running server; yields the socket folder."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    prefix = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="mlmeter-pg-"))
    if prefix:
        shutil.chown(base, "postgres", "postgres")
    data, sock = base / "data", base
    _run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "mlmeter",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        "initialise",
    )
    opts = f"-k {sock} -p {PORT} -c listen_addresses='' -c fsync=off"
    _run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(base / "log"),
            "-w",
            "-t",
            "30",
            "start",
        ],
        "start",
    )
    try:
        yield str(sock)
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def url(server: str) -> str:
    """A new, empty database on the server."""
    name = f"t{os.getpid()}_{next(_names)}"
    admin = f"postgresql://mlmeter@/postgres?host={server}&port={PORT}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://mlmeter@/{name}?host={server}&port={PORT}"


def test_round_trip_of_every_field(url: str) -> None:
    checks.check_round_trip(url)


def test_filters(url: str) -> None:
    checks.check_filters(url)


@pytest.mark.timeout(240)
def test_two_processes_add_200_rows_each(url: str) -> None:
    checks.check_two_writers(url, n=200)


def test_failed_write_leaves_nothing_and_newer_schema_is_refused(url: str) -> None:
    with open_store(url) as store:
        assert store.schema_version() == 2
        store.add([checks.make_row(system="kept")])
        with pytest.raises(TypeError):
            store.add([checks.make_row(system="lost"), checks.make_row(extra={"x": object()})])
        assert [r.system for r in store.runs()] == ["kept"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (7)")
    with pytest.raises(UserError, match="schema version 7 is newer"):
        open_store(url)


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot connect to PostgreSQL") as info:
        open_store(f"postgresql://u:secret@/db?host={tmp_path}&port=1")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)
