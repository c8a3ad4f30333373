"""The language training workload: a tiny Transformer sorting tokens, logged as bert 5.0.0."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from official import assert_compliant

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
from mlmeter.workloads.language._lamb import Lamb, PolySchedule, lamb_param_groups
from mlmeter.workloads.language._training import (
    RECIPES,
    VOCAB,
    LanguageTraining,
    SortingTrainer,
)

CI = TrainOptions(seed=1, config="ci")


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunOutcome, Path]:
    log = tmp_path_factory.mktemp("lang") / "result_0.txt"
    outcome = run_training(get_training_workload("language"), CI, log, time_limit_s=120)
    return outcome, log


def _trainer(seed: int, config: str = "ci") -> SortingTrainer:
    trainer = LanguageTraining().build(TrainOptions(seed=seed, config=config), LocalComm())
    assert isinstance(trainer, SortingTrainer)
    trainer.load_data()
    return trainer


def test_ci_config_reaches_its_target(ci_run: tuple[RunOutcome, Path]) -> None:
    outcome, _ = ci_run
    recipe = RECIPES["ci"]
    assert outcome.converged, outcome.reason
    assert outcome.reached_at is not None and outcome.reached_at <= recipe.max_epochs
    positions = [at for at, _ in outcome.evals]
    assert positions == [recipe.eval_every * (i + 1) for i in range(len(positions))]
    assert outcome.evals[-1][1] >= recipe.target > outcome.evals[0][1]


def test_log_passes_the_official_5_0_0_checker_open_and_closed(
    ci_run: tuple[RunOutcome, Path], tmp_path: Path
) -> None:
    """Open division as logged; the closed rules' keys are all there (division rewritten)."""
    assert_compliant(ci_run[1], "5.0.0")
    closed = tmp_path / "result_0.txt"
    shutil.copy(ci_run[1], closed)
    text = re.sub(
        r'("key": "submission_division", "value": )"open"', r'\1"closed"', closed.read_text()
    )
    closed.write_text(text)
    assert_compliant(closed, "5.0.0")
    values = [e.value for e in read_mllog(ci_run[1]) if e.key == keys.EVAL_ACCURACY]
    assert any(isinstance(v, float) and v < 1.0 for v in values)  # open_bert's check


def test_logged_hyperparameters_are_the_ones_used(ci_run: tuple[RunOutcome, Path]) -> None:
    logged = {e.key: e.value for e in read_mllog(ci_run[1])}
    trainer = _trainer(CI.seed)
    trainer.train(1000)  # 8 updates: 7 full batches of 128 and one of 104
    recipe, schedule = RECIPES["ci"], trainer.schedule
    adapted, excluded = trainer.optimizer.param_groups
    assert logged[keys.OPT_NAME] == "lamb" and trainer.steps == 8
    assert logged[keys.GLOBAL_BATCH_SIZE] == trainer.stream.batch == recipe.batch
    assert logged[keys.OPT_BASE_LR] == schedule.base_lr == recipe.lr
    assert adapted["lr"] == excluded["lr"] == schedule.lr(8) < recipe.lr
    assert (logged[keys.OPT_LAMB_BETA_1], logged[keys.OPT_LAMB_BETA_2]) == adapted["betas"]
    assert logged[keys.OPT_LAMB_EPSILON] == adapted["eps"]
    assert logged[keys.OPT_LAMB_WEIGHT_DECAY] == adapted["weight_decay"]
    assert logged[keys.OPT_LR_TRAINING_STEPS] == schedule.training_steps == 192  # 6 epochs
    assert logged[keys.OPT_LR_WARMUP_STEPS] == logged[keys.NUM_WARMUP_STEPS] == 0
    assert logged[keys.START_WARMUP_STEP] == schedule.start_warmup_step == 0
    assert logged[keys.OPT_LAMB_LR_DECAY_POLY_POWER] == schedule.power
    assert logged[keys.TRAIN_SAMPLES] == recipe.train_sequences
    assert logged[keys.EVAL_SAMPLES] == recipe.eval_sequences


