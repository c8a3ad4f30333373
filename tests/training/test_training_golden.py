"""Golden files for what ``mlmeter train`` writes: a whole run's log and an RCP record.

Volatile fields are normalised (``time_ms``, ``lineno``); the rest — keys, order,
values, metadata — must match byte for byte. Regenerate with
``UPDATE_GOLDEN=1 pytest tests/training/test_training_golden.py`` and review the diff.
The RCP golden was checked against the official ``rcps_resnet.json`` record layout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from _golden import check_golden
from mlmeter.training import SubmissionInfo, TrainOptions, run_training
from mlmeter.training._reference import reference_record, write_reference
from mlmeter.training._synthetic import SyntheticTraining

GOLDEN = Path(__file__).parent / "golden"


def _normalise(text: str) -> str:
    text = re.sub(r'"time_ms": \d+', '"time_ms": 0', text)
    return re.sub(r'"lineno": \d+', '"lineno": 0', text)


def test_synthetic_run_log(tmp_path: Path) -> None:
    log = tmp_path / "result_0.txt"
    info = SubmissionInfo(org="GoldenOrg", platform="golden_box")
    run_training(SyntheticTraining(), TrainOptions(seed=42), log, info=info)
    check_golden(GOLDEN / "synthetic_run_v4.0.txt", _normalise(log.read_text()))


def test_rcp_record(tmp_path: Path) -> None:
    record = reference_record(
        "resnet",
        64,
        [5.0, 6.0, 6.0, 7.0],
        hyperparams={"opt_name": "lars", "seeds": [1, 2, 3, 4]},
        platform="cpu",
        when="2026-11-28",
    )
    path = tmp_path / "rcps.json"
    write_reference(path, [record])
    assert list(json.loads(path.read_text())["resnet_ref_64"]) == [
        *("Benchmark", "Creator", "When", "Platform", "BS", "Hyperparams"),
        "Epochs to converge",
    ]
    check_golden(GOLDEN / "rcps_resnet_record.json", path.read_text())
