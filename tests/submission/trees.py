"""Small, realistic submission trees for the submission, results and dashboard tests.

Not a test file: helpers that write trees into a folder the test owns. Every log is real:
inference logs come from ``mlmeter.loadgen.start_test`` (a ``NullSUT``, a tiny token SUT
for LLMs, a small ``NullQSL``), training logs from ``mlmeter train synthetic``. Runs are
short (tens of milliseconds), so the logs are VALID only against relaxed rules ("dev").

Import it from a test in ``tests/submission`` as ``import trees`` (pytest puts the test's
folder on ``sys.path``); from elsewhere use ``load_trees_module()`` of this file's path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.loadgen import LogSettings, QuerySample, QuerySampleResponse, complete, first_token
from mlmeter.loadgen import start_test as _start_test
from mlmeter.settings import Scenario, TestMode, TestSettings
from mlmeter.suts import FixedLatencySUT, NullQSL, NullSUT

QSL_TOTAL = 64
SYSTEM_FIELDS: dict[str, str] = {
    "submitter": "",
    "division": "",
    "status": "Available on-premise",
    "system_name": "",
    "system_type": "datacenter",
    "number_of_nodes": "1",
    "host_processors_per_node": "1",
    "host_processor_model_name": "Test CPU",
    "host_processor_core_count": "2",
    "accelerators_per_node": "1",
    "accelerator_model_name": "Test Accelerator",
    "framework": "mlmeter",
    "operating_system": "Linux",
}
# Short runs that are VALID (min duration, min queries and early stopping met): 30 ms or
# so each; a FixedLatencySUT where a NullSUT would run out of queries or finish too soon.
SCENARIO_SETTINGS: dict[str, dict[str, Any]] = {
    "SingleStream": {"single_stream_expected_latency_ns": 100_000, "min_query_count": 100},
    "MultiStream": {"multi_stream_expected_latency_ns": 100_000, "min_query_count": 700},
    "Server": {"server_target_qps": 10_000.0, "min_query_count": 500},
    "Offline": {"offline_expected_qps": 1000.0, "min_query_count": 16},
}
SERVICE_MS = {"SingleStream": 0.1, "MultiStream": 0.02, "Offline": 1.0}  # else NullSUT


class TokenSUT:
    """Answers each sample at once with ``n_tokens`` tokens (first token first)."""

    def __init__(self, n_tokens: int = 8, delay_s: float = 0.0) -> None:
        self.n_tokens = n_tokens
        self.delay_s = delay_s

    @property
    def name(self) -> str:
        """The SUT name for the logs."""
        return "TokenSUT"

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """First token, then the whole answer, for every sample."""
        first_token([QuerySampleResponse(s.id, b"\x01\x00") for s in samples])
        time.sleep(self.delay_s)
        data = bytes(2 * self.n_tokens)
        complete([QuerySampleResponse(s.id, data, n_tokens=self.n_tokens) for s in samples])

    def flush_queries(self) -> None:
        """Nothing is batched."""


def run_loadgen(
    outdir: Path, scenario: str, *, accuracy: bool = False, tokens: bool = False
) -> Path:
    """One short real loadgen run into ``outdir`` (summary, detail, accuracy log)."""
    extra: dict[str, Any] = dict(SCENARIO_SETTINGS[scenario])
    if tokens:
        extra["use_token_latencies"] = True
        if scenario != "Offline":
            extra.update(server_ttft_latency=2_000_000_000, server_tpot_latency=200_000_000)
    settings = TestSettings(
        scenario=Scenario(scenario),
        mode=TestMode.ACCURACY_ONLY if accuracy else TestMode.PERFORMANCE_ONLY,
        min_duration_ms=30,
        **extra,
    )
    outdir.mkdir(parents=True, exist_ok=True)
    log = LogSettings(outdir=outdir, write_results_json=False)
    with _sut(scenario, accuracy=accuracy, tokens=tokens) as sut:
        result = _start_test(sut, NullQSL(QSL_TOTAL), settings, log)
    assert result.error is None, result.error
    assert accuracy or result.valid, f"{outdir}: the run is not VALID"
    return outdir


@contextlib.contextmanager
def _sut(scenario: str, *, accuracy: bool, tokens: bool) -> Iterator[Any]:
    if tokens:
        yield TokenSUT(delay_s=0.035 if scenario == "Offline" and not accuracy else 0.0)
    elif accuracy or scenario not in SERVICE_MS:
        yield NullSUT()
    else:
        workers = 8 if scenario == "MultiStream" else 1
        with FixedLatencySUT(SERVICE_MS[scenario], workers) as sut:
            yield sut


def system_json(org_dir: Path, system: str, *, org: str, division: str, **fields: Any) -> Path:
    """``<org_dir>/systems/<system>.json`` with the usual fields (``fields`` override)."""
    data = {**SYSTEM_FIELDS, "submitter": org, "division": division, "system_name": system}
    data.update(fields)
    path = org_dir / "systems" / f"{system}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def accuracy_txt(log: Path, line: str) -> str:
    """An official-style ``accuracy.txt``: the metric line, then ``hash=<sha256 of log>``."""
    return f"{line}\nhash={hashlib.sha256(log.read_bytes()).hexdigest()}\n"


@dataclass(frozen=True)
class Entry:
    """One inference result to write: where, and what the accuracy line says."""

    system: str
    benchmark: str
    scenario: str
    accuracy_line: str = "accuracy=76.100%, good=48, total=64"
    tokens: bool = False


def inference_entry(org_dir: Path, entry: Entry, *, with_accuracy: bool = True) -> Path:
    """``results/<system>/<benchmark>/<scenario>/`` with real logs, as the checker wants."""
    scen = org_dir / "results" / entry.system / entry.benchmark / entry.scenario
    run_loadgen(scen / "performance" / "run_1", entry.scenario, tokens=entry.tokens)
    _drop(scen / "performance" / "run_1", "mlperf_log_accuracy.json")
    if with_accuracy:
        acc = run_loadgen(scen / "accuracy", entry.scenario, accuracy=True, tokens=entry.tokens)
        log = acc / "mlperf_log_accuracy.json"
        (acc / "accuracy.txt").write_text(accuracy_txt(log, entry.accuracy_line), "utf-8")
    measurements = {
        "input_data_types": "fp32",
        "retraining": "no",
        "starting_weights_filename": "none",
        "weight_data_types": "fp32",
        "weight_transformations": "none",
    }
    (scen / "measurements.json").write_text(json.dumps(measurements) + "\n", "utf-8")
    (scen / "user.conf").write_text(f"*.{entry.scenario}.min_duration = 30\n", "utf-8")
    (scen / "README.md").write_text("Produced by the test suite.\n", "utf-8")
    return scen


def _drop(folder: Path, name: str) -> None:
    (folder / name).unlink(missing_ok=True)


ROUGE = "{'rouge1': 44.43, 'rougeL': 28.67}"
# Two organisations (OrgA with two systems), several benchmarks and scenarios, an LLM.
PUBLISHED_INFERENCE: dict[tuple[str, str], list[Entry]] = {
    ("closed", "OrgA"): [
        Entry("sysA1", "resnet50", "Offline"),
        Entry("sysA1", "resnet50", "Server"),
        Entry("sysA1", "retinanet", "SingleStream", "mAP=37.552%"),
        Entry("sysA2", "resnet50", "MultiStream"),
    ],
    ("closed", "OrgB"): [
        Entry("sysB1", "resnet50", "Offline"),
        Entry("sysB1", "llama2-70b-99", "Offline", ROUGE, True),
        Entry("sysB1", "llama2-70b-99", "Server", ROUGE, True),
    ],
}


def inference_repo(root: Path, layout: dict[tuple[str, str], list[Entry]] | None = None) -> Path:
    """A results repository in MLCommons' inference layout: ``<division>/<Org>/...``."""
    for (division, org), entries in (layout or PUBLISHED_INFERENCE).items():
        org_dir = root / division / org
        for system in sorted({e.system for e in entries}):
            system_json(org_dir, system, org=org, division=division)
        for entry in entries:
            inference_entry(org_dir, entry)
        (org_dir / "code").mkdir(parents=True, exist_ok=True)
        (org_dir / "code" / "README.md").write_text("code\n", "utf-8")
    return root


