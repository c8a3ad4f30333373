"""``mlmeter run llm --endpoint URL``: an OpenAI-compatible server under MLPerf token latencies.

The QSL holds the request bodies (JSON, built when samples load, off the clock); the
SUT is the streaming ``OpenAIClientSUT``. After the run, ``LlmRun.after_run`` turns
the loadgen's record and the client's streams into ``llm_metrics.json`` and a text
block: TTFT, TPOT, ITL, tokens/s, goodput, token-count reconciliation and failures.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from mlmeter.errors import UsageError
from mlmeter.loadgen import SUT, TestResult
from mlmeter.logfmt import AccuracyEntry
from mlmeter.settings import Scenario
from mlmeter.stats.early_stopping import queries_needed_single_stream
from mlmeter.suts._client_workers import ProcessClientSUT
from mlmeter.suts._openai_client import ClientOptions, OpenAIClientSUT, Stream, request_body
from mlmeter.workloads._base import AccuracyResult, Prepared, Target, Workload, WorkloadOptions
from mlmeter.workloads._qsl import DatasetQSL
from mlmeter.workloads.llm import _report
from mlmeter.workloads.llm._calibrate import calibrate, ceiling_warning
from mlmeter.workloads.llm._metrics import Bounds
from mlmeter.workloads.llm._options import LlmOptions, discover_model, parse_options
from mlmeter.workloads.llm._prompts import PromptSet, generated_prompts, load_prompts
from mlmeter.workloads.llm._tokenizer import client_counter

MLPERF_TTFT_NS = 2_000_000_000  # llama2-70b Server: TTFT p99 <= 2 s
MLPERF_TPOT_NS = 200_000_000  # and TPOT p99 <= 200 ms
_ENDPOINT_FIX = (
    "give --endpoint URL, an OpenAI-compatible base URL such as http://127.0.0.1:8000/v1"
)


class RequestBodies:
    """The data set as the loadgen sees it: one JSON request body per prompt."""

    def __init__(self, prompts: PromptSet, opts: LlmOptions, model: str) -> None:
        self._prompts = prompts
        self._chat = opts.api == "chat"
        self._model = model
        self._max_tokens = opts.max_tokens

    @property
    def name(self) -> str:
        """The prompt set's name."""
        return self._prompts.name

    def __len__(self) -> int:
        return len(self._prompts)

    def get(self, index: int) -> bytes:
        """The request body of prompt ``index``."""
        p = self._prompts.prompts[index]
        prompt: str | list[dict[str, str]] = list(p.messages) if self._chat else p.text
        return request_body(prompt, self._model, self._max_tokens)

    def label(self, index: int) -> None:
        """No reference answers: accuracy is out of scope."""
        return None


class ClientSUT(SUT, Protocol):
    """The client SUTs (one thread, or worker processes) as ``LlmRun`` uses them."""

    def take_streams(self) -> list[Stream]:
        """The streams recorded since the last call."""
        ...

    def faults(self) -> Counter[str]:
        """Failed requests so far, by reason."""
        ...

    def close(self) -> None:
        """Stop the client."""
        ...


@dataclass
class LlmRun:
    """One prepared client: the SUT and what ``after_run`` needs to report."""

    sut: ClientSUT
    opts: LlmOptions
    endpoint: str
    model: str
    prompts: str
    calibration: dict[str, Any] | None = None
    reported: bool = False

    def after_run(self, result: TestResult, outdir: Path | None = None) -> _report.LlmReport:
        """Metrics of the run just ended; written to ``outdir/llm_metrics.json`` if given."""
        streams = self.sut.take_streams()[-_issued(result) :] if _issued(result) else []
        eff = result.effective
        bounds = Bounds(eff.server_ttft_latency_ns, eff.server_tpot_latency_ns)
        counter = client_counter(self.opts.tokenizer, self.model)
        about = {
            "endpoint": self.endpoint,
            "api": self.opts.api,
            "model": self.model,
            "prompts": self.prompts,
            "max_tokens": self.opts.max_tokens,
            "concurrency": self.opts.concurrency,
            "workers": self.opts.workers,
        }
        metrics = _report.build_metrics(result, streams, bounds, counter, about)
        problems = _report.problems_of(metrics)
        metrics["valid"], metrics["problems"] = not problems, problems
        if self.calibration is not None:
            metrics["calibration"] = self.calibration
            rate = metrics["throughput"]["requests_per_s"]
            metrics["warnings"] = [w for w in [ceiling_warning(self.calibration, rate)] if w]
        path = _report.write_metrics(outdir, metrics) if outdir is not None else None
        self.reported = True
        return _report.LlmReport(metrics, _report.render(metrics, problems), problems, path)

    def close(self) -> None:
        """Stop the client; warn about failures nobody reported (no ``after_run``)."""
        faults = self.sut.faults()
        self.sut.close()
        if faults and not self.reported:
            detail = ", ".join(f"{k}: {n}" for k, n in faults.most_common())
            print(f"llm: {sum(faults.values())} request(s) failed ({detail}): the run is INVALID",
                  file=sys.stderr)  # fmt: skip


