"""One harness, two LoadGens: ``examples/official_api_harness.py`` on the official
``mlperf_loadgen`` wheel and on ``mlmeter.compat.mlperf_loadgen``.

Each run is its own process (the official LoadGen keeps global state), in all four
scenarios, in performance and in accuracy mode, with short durations. We check:

- our runs are VALID (performance) or error-free (accuracy) and write the summary,
  the detail log and the accuracy log;
- the summary's field names, in order, are the official run's (values stripped;
  in free-text lines such as `` * Would discard 12 highest latency queries.`` the
  numbers are stripped too, and the warning/error count lines are compared as such);
- our detail log has every key of the official one, except the keys the official
  writes only about its own logger (``logger_*`` contention counters, and
  ``warning_generic_message``, which it logs when its per-thread log buffer grows,
  e.g. "Logging allocation detected");
- in accuracy mode both accuracy logs hold every sample exactly once, with identical
  response bytes per ``qsl_idx`` (the harness's "model" is exact integer arithmetic).

The official half is skipped where ``mlperf_loadgen`` is not installed.
"""

from __future__ import annotations

import collections
import difflib
import functools
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlmeter.logfmt import read_accuracy_log, read_detail

RunHarness = Callable[[str, str, str], Path]
HARNESS = Path(__file__).resolve().parents[2] / "examples" / "official_api_harness.py"
OURS = "mlmeter.compat.mlperf_loadgen"
OFFICIAL = "mlperf_loadgen"
SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
MODES = ("performance", "accuracy")
TOTAL_SAMPLES = 128  # a multiple of 8, so MultiStream accuracy queries never wrap
PERFORMANCE_SAMPLES = 64  # two loadable sets in accuracy mode
DURATION_MS = 400

# Sized so that both LoadGens are VALID on a busy 2-core machine:
# - SS/MS: a 10 µs expected latency pre-generates more queries than the SUT can use;
#   MS needs 662 queries for early stopping at p99, Server 459 (at 2000 qps: 800).
# - Offline: the SUT is throttled (--service-us) below target_qps, so the query of
#   1.1 x duration x target_qps samples takes longer than min_duration.
USER_CONF = """\
# user.conf for examples/official_api_harness.py (model tiny-linear)
*.SingleStream.target_latency = 0.01
*.MultiStream.target_latency = 0.01
*.MultiStream.min_query_count = 662
*.Server.target_qps = 2000
*.Server.target_latency = 50
*.Server.min_query_count = 500
*.Offline.target_qps = 4000
"""
EXTRA_ARGS = {"Offline": ["--service-us", "4000"]}

# Detail-log keys the official writes about its own logging machinery.
OFFICIAL_ONLY_PREFIXES = ("logger_",)
OFFICIAL_ONLY_KEYS = frozenset({"warning_generic_message"})

