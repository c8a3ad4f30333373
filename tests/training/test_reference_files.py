"""The shipped reference convergence points: readable, big enough, and still current.

A record keeps the hyperparameters it was generated with; if a workload's recipe changes,
this test fails until the RCPs are regenerated (the command is in docs/training.md and in
each record's ``generated_by``).
"""

from __future__ import annotations

import json

import pytest

from mlmeter.training import TrainOptions, get_training_workload, training_workload_names
from mlmeter.training._reference import convergence_key, load_reference


def _configs() -> list[tuple[str, str]]:
    out = []
    for name in training_workload_names():
        try:
            workload = get_training_workload(name)
        except Exception:  # optional dependencies missing
            continue
        for config in workload.configs:
            if workload.reference_file(TrainOptions(config=config)).exists():
                out.append((name, config))
    return out


SHIPPED = _configs()


def test_every_reference_workload_ships_rcps() -> None:
    names = {name for name, _ in SHIPPED}
    assert {"image-classification", "recommendation", "language", "llm-finetune"} <= names


@pytest.mark.parametrize(("name", "config"), SHIPPED)
def test_rcps_are_current(name: str, config: str) -> None:
    workload = get_training_workload(name)
    opts = TrainOptions(config=config)
    spec = workload.spec_for(opts)
    path = workload.reference_file(opts)
    reference = load_reference(path, spec.benchmark)
    hyper = workload.hyperparameters(opts)
    assert list(reference) == [hyper["global_batch_size"]]
    (points,) = reference.values()
    assert len(points) >= 2 * spec.runs, "the rules ask for at least 2N reference runs"
    record = next(iter(json.loads(path.read_text()).values()))
    assert convergence_key(spec.benchmark) in record
    stored = dict(record["Hyperparams"])
    assert stored.pop("config") == config
    seeds = stored.pop("seeds")
    assert len(seeds) == len(points) == len(set(seeds))
    assert f"--config {config}" in stored.pop("generated_by")
    assert stored == hyper, f"{path.name} is stale: regenerate it (docs/training.md)"
