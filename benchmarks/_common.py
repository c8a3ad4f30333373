"""Shared plumbing of the side-by-side benchmarks: subprocess runs, summary parsing,
targets, the ratio table, machine metadata and the JSON export.

Both implementations are measured by the same code: one fresh subprocess per
configuration (``_worker.py``), and every figure read back from the run's own
``mlperf_log_summary.txt`` with the same parser.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

IMPLS = ("official", "mlmeter")
WORKER = Path(__file__).resolve().parent / "_worker.py"
FORMAT_VERSION = 1
Runs = dict[str, list[dict[str, Any]]]  # impl -> one result per repeat


class BenchError(RuntimeError):
    """A benchmark subprocess failed; the message carries the tail of its stderr."""


# -- summary parsing -----------------------------------------------------------------


def parse_summary(text: str) -> dict[str, str]:
    """``key : value`` lines of an ``mlperf_log_summary.txt``; the first occurrence wins."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("*", "=")) or ":" not in stripped:
            continue
        key, _, value = stripped.partition(":")
        out.setdefault(key.strip(), value.strip())
    return out


def summary_float(summary: dict[str, str], key: str) -> float:
    """A numeric summary field, e.g. ``Samples per second`` (``1.77778e+06`` parses)."""
    if key not in summary:
        raise BenchError(f"summary has no {key!r} line")
    return float(summary[key])


def is_valid(summary: dict[str, str]) -> bool:
    """``Result is : VALID``."""
    return summary.get("Result is") == "VALID"


# -- running one configuration -------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One configuration for one implementation: what ``_worker.py`` runs."""

    impl: str
    sut: str
    scenario: str
    settings: dict[str, Any]

    def label(self) -> str:
        """A short name for progress lines."""
        knobs = ",".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{self.impl:8s} {self.scenario} {self.sut} {knobs}"


@dataclass
class Runner:
    """Runs specs in fresh subprocesses; keeps every raw result for the JSON export.

    ``pythonpath`` is prepended to the subprocess's ``PYTHONPATH`` (to benchmark a
    snapshot of mlmeter's source instead of the installed tree).
    """

    repeat: int = 1
    timeout_s: float = 600.0
    pythonpath: str | None = None
    verbose: bool = True
    raw: list[dict[str, Any]] = field(default_factory=list)

    def run(self, spec: Spec) -> dict[str, Any]:
        """Run ``spec`` once in a fresh subprocess (cwd and logs in a temp dir)."""
        with tempfile.TemporaryDirectory(prefix="mlmeter-bench-") as tmp:
            result = self._run_in(spec, Path(tmp))
        self.raw.append({"spec": asdict(spec), "result": _without_text(result)})
        if self.verbose:
            print(_progress_line(spec, result), file=sys.stderr, flush=True)
        return result

    def pair(self, make: Callable[[str], Spec]) -> Runs:
        """Run a configuration ``repeat`` times on both sides, alternating who goes first."""
        runs: Runs = {impl: [] for impl in IMPLS}
        for r in range(self.repeat):
            order = IMPLS if r % 2 == 0 else tuple(reversed(IMPLS))
            for impl in order:
                runs[impl].append(self.run(make(impl)))
        return runs

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (self.pythonpath, env.get("PYTHONPATH")) if p
            )
        return env

    def _run_in(self, spec: Spec, tmp: Path) -> dict[str, Any]:
        spec_file, result_file = tmp / "spec.json", tmp / "result.json"
        spec_file.write_text(json.dumps({**asdict(spec), "outdir": str(tmp / "logs")}))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(WORKER), str(spec_file), str(result_file)],
                cwd=tmp,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{spec.label()}: no result after {self.timeout_s:g} s") from exc
        if proc.returncode != 0 or not result_file.exists():
            tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-15:])
            raise BenchError(f"{spec.label()}: exit {proc.returncode}\n{tail}")
        result: dict[str, Any] = json.loads(result_file.read_text())
        result["process_s"] = time.perf_counter() - t0
        return result


def _without_text(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "summary_text"}


def _progress_line(spec: Spec, result: dict[str, Any]) -> str:
    validity = result["summary"].get("Result is", "?")
    reasons = "; ".join(result.get("invalid_reasons") or [])
    return (
        f"  {spec.label()}: {validity}, StartTest {result['wall_s']:.2f} s "
        f"(process {result['process_s']:.1f} s){' - ' + reasons if reasons else ''}"
    )


def median_of(runs: Sequence[dict[str, Any]], pick: Callable[[dict[str, Any]], float]) -> float:
    """The median over repeats of one measurement."""
    return float(statistics.median(pick(r) for r in runs))


def all_valid(runs: Sequence[dict[str, Any]]) -> bool:
    """Every run in ``runs`` reported ``Result is : VALID``."""
    return all(is_valid(r["summary"]) for r in runs)


def spec_maker(sut: str, scenario: str, **settings: Any) -> Callable[[str], Spec]:
    """``impl -> Spec`` for one configuration (what ``Runner.pair`` takes)."""
    return lambda impl: Spec(impl, sut, scenario, settings)


def summary_metric(key: str) -> Callable[[dict[str, Any]], float]:
    """Pick a numeric summary field out of a run result."""
    return lambda r: summary_float(r["summary"], key)


