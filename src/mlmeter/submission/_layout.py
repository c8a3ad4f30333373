"""Where things go in a submission tree (see ``docs/submission.md``).

Inference, as MLCommons' submission checker (v6.0) and results repositories lay it out::

    <division>/<org>/systems/<system>.json
    <division>/<org>/results/<system>/<benchmark>/<scenario>/
        performance/run_1/mlperf_log_{summary,detail}.txt
        accuracy/{mlperf_log_summary.txt, mlperf_log_detail.txt, mlperf_log_accuracy.json,
                  accuracy.txt}
        measurements.json, user.conf, README.md
    <division>/<org>/compliance/<system>/<benchmark>/<scenario>/TEST0x/...
    <division>/<org>/code/README.md

Training, as an organisation folder of ``mlperf_logging``'s package checker::

    training/<org>/systems/<system>.json
    training/<org>/results/<system>/<benchmark>/result_<i>.txt
    training/<org>/benchmarks/<benchmark>/implementations/mlmeter/README.md
"""

from __future__ import annotations

from pathlib import Path

MANIFEST = "mlmeter_submission.json"
MANIFEST_FORMAT = "mlmeter.submission"
MANIFEST_VERSION = 1
TRAINING = "training"

SUMMARY = "mlperf_log_summary.txt"
DETAIL = "mlperf_log_detail.txt"
ACCURACY_LOG = "mlperf_log_accuracy.json"
ACCURACY_TXT = "accuracy.txt"
MEASUREMENTS = "measurements.json"
USER_CONF = "user.conf"
README = "README.md"
PERFORMANCE_RUN = Path("performance") / "run_1"
ACCURACY = Path("accuracy")


def org_dir(root: Path, division: str, org: str) -> Path:
    """``<root>/<division>/<org>``: an inference organisation folder."""
    return root / division / org


def system_file(org: Path, system: str) -> Path:
    """``<org>/systems/<system>.json``."""
    return org / "systems" / f"{system}.json"


def scenario_dir(org: Path, system: str, benchmark: str, scenario: str) -> Path:
    """``<org>/results/<system>/<benchmark>/<scenario>``."""
    return org / "results" / system / benchmark / scenario


def compliance_dir(org: Path, system: str, benchmark: str, scenario: str, test: str) -> Path:
    """``<org>/compliance/<system>/<benchmark>/<scenario>/<test>``."""
    return org / "compliance" / system / benchmark / scenario / test


def training_org(root: Path, org: str) -> Path:
    """``<root>/training/<org>``: a training organisation folder."""
    return root / TRAINING / org


def training_bench_dir(org: Path, system: str, benchmark: str) -> Path:
    """``<org>/results/<system>/<benchmark>``: holds ``result_<i>.txt``."""
    return org / "results" / system / benchmark


def training_result(org: Path, system: str, benchmark: str, index: int) -> Path:
    """``<org>/results/<system>/<benchmark>/result_<index>.txt``."""
    return training_bench_dir(org, system, benchmark) / f"result_{index}.txt"
