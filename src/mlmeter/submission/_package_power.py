"""Power files into a submission tree (what ``_package`` copies for ``--power`` runs).

An ``mlmeter run --power`` folder keeps ``OUTDIR/spl.txt``, ``OUTDIR/ranging/{logs, spl.txt}``
and ``OUTDIR/power/{power.json, ...}`` (``power._run_files``). The official checker wants,
under ``<scenario>/performance/``: ``run_1/spl.txt`` next to the run's logs,
``ranging/{mlperf_log_summary.txt, mlperf_log_detail.txt, spl.txt}``, and ``power/`` with
``client.json, client.log, ptd_logs.txt, server.json, server.log`` where the run has them
(a run against an MLCommons director does); ``power.json`` goes there too, for our checks.
A ``mlmeter train --power`` folder keeps ``power/result_<i>/node_<j>.txt`` beside the logs;
they go to ``<benchmark>/power/result_<i>/`` (the index the packaged log gets).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlmeter.submission import _layout as L

SPL = "spl.txt"
RANGING = "ranging"
POWER_FILES = (
    "client.json",
    "client.log",
    "ptd_logs.txt",
    "server.json",
    "server.log",
    "power.json",
)
RANGING_FILES = (L.SUMMARY, L.DETAIL, SPL)

Copy = Callable[[Path, Path, str], None]


def source_names(run: Path) -> list[str]:
    """The power files of a run folder, relative to it (for the manifest's hashes)."""
    names = [SPL] if (run / SPL).is_file() else []
    names += [f"{RANGING}/{n}" for n in RANGING_FILES if (run / RANGING / n).is_file()]
    names += [f"power/{n}" for n in POWER_FILES if (run / "power" / n).is_file()]
    return names


def copy_inference_power(copy: Copy, run: Path, performance: Path) -> None:
    """``run``'s power files into ``<scenario>/performance`` (see the module docstring)."""
    for name in source_names(run):
        src = run / name
        if name == SPL:
            copy(src, performance / "run_1", SPL)
        else:
            copy(src, performance / src.parent.name, src.name)


def copy_training_power(copy: Copy, log: Path, dest: Path) -> None:
    """The node and switch logs of the run of ``log`` (``result_<i>.txt``) into ``dest``."""
    folder = log.parent / "power" / log.stem
    for path in sorted(folder.glob("node_*.txt")) + sorted(folder.glob("sw_*.txt")):
        copy(path, dest, path.name)
