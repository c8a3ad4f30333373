"""Training harness overhead: the same training loop, same seeds, with and without mlmeter.

For each repeat, one seed, two runs of the same workload in this process, in rotated
order:

- ``bare``: the workload's trainer driven by a plain loop (load the data, train block by
  block at the benchmark's cadence, evaluate, stop on the target), timed with
  ``perf_counter`` from just before ``load_data`` to just after the evaluation that
  meets the target;
- ``mlmeter``: ``run_training`` on the same workload and seed, time to train read from
  the log (``run_stop - run_start``), as the result summarizer reads it.

Both train the same model on the same samples in the same order (same seed), so both
converge at the same epoch (checked); the ratio of their times is the harness's
overhead. A second figure isolates the harness alone: ``run_training`` over a trainer
that does no work, per evaluation block (each logs ~5 lines: block, epoch, eval).

    python benchmarks/training_overhead.py                     # image-classification mnist, 3 pairs
    python benchmarks/training_overhead.py --config digits --repeat 9
    python benchmarks/training_overhead.py --workload synthetic --repeat 1   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.training import (
    BenchmarkSpec,
    LocalComm,
    Trainer,
    TrainingWorkload,
    TrainOptions,
    get_training_workload,
    run_training,
)

TARGET_RATIO = 1.01


@dataclass(frozen=True)
class Pair:
    seed: int
    bare_s: float
    harness_s: float
    bare_at: float | None
    harness_at: float | None

    @property
    def ratio(self) -> float:
        return self.harness_s / self.bare_s


def bare_run(workload: TrainingWorkload, opts: TrainOptions) -> tuple[float, float | None]:
    """Time to train with a plain loop: (seconds, progress at the target or None)."""
    spec = workload.spec_for(opts)
    workload.hyperparameters(opts)
    trainer = workload.build(opts, LocalComm())
    started = time.perf_counter()
    trainer.load_data()
    reached = _bare_loop(trainer, spec)
    return time.perf_counter() - started, reached


def _bare_loop(trainer: Trainer, spec: BenchmarkSpec) -> float | None:
    done = 0.0
    per_epoch = trainer.train_samples
    for at in spec.eval_points():
        if spec.progress == "samples":
            trainer.train(int(at) - int(done))
        elif float(done).is_integer() and float(at).is_integer():
            for _ in range(int(done), int(at)):
                trainer.train(per_epoch)
        else:
            trainer.train(round(at * per_epoch) - round(done * per_epoch))
        if spec.reached(trainer.evaluate()):
            return at
        done = at
    return None


def harness_run(
    workload: TrainingWorkload, opts: TrainOptions, folder: Path
) -> tuple[float, float | None]:
    """Time to train under ``run_training`` (from the log) and the progress at the target."""
    log = folder / f"result_{opts.seed}_{time.perf_counter_ns()}.txt"
    outcome = run_training(workload, opts, log)
    if outcome.time_to_train_s is None:
        raise RuntimeError(f"run with seed {opts.seed} has no time to train: {outcome.reason}")
    return outcome.time_to_train_s, outcome.reached_at


class _IdleTrainer:
    """A trainer that does no work: what is left is the harness."""

    train_samples = 1000
    eval_samples = 100

    def load_data(self) -> None:
        return None

    def train(self, samples: int) -> float:
        return 1.0

    def evaluate(self) -> float:
        return 0.0


class _Idle(TrainingWorkload):
    name = "idle"
    description = "no work"
    spec = BenchmarkSpec("resnet", "4.0.0", "epoch", target=1.0, eval_every=1, max_units=2000)

    def hyperparameters(self, opts: TrainOptions) -> dict[str, Any]:
        return {"global_batch_size": 1, "gradient_accumulation_steps": 1}

    def build(self, opts: TrainOptions, comm: Any) -> _IdleTrainer:
        return _IdleTrainer()


def harness_alone_us(folder: Path) -> float:
    """Microseconds of harness per evaluation block (one epoch + one eval, 5 log lines)."""
    started = time.perf_counter()
    outcome = run_training(_Idle(), TrainOptions(seed=1), folder / "idle.txt")
    elapsed = time.perf_counter() - started
    blocks = len(outcome.evals)
    return elapsed / blocks * 1e6


def measure(args: argparse.Namespace) -> tuple[list[Pair], float]:
    workload = get_training_workload(args.workload)
    pairs = []
    with tempfile.TemporaryDirectory(prefix="mlmeter-overhead-") as tmp:
        folder = Path(tmp)
        for r in range(args.repeat):
            opts = TrainOptions(seed=args.seed + r, threads=args.threads, config=args.config)
            order = ("bare", "mlmeter") if r % 2 == 0 else ("mlmeter", "bare")
            got: dict[str, tuple[float, float | None]] = {}
            for kind in order:
                if kind == "bare":
                    got[kind] = bare_run(workload, opts)
                else:
                    got[kind] = harness_run(workload, opts, folder)
            pair = Pair(
                opts.seed, got["bare"][0], got["mlmeter"][0], got["bare"][1], got["mlmeter"][1]
            )
            print(
                f"seed {pair.seed}: bare {pair.bare_s:.3f} s, mlmeter {pair.harness_s:.3f} s, "
                f"ratio {pair.ratio:.4f}, converged at {pair.bare_at} / {pair.harness_at}",
                flush=True,
            )
            pairs.append(pair)
        alone = harness_alone_us(folder)
    return pairs, alone


def report(args: argparse.Namespace, pairs: list[Pair], alone_us: float) -> dict[str, Any]:
    ratio = statistics.median(p.ratio for p in pairs)
    same = all(p.bare_at == p.harness_at for p in pairs)
    print()
    print(f"training overhead: {args.workload} ({args.config}), {len(pairs)} seed pairs, "
          f"{args.threads} thread(s), {platform.processor() or platform.machine()}")  # fmt: skip
    print(f"| {'metric':<44} | {'bare loop':>10} | {'mlmeter':>10} | {'ratio':>7} | target |")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 12}|{'-' * 9}|--------|")
    bare = statistics.median(p.bare_s for p in pairs)
    harness = statistics.median(p.harness_s for p in pairs)
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"| {'time to train, median (s)':<44} | {bare:>10.3f} | {harness:>10.3f} | "
          f"{ratio:>7.4f} | <= {TARGET_RATIO} {verdict} |")  # fmt: skip
    print(f"| {'same convergence point in every pair':<44} | {'':>10} | {'':>10} | "
          f"{'yes' if same else 'NO':>7} | yes |")  # fmt: skip
    print(f"| {'harness alone per eval block (us)':<44} | {'':>10} | {alone_us:>10.1f} | "
          f"{'':>7} | - |")  # fmt: skip
    blocks = statistics.median(p.harness_at or 0 for p in pairs) / _blocks_per_unit(args)
    share = alone_us * 1e-6 * blocks / bare
    verdict = "PASS" if 1 + share <= TARGET_RATIO else "FAIL"
    print(f"| {'harness alone x blocks / bare time':<44} | {'':>10} | {'':>10} | "
          f"{1 + share:>7.5f} | <= {TARGET_RATIO} {verdict} |")  # fmt: skip
    lo, hi = min(p.ratio for p in pairs), max(p.ratio for p in pairs)
    print(f"pair ratios range {lo:.4f}..{hi:.4f}: run-to-run noise of this machine")
    print("ratio = median over pairs of (mlmeter time / bare time), same seed in each pair")
    return {
        "workload": args.workload,
        "config": args.config,
        "threads": args.threads,
        "pairs": [p.__dict__ | {"ratio": p.ratio} for p in pairs],
        "median_ratio": ratio,
        "same_convergence": same,
        "harness_alone_us_per_block": alone_us,
        "harness_alone_share": share,
        "target": TARGET_RATIO,
        "pass": ratio <= TARGET_RATIO and same,
    }


def _blocks_per_unit(args: argparse.Namespace) -> float:
    """Evaluation blocks per progress unit (epochs or samples) of the workload's spec."""
    workload = get_training_workload(args.workload)
    spec = workload.spec_for(TrainOptions(config=args.config))
    return spec.eval_every


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", default="image-classification")
    p.add_argument("--config", default="default")
    p.add_argument("--repeat", type=int, default=3, help="seed pairs")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    pairs, alone = measure(args)
    result = report(args, pairs, alone)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["same_convergence"] else 1


if __name__ == "__main__":
    sys.exit(main())
