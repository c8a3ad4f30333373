"""LLM serving: any OpenAI-compatible streaming endpoint under MLPerf token latencies.

``mlmeter run llm --endpoint http://127.0.0.1:8000/v1 --scenario Server`` sends the
prompts (a JSONL file, or a generated CI set) as streaming requests and reports TTFT,
TPOT, inter-token latency, tokens/s, goodput and token-count reconciliation.
"""

from mlmeter.workloads.llm._prompts import Prompt, PromptSet, generated_prompts, load_prompts
from mlmeter.workloads.llm._report import LlmReport
from mlmeter.workloads.llm._workload import LlmPrepared, LlmRun, LlmWorkload

__all__ = [
    "LlmPrepared",
    "LlmReport",
    "LlmRun",
    "LlmWorkload",
    "Prompt",
    "PromptSet",
    "generated_prompts",
    "load_prompts",
]