def train_synthetic(
    outdir: Path, runs: int = 3, *, system: str = "sys", org: str = "", division: str = "open"
) -> Path:
    """``mlmeter train synthetic --runs N --output OUTDIR``: an org folder with real logs."""
    from mlmeter.cli.main import main

    argv = ["train", "synthetic", "--runs", str(runs), "--output", str(outdir)]
    argv += ["--system", system, "--threads", "1", "--division", division]
    if org:
        argv += ["--org", org]
    code = main(argv)
    assert code in (0, None), f"mlmeter train exited {code}"
    return outdir


def training_org(org_dir: Path, systems: Sequence[str], org: str, runs: int = 3) -> Path:
    """A training org folder with one ``resnet`` benchmark per system (synthetic runs)."""
    for system in systems:
        with tempfile.TemporaryDirectory() as tmp:
            out = train_synthetic(Path(tmp) / "out", runs, system=system, org=org)
            _merge(out, org_dir)
    return org_dir


def _merge(src: Path, dest: Path) -> None:
    for sub in ("systems", "results"):
        shutil.copytree(src / sub, dest / sub, dirs_exist_ok=True)


def training_repo(root: Path, orgs: dict[str, Sequence[str]] | None = None) -> Path:
    """A published training results repository: ``<Org>/systems``, ``<Org>/results``."""
    for org, systems in (orgs or {"OrgA": ["sysA1", "sysA2"], "OrgB": ["sysB1"]}).items():
        training_org(root / org, systems, org)
    return root
