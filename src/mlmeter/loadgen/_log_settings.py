"""``LogSettings``: where and what the run writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LogSettings:
    """Output options, named as the official ``LogOutputSettings`` where they overlap.

    The trace is off by default (the official default, on, writes hundreds of MB).
    """

    outdir: Path = Path(".")
    prefix: str = "mlperf_log_"
    suffix: str = ""
    prefix_with_datetime: bool = False
    copy_detail_to_stdout: bool = False
    copy_summary_to_stdout: bool = False
    enable_trace: bool = False
    write_results_json: bool = True

    def path(self, name: str, ext: str, stamp: str = "") -> Path:
        """``outdir/[stamp_]prefix<name>suffix.<ext>``."""
        lead = f"{stamp}_" if self.prefix_with_datetime and stamp else ""
        return Path(self.outdir) / f"{lead}{self.prefix}{name}{self.suffix}.{ext}"
