"""Image-classification training (MLPerf ``resnet``): LARS, convergence, logs, two ranks."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from official import assert_compliant  # noqa: E402

from mlmeter.errors import UsageError  # noqa: E402
from mlmeter.training import (  # noqa: E402
    Comm,
    SubmissionInfo,
    Trainer,
    TrainOptions,
    keys,
    read_mllog,
    run_training,
)
from mlmeter.workloads.image_classification._lars import (  # noqa: E402
    Lars,
    PolySchedule,
    lars_param_groups,
    trust_ratio,
)
from mlmeter.workloads.image_classification._mnist import SmallResNet  # noqa: E402
from mlmeter.workloads.image_classification._training import (  # noqa: E402
    DigitsTrainer,
    ImageClassificationTraining,
)

DIGITS = TrainOptions(seed=3, config="digits")


class _Keeping(ImageClassificationTraining):
    """The workload, keeping the trainer it builds for inspection."""

    trainer: DigitsTrainer | None = None

    def build(self, opts: TrainOptions, comm: Comm) -> Trainer:
        trainer = super().build(opts, comm)
        assert isinstance(trainer, DigitsTrainer)
        self.trainer = trainer
        return trainer


def _logged(log: Path) -> dict[str, Any]:
    return {e.key: e.value for e in read_mllog(log)}


# --- LARS ------------------------------------------------------------------------------


def test_trust_ratio_follows_the_reference_formula() -> None:
    w, g = torch.tensor([3.0, 4.0]), torch.tensor([0.6, 0.8])  # |w| = 5, |g| = 1
    ratio = trust_ratio(w, g, eeta=0.001, weight_decay=0.01, epsilon=0.5)
    assert float(ratio) == pytest.approx(0.001 * 5 / (1 + 0.01 * 5 + 0.5))
    assert float(trust_ratio(torch.zeros(2), g, 0.001, 0.01, 0.0)) == 1.0
    assert float(trust_ratio(w, torch.zeros(2), 0.001, 0.01, 0.0)) == 1.0


def test_lars_scales_weights_and_leaves_bn_and_bias_plain() -> None:
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    b = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    groups = [{"params": [w], "lars": True}, {"params": [b], "lars": False}]
    opt = Lars(groups, lr=2.0, momentum=0.5, weight_decay=0.01, eeta=0.001)
    g = torch.tensor([0.6, 0.8])
    expected_v = 2.0 * (0.001 * 5 / (1 + 0.05)) * (g + 0.01 * torch.tensor([3.0, 4.0]))
    for step in (1, 2):
        w.grad, b.grad = g.clone(), g.clone()
        w_before, b_before = w.detach().clone(), b.detach().clone()
        opt.step()
        if step == 2:  # momentum: v2 = 0.5 * v1 + (new scaled step)
            ratio = 0.001 * float(w_before.norm()) / (1 + 0.01 * float(w_before.norm()))
            expected_v = 0.5 * expected_v + 2.0 * ratio * (g + 0.01 * w_before)
        assert torch.allclose(w.detach(), w_before - expected_v)
        plain = 2.0 * g if step == 1 else 2.0 * g * 1.5
        assert torch.allclose(b.detach(), b_before - plain)  # no trust ratio, no decay


def test_param_groups_skip_batch_norm_and_biases() -> None:
    model = SmallResNet((4, 8, 8), stem_stride=1)
    adapted, skipped = lars_param_groups(model)
    assert adapted["lars"] and not skipped["lars"]
    layers = (torch.nn.Conv2d, torch.nn.Linear)
    weights = {id(m.weight) for m in model.modules() if isinstance(m, layers)}
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert {id(p) for p in adapted["params"]} == weights
    skipped_ids = {id(p) for p in skipped["params"]}
    assert len(norms) == 7 and id(model.head.bias) in skipped_ids
    assert all(id(m.weight) in skipped_ids and id(m.bias) in skipped_ids for m in norms)
    assert len(weights) + len(skipped_ids) == len(list(model.parameters()))


def test_poly_schedule_warms_up_then_decays_to_the_end_rate() -> None:
    s = PolySchedule(base_lr=4.0, end_lr=0.0001, warmup_steps=10, decay_steps=20)
    assert [s.lr(k) for k in (1, 5, 10)] == pytest.approx([0.4, 2.0, 4.0])
    assert s.lr(20) == pytest.approx((4.0 - 0.0001) * 0.5**2 + 0.0001)
    assert s.lr(30) == pytest.approx(0.0001) and s.lr(99) == pytest.approx(0.0001)


# --- runs ------------------------------------------------------------------------------


def test_digits_reaches_its_target_deterministically(tmp_path: Path) -> None:
    workload = ImageClassificationTraining()
    first = run_training(workload, DIGITS, tmp_path / "a.txt")
    again = run_training(workload, DIGITS, tmp_path / "b.txt")
    spec = workload.spec_for(DIGITS)
    assert first.status == "success" and first.reached_at is not None
    assert first.reached_at <= spec.max_units and first.evals[-1][1] >= spec.target
    assert first.evals == again.evals  # same seed, same run
    other = run_training(workload, TrainOptions(seed=4, config="digits"), tmp_path / "c.txt")
    assert other.evals != first.evals


def test_log_passes_the_official_checker_open_and_closed(tmp_path: Path) -> None:
    workload = ImageClassificationTraining()
    for division in ("open", "closed"):
        log = tmp_path / f"{division}.txt"
        outcome = run_training(workload, DIGITS, log, info=SubmissionInfo(division=division))
        assert outcome.converged
        assert _logged(log)[keys.SUBMISSION_BENCHMARK] == "resnet"
        assert_compliant(log, "4.0.0")  # closed: enqueues closed_resnet_lars.yaml


def test_logged_hyperparameters_are_the_ones_used(tmp_path: Path) -> None:
    workload = _Keeping()
    outcome = run_training(workload, DIGITS, tmp_path / "log.txt")
    t, hp = workload.trainer, _logged(tmp_path / "log.txt")
    assert t is not None and outcome.reached_at is not None
    group = t.optimizer.param_groups[0]
    assert hp[keys.OPT_NAME] == "lars" and isinstance(t.optimizer, Lars)
    assert hp[keys.GLOBAL_BATCH_SIZE] == t.stream.batch == hp[keys.MODEL_BN_SPAN]
    assert hp[keys.LARS_OPT_MOMENTUM] == group["momentum"]
    assert hp[keys.LARS_OPT_WEIGHT_DECAY] == group["weight_decay"]
    assert hp[keys.LARS_EPSILON] == group["epsilon"] == 0.0
    assert math.log2(hp[keys.LARS_OPT_WEIGHT_DECAY] / 0.0001).is_integer()
    s = t.schedule
    assert hp[keys.LARS_OPT_BASE_LEARNING_RATE] == s.base_lr
    assert hp[keys.LARS_OPT_END_LR] == s.end_lr == 0.0001
    assert hp[keys.LARS_OPT_LR_DECAY_POLY_POWER] == s.power == 2
    assert hp[keys.LARS_OPT_LR_DECAY_STEPS] == s.decay_steps
    steps_per_epoch = math.ceil(t.train_samples / t.stream.batch)
    assert t.steps == steps_per_epoch * outcome.reached_at  # the updates actually taken
    assert hp[keys.LARS_OPT_LEARNING_RATE_WARMUP_EPOCHS] * steps_per_epoch == s.warmup_steps
    assert group["lr"] == s.lr(t.steps)  # the optimizer ran the logged schedule


def test_unknown_config_is_rejected() -> None:
    with pytest.raises(UsageError, match="use mnist, digits"):
        ImageClassificationTraining().spec_for(TrainOptions(config="imagenet"))


# --- two ranks -------------------------------------------------------------------------

RANK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from mlmeter.training import TrainOptions, run_training
    from mlmeter.training._dist import init_distributed, shutdown_distributed
    from mlmeter.workloads.image_classification._training import ImageClassificationTraining

    class Keeping(ImageClassificationTraining):
        def build(self, opts, comm):
            self.trainer = super().build(opts, comm)
            return self.trainer

    out = sys.argv[1]
    comm = init_distributed("cpu")
    w = Keeping()
    o = run_training(w, TrainOptions(seed=5, config="digits"), out + "/log.txt", comm=comm)
    w.trainer.train(1)  # a one-sample global batch: rank 1's share is empty
    state = {k: v.tolist() for k, v in w.trainer.model.state_dict().items()}
    with open(f"{out}/rank{comm.rank}.json", "w") as f:
        json.dump({"status": o.status, "evals": o.evals, "state": state}, f)
    shutdown_distributed()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_gloo_ranks_reach_the_target_with_identical_weights(tmp_path: Path) -> None:
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT, encoding="utf-8")
    base = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path)],
            env={**base, "RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in (0, 1)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["status"] == r1["status"] == "success"
    assert r0["evals"] == r1["evals"]
    assert r0["state"] == r1["state"]  # parameters and batch-norm statistics
    assert _logged(tmp_path / "log.txt")[keys.MODEL_BN_SPAN] == 32  # 64 / 2 ranks
    assert_compliant(tmp_path / "log.txt", "4.0.0")