def _issued(result: TestResult) -> int:
    return result.record.samples_issued if result.record is not None else 0


class LlmPrepared(Prepared):
    """``Prepared`` plus the hook that reports the LLM metrics after the run."""

    def __init__(self, qsl: DatasetQSL, run: LlmRun) -> None:
        super().__init__(qsl, run.sut, _answered_scorer, _ANSWERED, closers=[run.close])
        self.run = run
        self.after_run: Callable[[TestResult, Path | None], _report.LlmReport] = run.after_run


_ANSWERED = Target("answered", 1.0, fraction=1.0)


def _answered_scorer(entries: Sequence[AccuracyEntry]) -> AccuracyResult:
    """Accuracy mode only checks that every prompt got a non-empty answer (no ROUGE)."""
    answered = sum(1 for e in entries if e.data)
    value = answered / len(entries) if entries else 0.0
    return AccuracyResult("answered", value, _ANSWERED, len(entries))


class LlmWorkload(Workload):
    """Any OpenAI-compatible streaming endpoint, under MLPerf token latencies."""

    name: ClassVar[str] = "llm"
    task: ClassVar[str] = "LLM serving over HTTP (OpenAI-compatible, streaming)"
    model: ClassVar[str] = "the endpoint's (--endpoint)"
    dataset: ClassVar[str] = "OpenOrca/ShareGPT JSONL (--data-dir) or a generated CI set"
    mlperf_model: ClassVar[str] = "llama2-70b"
    submission_benchmark: ClassVar[str] = "llama2-70b-99"
    metric: ClassVar[str] = "goodput (TTFT and TPOT within bounds)"
    backends: ClassVar[tuple[str, ...]] = ("openai",)
    needs_endpoint: ClassVar[bool] = True

    def __init__(self) -> None:
        self._opts = LlmOptions()

    def defaults(self, scenario: Scenario) -> dict[str, Any]:
        """Short token-latency runs with MLPerf's llama2-70b Server bounds.

        Sized so that Server and SingleStream runs against ``mlmeter serve fake-llm``'s
        defaults are VALID: they issue enough queries for early stopping to pass with one
        query over its bound (662 at Server's p99, 64 at SingleStream's p90). A slower
        server needs a lower ``target_qps`` (``--set``), as MLPerf's user.conf does; an
        Offline run needs a server that takes ``min_duration`` to answer its samples.
        """
        early = {Scenario.SERVER: 0.99, Scenario.SINGLE_STREAM: 0.90}.get(scenario)
        return {
            "use_token_latencies": True,
            "server_ttft_latency": MLPERF_TTFT_NS,
            "server_tpot_latency": MLPERF_TPOT_NS,
            "min_duration_ms": 3000,
            "min_query_count": queries_needed_single_stream(early) if early else 32,
            "server_target_qps": 40.0,
            "single_stream_expected_latency_ns": 20_000_000,
            "offline_expected_qps": 100.0,
            "response_timeout_ms": int(self._opts.timeout_s * 1000) + 30_000,
        }

    def prepare(self, opts: WorkloadOptions) -> Prepared:
        """Check the endpoint, load the prompts, start the client."""
        endpoint = _endpoint(opts.extra.get("endpoint"))
        self._opts = llm = parse_options(opts.extra)
        prompts = load_prompts(opts.data_dir) if opts.data_dir else generated_prompts()
        model = llm.model or discover_model(endpoint)
        qsl = DatasetQSL(RequestBodies(prompts, llm, model), opts.performance_samples)
        client = ClientOptions(endpoint, llm.api, llm.timeout_s, llm.concurrency)
        calibration = calibrate(llm.workers, llm.concurrency) if llm.calibrate else None
        sut: ClientSUT = (
            OpenAIClientSUT(client, qsl.input)
            if llm.workers == 1
            else ProcessClientSUT(client, qsl.input, llm.workers)
        )
        return LlmPrepared(qsl, LlmRun(sut, llm, endpoint, model, prompts.name, calibration))


def _endpoint(value: Any) -> str:
    if not value:
        raise UsageError(f"the llm workload needs an endpoint: {_ENDPOINT_FIX}")
    url = str(value)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint {url}: not an http(s) URL: {_ENDPOINT_FIX}")
    return url.rstrip("/")