_COUNT_LINE = re.compile(
    r"^(No (warnings|errors) encountered during test\.|"
    r"\d+ (warning|ERROR)S? encountered\. See detailed log\.)$",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def run_harness(tmp_path_factory: pytest.TempPathFactory) -> RunHarness:
    """``run_harness(module, scenario, mode)`` -> the log folder (each run once)."""
    root = tmp_path_factory.mktemp("compat_harness")
    conf = root / "user.conf"
    conf.write_text(USER_CONF, encoding="utf-8")

    @functools.cache
    def run(module: str, scenario: str, mode: str) -> Path:
        outdir = root / module / scenario / mode
        cmd = [
            sys.executable,
            str(HARNESS),
            f"--loadgen={module}",
            f"--scenario={scenario}",
            f"--mode={mode}",
            f"--outdir={outdir}",
            f"--duration-ms={DURATION_MS}",
            f"--user-conf={conf}",
            f"--total-samples={TOTAL_SAMPLES}",
            f"--performance-samples={PERFORMANCE_SAMPLES}",
            *EXTRA_ARGS.get(scenario, []),
        ]
        # cwd: a folder of our own, so no stray audit.config is applied.
        proc = subprocess.run(
            cmd, cwd=root, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
        return outdir

    return run


def _official(run_harness: RunHarness, scenario: str, mode: str) -> Path:
    pytest.importorskip(OFFICIAL)
    return run_harness(OFFICIAL, scenario, mode)


def _summary(outdir: Path) -> str:
    return (outdir / "mlperf_log_summary.txt").read_text(encoding="utf-8")


def summary_fields(text: str) -> list[str]:
    """Field names of a summary, in order: the text before ``:``, values stripped."""
    fields = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or set(line) == {"="}:
            continue
        if _COUNT_LINE.match(line):
            fields.append("<warnings>" if "warning" in line.lower() else "<errors>")
        elif ":" in line:
            fields.append(line.split(" : ", 1)[0].split(":", 1)[0].rstrip())
        else:  # free text such as " * Would discard 12 highest latency queries."
            fields.append(re.sub(r"\d+", "<n>", line))
    return fields


def _diff(official: list[str], ours: list[str]) -> str:
    return "\n".join(difflib.unified_diff(official, ours, "official", "mlmeter", lineterm="", n=2))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_our_run_is_valid_and_writes_the_three_logs(
    run_harness: RunHarness, scenario: str, mode: str
) -> None:
    outdir = run_harness(OURS, scenario, mode)
    for name in ("summary.txt", "detail.txt", "accuracy.json"):
        assert (outdir / f"mlperf_log_{name}").is_file(), name
    summary = _summary(outdir)
    if mode == "performance":
        assert "Result is : VALID" in summary, summary
    else:
        assert "Result is" not in summary  # accuracy mode has no result block
    assert "No errors encountered during test." in summary, summary
    detail = read_detail(outdir / "mlperf_log_detail.txt")
    assert detail["effective_scenario"] == scenario
    assert not [k for k in detail if k.startswith("error")]
    if mode == "performance":  # as officially, accuracy runs log no num_errors
        assert detail["num_errors"] == 0
    else:
        entries = read_accuracy_log(outdir / "mlperf_log_accuracy.json")
        counts = collections.Counter(e.qsl_idx for e in entries)
        assert counts == collections.Counter(range(TOTAL_SAMPLES)), "each sample exactly once"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_summary_fields_match_official(run_harness: RunHarness, scenario: str, mode: str) -> None:
    official_dir = _official(run_harness, scenario, mode)
    official = summary_fields(_summary(official_dir))
    if mode == "performance":
        assert "Result is : VALID" in _summary(official_dir), "official run INVALID here"
    ours = summary_fields(_summary(run_harness(OURS, scenario, mode)))
    assert ours == official, _diff(official, ours)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_detail_keys_cover_official(run_harness: RunHarness, scenario: str, mode: str) -> None:
    official_dir = _official(run_harness, scenario, mode)
    official = read_detail(official_dir / "mlperf_log_detail.txt")
    ours = read_detail(run_harness(OURS, scenario, mode) / "mlperf_log_detail.txt")
    expected = {
        k
        for k in official
        if not k.startswith(OFFICIAL_ONLY_PREFIXES) and k not in OFFICIAL_ONLY_KEYS
    }
    missing = sorted(expected - set(ours))
    extra = sorted(set(ours) - set(official))
    assert not missing, f"missing in ours: {missing}\n(ours only: {extra})"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_accuracy_logs_match_official(run_harness: RunHarness, scenario: str) -> None:
    official_dir = _official(run_harness, scenario, "accuracy")
    official = read_accuracy_log(official_dir / "mlperf_log_accuracy.json")
    ours = read_accuracy_log(run_harness(OURS, scenario, "accuracy") / "mlperf_log_accuracy.json")
    ours_count = collections.Counter(e.qsl_idx for e in ours)
    assert collections.Counter(e.qsl_idx for e in official) == ours_count
    assert ours_count == collections.Counter(range(TOTAL_SAMPLES)), "each sample exactly once"
    official_data = {e.qsl_idx: e.data for e in official}
    ours_data = {e.qsl_idx: e.data for e in ours}
    differ = [i for i in sorted(ours_data) if ours_data[i] != official_data[i]]
    assert not differ, f"response bytes differ for qsl_idx {differ[:10]}"
    assert all(len(d) == 16 for d in ours_data.values())  # 4 int32 scores