def test_same_seed_same_run_other_seed_other_run() -> None:
    first, again, other = _trainer(5), _trainer(5), _trainer(6)
    losses = [t.train(640) for t in (first, again, other)]
    assert losses[0] == losses[1] != losses[2]
    assert first.evaluate() == again.evaluate()
    for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_evaluate_is_the_token_accuracy_against_python_sorted() -> None:
    trainer = _trainer(2)
    trainer.train(1024)
    predicted = trainer.predict().tolist()
    tokens = trainer.eval_set.tokens.tolist()
    assert len(tokens) == RECIPES["ci"].eval_sequences
    pairs = zip(predicted, tokens, strict=True)
    hits = sum(p == t for pred, seq in pairs for p, t in zip(pred, sorted(seq), strict=True))
    assert trainer.evaluate() == pytest.approx(hits / (len(tokens) * RECIPES["ci"].length))
    assert 0 < trainer.evaluate() < 1


def test_lamb_without_adaptation_or_decay_is_adam() -> None:
    torch.manual_seed(0)
    w = torch.randn(5, 3)
    mine, ref = w.clone().requires_grad_(), w.clone().requires_grad_()
    lamb = Lamb([{"params": [mine], "adapt": False}], lr=0.01, eps=1e-6, weight_decay=0.01)
    adam = torch.optim.Adam([ref], lr=0.01, eps=1e-6)
    for step in range(5):
        for p in (mine, ref):
            p.grad = torch.sin(p.detach() * (step + 1))
        lamb.step()
        adam.step()
    torch.testing.assert_close(mine, ref)


def test_lamb_moves_each_adapted_tensor_by_lr_times_its_norm() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    groups = lamb_param_groups(model)
    assert [len(g["params"]) for g in groups] == [1, 3]  # weight | bias, norm weight and bias
    lamb = Lamb(groups, lr=0.05)
    before = model[0].weight.detach().clone()
    model(torch.randn(16, 4)).pow(2).sum().backward()
    lamb.step()
    moved = torch.linalg.vector_norm(model[0].weight.detach() - before)
    assert float(moved) == pytest.approx(0.05 * float(torch.linalg.vector_norm(before)), rel=1e-5)


def test_poly_schedule_is_the_bert_reference_rate() -> None:
    flat = PolySchedule(0.02, training_steps=4)
    assert [flat.lr(k) for k in range(1, 7)] == pytest.approx([0.02, 0.015, 0.01, 0.005, 0, 0])
    warm = PolySchedule(0.02, training_steps=10, warmup_steps=2)
    assert [warm.lr(k) for k in (1, 2, 3)] == pytest.approx([0.0, 0.01, 0.02 * 0.8])


def test_default_model_is_a_70k_parameter_two_layer_encoder() -> None:
    trainer = LanguageTraining().build(TrainOptions(), LocalComm())
    assert isinstance(trainer, SortingTrainer)
    assert len(trainer.model.encoder.layers) == 2 and trainer.model.head.out_features == VOCAB
    assert 65_000 < sum(p.numel() for p in trainer.model.parameters()) < 75_000


def test_spec_is_bert_5_0_0_by_epoch() -> None:
    workload = LanguageTraining()
    for config, recipe in RECIPES.items():
        spec = workload.spec_for(TrainOptions(config=config))
        assert (spec.benchmark, spec.ruleset, spec.progress) == ("bert", "5.0.0", "epoch")
        assert (spec.target, spec.eval_every, spec.runs) == (recipe.target, 0.5, 10)
        assert spec.max_units * recipe.train_sequences <= recipe.training_steps * recipe.batch
    assert workload.spec == workload.spec_for(TrainOptions())


def test_unknown_config_and_data_dir_are_refused(tmp_path: Path) -> None:
    workload = LanguageTraining()
    with pytest.raises(UsageError, match="use default, ci"):
        workload.spec_for(TrainOptions(config="huge"))
    with pytest.raises(UsageError, match="--data-dir"):
        workload.hyperparameters(TrainOptions(data_dir=tmp_path))
