"""Where the official LoadGen puts its files: ``outdir/prefix{kind}suffix.{txt,json}``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlmeter.logfmt._atomic import StrPath


@dataclass(frozen=True)
class LogPaths:
    """The four official output files of one run."""

    summary: Path
    detail: Path
    accuracy: Path
    trace: Path


def log_paths(outdir: StrPath, prefix: str = "mlperf_log_", suffix: str = "") -> LogPaths:
    """Official names: ``mlperf_log_summary.txt``, ``..._detail.txt``, ``..._accuracy.json``,
    ``..._trace.json`` (``prefix``/``suffix`` as in the official ``LogOutputSettings``)."""
    base = Path(outdir)
    return LogPaths(
        summary=base / f"{prefix}summary{suffix}.txt",
        detail=base / f"{prefix}detail{suffix}.txt",
        accuracy=base / f"{prefix}accuracy{suffix}.json",
        trace=base / f"{prefix}trace{suffix}.json",
    )
