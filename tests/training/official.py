"""Run the official ``mlperf-logging`` tools (PyPI) on what the harness writes.

Quirks handled here: every tool writes a ``*.log`` into the CWD (we run in the log's
folder and pass ``--log_output``); the package checker exits 0 even on failure, so its
verdict is read from its last line.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    text: str

    @property
    def last_line(self) -> str:
        """The last line with words in it (the checkers end with a ``----`` rule)."""
        lines = [ln for ln in self.text.splitlines() if ln.strip(" -\t").removeprefix("INFO")]
        lines = [ln for ln in lines if ln.replace("INFO", "").strip(" -\t")]
        return lines[-1] if lines else ""


def _tool(args: list[str], cwd: Path, timeout: float = 300) -> ToolResult:
    pytest.importorskip("mlperf_logging")
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    return ToolResult(proc.returncode, proc.stdout + proc.stderr)


def compliance(log: Path, ruleset: str) -> ToolResult:
    """``compliance_checker --usage training --ruleset R LOG``: exit 0 and SUCCESS on a pass."""
    return _tool(
        [
            "mlperf_logging.compliance_checker",
            "--usage",
            "training",
            "--ruleset",
            ruleset,
            "--log_output",
            str(log.with_suffix(".checker.log")),
            str(log),
        ],
        log.parent,
    )


def assert_compliant(log: Path, ruleset: str) -> None:
    """The official compliance checker accepts ``log`` under ``ruleset``."""
    result = compliance(log, ruleset)
    assert result.returncode == 0 and "SUCCESS" in result.text, result.text[-3000:]


def package_checker(root: Path, org: str, ruleset: str, *flags: str) -> ToolResult:
    """``package_checker ORG training R`` run in ``root`` (holding the ``ORG`` folder)."""
    return _tool(
        [
            "mlperf_logging.package_checker",
            org,
            "training",
            ruleset,
            "--log_output",
            str(root / "package_checker.log"),
            *flags,
        ],
        root,
    )


def result_summarizer(root: Path, org: str, ruleset: str) -> ToolResult:
    """``result_summarizer ORG training R --csv summary.csv`` run in ``root``."""
    return _tool(
        ["mlperf_logging.result_summarizer", org, "training", ruleset, "--csv", "summary.csv"],
        root,
    )
