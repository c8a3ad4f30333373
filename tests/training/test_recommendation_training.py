"""The recommendation training workload: a mini-DLRM to its AUC target, logged as dlrm_dcnv2."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from official import assert_compliant, compliance

from mlmeter.errors import UsageError
from mlmeter.training import (
    LocalComm,
    RunOutcome,
    TrainOptions,
    get_training_workload,
    keys,
    read_mllog,
    run_training,
)
from mlmeter.workloads.recommendation._auc import roc_auc
from mlmeter.workloads.recommendation._synthetic import PlantedClickModel
from mlmeter.workloads.recommendation._training import (
    DATA_SEED,
    RECIPES,
    DLRMTrainer,
    RecommendationTraining,
)

CI = TrainOptions(seed=1, config="ci")


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunOutcome, Path]:
    log = tmp_path_factory.mktemp("rec") / "result_0.txt"
    outcome = run_training(get_training_workload("recommendation"), CI, log, time_limit_s=120)
    return outcome, log


def _trainer(seed: int) -> DLRMTrainer:
    workload = RecommendationTraining()
    trainer = workload.build(TrainOptions(seed=seed, config="ci"), LocalComm())
    assert isinstance(trainer, DLRMTrainer)
    trainer.load_data()
    return trainer


def test_ci_config_reaches_its_target_at_tenths_of_an_epoch(
    ci_run: tuple[RunOutcome, Path],
) -> None:
    outcome, _ = ci_run
    assert outcome.converged, outcome.reason
    assert outcome.reached_at is not None and 0 < outcome.reached_at <= RECIPES["ci"].max_epochs
    positions = [at for at, _ in outcome.evals]
    assert positions == pytest.approx([0.1 * (i + 1) for i in range(len(positions))])
    assert outcome.evals[-1][1] >= RECIPES["ci"].target > outcome.evals[0][1]


def test_log_passes_the_official_6_0_0_checker_in_the_open_division(
    ci_run: tuple[RunOutcome, Path],
) -> None:
    assert_compliant(ci_run[1], "6.0.0")
    evals = [e for e in read_mllog(ci_run[1]) if e.key == keys.EVAL_ACCURACY]
    assert {type(e.metadata["epoch_num"]) for e in evals[:-1]} == {float}  # 0.1, 0.2, ...


def test_closed_rules_fail_only_on_the_fixed_eval_set_size(
    ci_run: tuple[RunOutcome, Path], tmp_path: Path
) -> None:
    """Every closed key is logged honestly; only eval_samples (89,137,319) cannot match."""
    closed = tmp_path / "result_0.txt"
    shutil.copy(ci_run[1], closed)
    text = closed.read_text()
    text = re.sub(r'("key": "submission_division", "value": )"open"', r'\1"closed"', text)
    closed.write_text(text)
    result = compliance(closed, "6.0.0")
    assert result.returncode != 0
    messages = result.text.split("-" * 30)  # the checker's separator between findings
    assert len(messages) == 1, result.text[-3000:]
    assert "CHECK for 'eval_samples' failed" in result.text, result.text[-3000:]


def test_logged_hyperparameters_are_the_ones_the_optimizer_uses(
    ci_run: tuple[RunOutcome, Path],
) -> None:
    logged = {e.key: e.value for e in read_mllog(ci_run[1])}
    trainer = RecommendationTraining().build(CI, LocalComm())
    assert isinstance(trainer, DLRMTrainer)
    group = trainer.optimizer.param_groups[0]
    assert logged[keys.OPT_NAME] == "adagrad" and isinstance(trainer.optimizer, torch.optim.Adagrad)
    assert logged[keys.GLOBAL_BATCH_SIZE] == trainer.stream.batch == RECIPES["ci"].batch
    assert logged[keys.OPT_BASE_LR] == group["lr"]
    assert logged[keys.OPT_ADAGRAD_LR_DECAY] == group["lr_decay"] == 0
    assert logged[keys.OPT_WEIGHT_DECAY] == group["weight_decay"] == 0
    assert logged[keys.OPT_ADAGRAD_INITIAL_ACCUMULATOR_VALUE] == group["initial_accumulator_value"]
    assert logged[keys.OPT_ADAGRAD_EPSILON] == group["eps"] == 1e-8
    assert logged[keys.TRAIN_SAMPLES] == RECIPES["ci"].train_rows
    assert logged[keys.EVAL_SAMPLES] == RECIPES["ci"].eval_rows
    assert logged[keys.SEED] == CI.seed


def test_same_seed_same_run_other_seed_other_run() -> None:
    first, again, other = _trainer(5), _trainer(5), _trainer(6)
    losses = [t.train(3000) for t in (first, again, other)]
    assert losses[0] == losses[1] != losses[2]
    assert first.evaluate() == again.evaluate() != other.evaluate()
    for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_evaluate_is_sklearn_roc_auc_of_the_eval_rows() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    trainer = _trainer(2)
    trainer.train(2000)
    scores = trainer.predict()
    assert len(scores) == len(trainer.eval_labels) == RECIPES["ci"].eval_rows
    expected = metrics.roc_auc_score(trainer.eval_labels, scores)
    assert trainer.evaluate() == pytest.approx(expected, abs=1e-12)


def test_train_consumes_exactly_the_requested_samples() -> None:
    trainer = _trainer(3)
    trainer.train(1000)  # 3 full batches of 256 and a short one
    assert trainer.stream.consumed == 1000
    assert trainer.optimizer.state[trainer.model.bottom[0].weight]["step"] == 4


@pytest.mark.parametrize("config", sorted(RECIPES))
def test_targets_sit_a_fixed_margin_below_the_bayes_auc(config: str) -> None:
    """The data set is fixed, so the target is the Bayes AUC of the eval rows minus a margin."""
    recipe = RECIPES[config]
    rows = PlantedClickModel(DATA_SEED).draw(recipe.eval_rows, "eval")
    bayes = roc_auc(rows.probability, rows.rows.labels)
    assert 0.055 <= bayes - recipe.target <= 0.08
    assert np.mean(rows.rows.labels) > 0.1  # both classes well represented


def test_spec_is_dlrm_dcnv2_6_0_0_evaluated_every_tenth_of_an_epoch() -> None:
    workload = RecommendationTraining()
    for config, recipe in RECIPES.items():
        spec = workload.spec_for(TrainOptions(config=config))
        assert (spec.benchmark, spec.ruleset, spec.progress) == ("dlrm_dcnv2", "6.0.0", "epoch")
        assert (spec.target, spec.eval_every, spec.runs) == (recipe.target, 0.1, 10)
    assert workload.spec == workload.spec_for(TrainOptions())


def test_unknown_config_and_data_dir_are_refused(tmp_path: Path) -> None:
    workload = RecommendationTraining()
    with pytest.raises(UsageError, match="use default, ci"):
        workload.spec_for(TrainOptions(config="huge"))
    with pytest.raises(UsageError, match="--data-dir"):
        workload.hyperparameters(TrainOptions(data_dir=tmp_path))