def pair_row(
    metric: str,
    runs: Runs,
    pick: Callable[[dict[str, Any]], float],
    target: Target | None,
    unit: str,
    note: str = "",
) -> Row:
    """A table row from both sides' runs: medians of ``pick``, validity of every run."""
    return Row(
        metric,
        median_of(runs["official"], pick),
        median_of(runs["mlmeter"], pick),
        target,
        unit,
        note,
        official_valid=all_valid(runs["official"]),
        mlmeter_valid=all_valid(runs["mlmeter"]),
    )


# -- targets and the table -----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A bound on ``mlmeter / official``: ``<= 0.5`` or ``>= 1.0``, say."""

    op: str  # "<=", ">=" or "±" (ratio within 1 ± bound)
    bound: float
    why: str = ""

    def met(self, ratio: float | None) -> bool | None:
        """Whether ``ratio`` meets the bound (None when there is no ratio)."""
        if ratio is None:
            return None
        if self.op == "±":
            return abs(ratio - 1.0) <= self.bound
        return ratio <= self.bound if self.op == "<=" else ratio >= self.bound

    def __str__(self) -> str:
        if self.op == "±":
            return f"1 ± {self.bound * 100:g} %"
        return f"{self.op} {self.bound:g}x"


@dataclass
class Row:
    """One line of the result table."""

    metric: str
    official: float | None
    mlmeter: float | None
    target: Target | None
    unit: str = ""
    note: str = ""
    official_valid: bool = True
    mlmeter_valid: bool = True
    ratio: float | None = field(init=False)
    passed: bool | None = field(init=False)

    def __post_init__(self) -> None:
        ok = self.official is not None and self.mlmeter is not None and self.official != 0
        self.ratio = self.mlmeter / self.official if ok else None  # type: ignore[operator]
        self.passed = self.target.met(self.ratio) if self.target else None


def fmt_value(value: float | None, unit: str) -> str:
    """Human form of a measurement: ``1.43 M/s``, ``82.1 µs``, ``6.70 GB``."""
    if value is None:
        return "-"
    if unit == "ns":
        return _fmt_ns(value)
    if unit == "B":
        return f"{value / 1e9:.2f} GB" if value >= 1e9 else f"{value / 1e6:.0f} MB"
    if unit == "s":
        return f"{value:.2f} s"
    if value >= 1e6:
        return f"{value / 1e6:.3g} M{unit}"
    if value >= 1e3:
        return f"{value / 1e3:.3g} k{unit}"
    return f"{value:.4g} {unit}".strip()


def _fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns:.0f} ns"


def grid(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """A plain-text table: the header, a rule, then the rows, each column as wide as its
    widest cell."""
    widths = [max(len(x[i]) for x in (header, *body)) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return lines


def pass_text(passed: bool | None) -> str:
    """PASS, FAIL, or - for a row without a target."""
    return {True: "PASS", False: "FAIL", None: "-"}[passed]


def render_table(rows: Sequence[Row]) -> str:
    """The table: metric | official | mlmeter | ratio | target | pass."""
    header = ("metric", "official", "mlmeter", "ratio (mlmeter/official)", "target", "pass")
    body = [
        (
            r.metric,
            fmt_value(r.official, r.unit) + ("" if r.official_valid else " !"),
            fmt_value(r.mlmeter, r.unit) + ("" if r.mlmeter_valid else " !"),
            "-" if r.ratio is None else f"{r.ratio:.3f}",
            str(r.target) if r.target else "-",
            pass_text(r.passed),
        )
        for r in rows
    ]
    lines = grid(header, body)
    notes = [f"  [{r.metric}] {r.note}" for r in rows if r.note]
    if any(not (r.official_valid and r.mlmeter_valid) for r in rows):
        notes.insert(0, "  ! = at least one run behind this figure was INVALID")
    return "\n".join(lines + notes)


# -- provenance ----------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def machine_info(mlmeter_path: str | None = None) -> dict[str, Any]:
    """CPU count, load average, versions and date: printed and exported with every run.

    ``mlmeter_path`` is the source snapshot the subprocesses import, if any.
    """
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9, 1),
        "loadavg": loadavg(),
        "python": platform.python_version(),
        "mlcommons_loadgen": _version("mlcommons_loadgen"),
        "mlmeter": _version("mlmeter"),
        "mlmeter_git": _git_state(),
        "mlmeter_source": mlmeter_path or "installed (editable) tree",
    }


def _git_state() -> str:
    """``<short sha>`` plus ``+dirty(src)`` when src/ has uncommitted changes (read-only)."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{sha or 'unknown'}{'+dirty(src)' if dirty else ''}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render_machine(info: dict[str, Any]) -> str:
    """Two lines of machine metadata and the noise caveat."""
    load = " ".join(str(x) for x in info["loadavg"])
    return (
        f"{info['date_utc']}  {info['cpu_count']} CPU ({info['cpu_model']}), "
        f"{info['mem_total_gb']} GB, load average {load}\n"
        f"python {info['python']}, mlcommons_loadgen {info['mlcommons_loadgen']}, "
        f"mlmeter {info['mlmeter']} (git {info['mlmeter_git']}; measured: "
        f"{info['mlmeter_source']})\n"
        "note: a small shared VM is noisy; compare ratios measured in the same run, "
        "not absolute figures across runs (use --repeat N for medians)."
    )


def write_json(path: Path, benchmark: str, info: dict[str, Any], **payload: Any) -> None:
    """The versioned JSON export."""
    doc = {"format_version": FORMAT_VERSION, "benchmark": benchmark, "machine": info, **payload}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


def rows_json(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Table rows as plain dicts."""
    out = []
    for r in rows:
        d = asdict(r)
        d["target"] = str(r.target) if r.target else None
        out.append(d)
    return out
