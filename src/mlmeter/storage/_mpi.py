"""MPI ranks as clients: a :class:`~mlmeter.storage._comm.Comm` over ``MPI.COMM_WORLD``.

Under ``mpirun``/``mpiexec`` (MPICH, Open MPI, Intel MPI, Slurm's PMI) each MPI rank is one
emulated accelerator and rank 0 merges the results. ``mpi4py`` is optional: it is imported
only when the environment says this process was started by an MPI launcher.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.storage._comm import Comm

#: Variables MPI launchers set in every rank: (variable with the world size, launcher).
LAUNCHER_SIZE_VARS: tuple[tuple[str, str], ...] = (
    ("OMPI_COMM_WORLD_SIZE", "Open MPI"),
    ("PMI_SIZE", "MPICH/Intel MPI (PMI)"),
    ("PMIX_SIZE", "PMIx"),
    ("MPI_LOCALNRANKS", "MPICH"),
)
INSTALL_HINT = "pip install 'mlmeter[storage-mpi]'"


def launcher_size(environ: Mapping[str, str] | None = None) -> int | None:
    """The world size an MPI launcher announced in ``environ``, or ``None`` outside one."""
    env = os.environ if environ is None else environ
    for name, _launcher in LAUNCHER_SIZE_VARS:
        value = env.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return None


class MpiComm:
    """A :class:`Comm` over an mpi4py communicator (``COMM_WORLD`` by default)."""

    def __init__(self, comm: Any) -> None:
        self._comm = comm
        self._rank = int(comm.Get_rank())
        self._size = int(comm.Get_size())

    @property
    def rank(self) -> int:
        """This MPI rank."""
        return self._rank

    @property
    def size(self) -> int:
        """The number of MPI ranks."""
        return self._size

    def barrier(self) -> None:
        """``MPI_Barrier``."""
        self._comm.Barrier()

    def allreduce_sum(self, x: float) -> float:
        """``MPI_Allreduce`` with ``MPI_SUM`` on a Python float."""
        return float(self._comm.allreduce(float(x)))

    def gather(self, obj: Any) -> list[Any] | None:
        """Pickled gather to rank 0."""
        values = self._comm.gather(obj, root=0)
        return None if values is None else list(values)

    def bcast(self, obj: Any) -> Any:
        """Pickled broadcast from rank 0."""
        return self._comm.bcast(obj, root=0)


def mpi_comm(environ: Mapping[str, str] | None = None) -> Comm | None:
    """A :class:`Comm` over ``MPI.COMM_WORLD`` when started by ``mpirun``; else ``None``.

    Raises :class:`UsageError` (one line, naming the extra to install) when an MPI launcher
    is detected but ``mpi4py`` cannot be imported.
    """
    if launcher_size(environ) is None:
        return None
    try:
        mpi = importlib.import_module("mpi4py.MPI")  # optional: typed as a plain module
    except ImportError as exc:
        raise UsageError(
            f"started by mpirun but mpi4py is not installed ({exc}): run {INSTALL_HINT}"
        ) from None
    return MpiComm(mpi.COMM_WORLD)
