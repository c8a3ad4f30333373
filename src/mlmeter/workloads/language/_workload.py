"""``Language``: MLPerf's BERT question answering on SQuAD v1.1 (F1), through the loadgen."""

from __future__ import annotations

from typing import Any, ClassVar

from mlmeter.errors import UsageError
from mlmeter.settings import Scenario
from mlmeter.suts._backends import check_backend
from mlmeter.workloads._base import (
    DataSide,
    Prepared,
    Served,
    Target,
    Workload,
    WorkloadOptions,
)
from mlmeter.workloads._qsl import DatasetQSL
from mlmeter.workloads.language import _model
from mlmeter.workloads.language._cidata import ci_squad
from mlmeter.workloads.language._features import SquadFeatures
from mlmeter.workloads.language._reference import (
    CI_FP32_ANSWERS,
    CI_REFERENCE_F1,
    MLPERF_BERT_F1,
)
from mlmeter.workloads.language._scoring import make_scorer
from mlmeter.workloads.language._squad import Example, ground_truths, parse_squad, read_squad

CI_NAME = "SQuAD v1.1 format, mlmeter CI data"
STANDIN_MODEL = "MiniLM-L6 stand-in"
STANDIN_LABELS = "stand-in FP32 answers (self-agreement, not SQuAD accuracy)"

# CI-sized runs, sized for ONNX Runtime on one CPU thread (~70 ms per 384-token query).
_DEFAULTS: dict[Scenario, dict[str, Any]] = {
    Scenario.SINGLE_STREAM: {
        "min_duration_ms": 1000,
        "min_query_count": 64,  # early stopping at p90 needs 64 queries
        "single_stream_expected_latency_ns": 100_000_000,
    },
    Scenario.MULTI_STREAM: {
        "min_duration_ms": 1000,
        "min_query_count": 16,
        "multi_stream_expected_latency_ns": 800_000_000,
    },
    Scenario.SERVER: {
        "min_duration_ms": 2000,
        "min_query_count": 16,
        "server_target_qps": 4.0,
        "server_target_latency_ns": 1_000_000_000,
    },
    Scenario.OFFLINE: {
        "min_duration_ms": 1000,
        "min_query_count": 1,
        "offline_expected_qps": 30.0,  # above the real rate, so the run lasts >= 1 s
    },
}


class Language(Workload):
    """BERT SQuAD v1.1 question answering; CI runs MiniLM on generated SQuAD-format data."""

    name: ClassVar[str] = "language"
    task: ClassVar[str] = "question answering"
    model: ClassVar[str] = "MiniLM-L6 + seeded QA head (BERT stand-in), or --model-path"
    dataset: ClassVar[str] = "SQuAD v1.1 dev (CI: generated SQuAD-format)"
    mlperf_model: ClassVar[str] = "bert"
    submission_benchmark: ClassVar[str] = "bert-99"  # 99 % of the reference F1
    metric: ClassVar[str] = "F1"
    backends: ClassVar[tuple[str, ...]] = ("onnxruntime", "torch")

    def defaults(self, scenario: Scenario) -> dict[str, Any]:
        """Short CI settings for ``scenario``."""
        return dict(_DEFAULTS[scenario])

    def prepare(self, opts: WorkloadOptions) -> Prepared:
        """Features of the questions, the QA model behind a batching SUT, the F1 scorer."""
        backend = check_backend(opts.backend, self.backends)
        _check_counts(opts)
        qa = _model.load(opts.model_path, backend)
        data = self.prepare_data(opts, qa)
        runners = [qa.runner(opts.device, opts.threads) for _ in range(opts.instances)]
        return self._batched(data, runners, opts, f"language-{backend}")

    def prepare_data(self, opts: WorkloadOptions, qa: _model.QAModel | None = None) -> DataSide:
        """The features, QSL and F1 scorer; for ``mlmeter run --sut`` only the tokenizer
        is loaded (a ``--model-path`` model still is, for the tokenizer beside it)."""
        backend = check_backend(opts.backend, self.backends)
        _check_counts(opts)
        if qa is None:
            qa = (
                _tokenizer_only()
                if opts.model_path is None
                else _model.load(opts.model_path, backend)
            )
        examples, name = _examples(opts)
        data = SquadFeatures(name, examples, qa.tokenizer)
        target, truths, labels = _labels(examples, standin_ci=qa.standin and not opts.data_dir)
        qsl = DatasetQSL(data, opts.performance_samples)
        scorer = make_scorer(data, truths, qa.to_tokens, qa.lower, target, labels)
        return DataSide(qsl, qsl.input, scorer, target)

    def serving(self, opts: WorkloadOptions) -> Served:
        """One QA runner per instance, for ``mlmeter serve`` (no data set is read)."""
        backend = check_backend(opts.backend, self.backends)
        _check_counts(opts)
        qa = _model.load(opts.model_path, backend)
        runners = [qa.runner(opts.device, opts.threads) for _ in range(opts.instances)]
        name = STANDIN_MODEL if opts.model_path is None else opts.model_path.name
        return Served(runners, name)


def _tokenizer_only() -> _model.QAModel:
    """The stand-in's tokenizer, without its model (the data side of a network run)."""

    def no_model(device: str, threads: int) -> _model.ArrayFn:
        raise RuntimeError("the data side of a network run has no model")

    return _model.QAModel(_model.packaged_tokenizer(), no_model, True)


def _check_counts(opts: WorkloadOptions) -> None:
    if opts.batch_size < 1 or opts.instances < 1 or opts.threads < 1 or opts.max_wait_ms < 0:
        raise UsageError("use --batch-size, --instances and --threads >= 1 and --max-wait-ms >= 0")


def _examples(opts: WorkloadOptions) -> tuple[list[Example], str]:
    if opts.data_dir is None:
        return parse_squad(ci_squad(), CI_NAME), CI_NAME
    examples = read_squad(opts.data_dir)
    if not examples:
        raise UsageError(f"--data-dir {opts.data_dir}: dev-v1.1.json holds no questions")
    return examples, f"SQuAD v1.1 ({opts.data_dir})"


def _labels(
    examples: list[Example], *, standin_ci: bool
) -> tuple[Target, dict[str, tuple[str, ...]], str]:
    """The target, the ground truth by question id, and what the ground truth is."""
    if standin_ci:
        truths: dict[str, tuple[str, ...]] = {
            ex.qid: (CI_FP32_ANSWERS.get(ex.qid, ""),) for ex in examples
        }
        return Target("F1", CI_REFERENCE_F1), truths, STANDIN_LABELS
    return Target("F1", MLPERF_BERT_F1), dict(ground_truths(examples)), "SQuAD answers"


def fp32_ci_answers(batch_size: int = 8) -> dict[str, str]:
    """Re-measure ``CI_FP32_ANSWERS``: the FP32 PyTorch stand-in's answers on the CI data."""
    import numpy as np

    from mlmeter.workloads.language._scoring import predictions

    qa = _model.load(None, "torch")
    data = SquadFeatures(CI_NAME, parse_squad(ci_squad(), CI_NAME), qa.tokenizer)
    run = qa.runner("cpu", 1)
    logits: dict[int, np.ndarray] = {}
    for start in range(0, len(data), batch_size):
        indices = range(start, min(start + batch_size, len(data)))
        outs = run([data.get(i) for i in indices])
        for i, out in zip(indices, outs, strict=True):
            logits[i] = np.frombuffer(out, dtype=np.float32).reshape(-1, 2)
    return predictions(data, logits, qa.to_tokens, qa.lower)
