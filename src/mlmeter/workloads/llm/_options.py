"""The llm workload's own options (``KEY=VALUE``), besides ``--endpoint`` and ``--data-dir``.

They come from ``WorkloadOptions.extra``: either as keys of ``extra`` itself (the Python
API) or as ``extra["options"]``, a list of ``"KEY=VALUE"`` strings (the command line).
The TTFT and TPOT bounds are TestSettings (``--set ttft_latency=...``), not options here.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.workloads.llm._tokenizer import KINDS

_APIS = ("chat", "completions")


@dataclass(frozen=True)
class LlmOptions:
    """What to send and how the client behaves."""

    api: str = "chat"  # chat: /chat/completions with messages; completions: /completions
    model: str = ""  # the request's "model"; "": the first of GET /models
    max_tokens: int = 64
    timeout_s: float = 60.0  # per request
    concurrency: int = 0  # most requests in flight (0: no limit); with Offline: fixed concurrency
    tokenizer: str = "auto"  # auto, smollm2 or chunks: the client-side token count
    workers: int = 1  # client processes (1: a thread in this process)
    calibrate: int = 1  # 1: measure the client's ceiling against an echo server first

    def __post_init__(self) -> None:
        if self.api not in _APIS:
            raise UsageError(f"api={self.api}: use api=chat or api=completions")
        if self.tokenizer not in KINDS:
            raise UsageError(f"tokenizer={self.tokenizer}: use one of {', '.join(KINDS)}")
        if self.max_tokens < 1 or self.timeout_s <= 0 or self.concurrency < 0 or self.workers < 1:
            raise UsageError(
                "max_tokens must be >= 1, timeout_s > 0, concurrency >= 0 and workers >= 1"
            )


def parse_options(extra: dict[str, Any]) -> LlmOptions:
    """``LlmOptions`` from ``extra`` (see the module docstring); unknown keys are refused."""
    names = {f.name: f.type for f in dataclasses.fields(LlmOptions)}
    raw: dict[str, Any] = {k: v for k, v in extra.items() if k in names}
    for item in extra.get("options") or []:
        key, sep, value = str(item).partition("=")
        if not sep or key.strip() not in names:
            raise UsageError(
                f"llm option {item!r}: use KEY=VALUE with KEY one of {', '.join(names)}"
            )
        raw[key.strip()] = value.strip()
    typed = {k: _convert(k, v, names[k]) for k, v in raw.items()}
    return LlmOptions(**typed)


def _convert(key: str, value: Any, kind: Any) -> Any:
    convert = {"int": int, "float": float}.get(str(kind), str)
    try:
        return convert(value)
    except ValueError:
        raise UsageError(f"llm option {key}={value!r}: expected a {kind}") from None


def discover_model(endpoint: str, timeout_s: float = 2.0) -> str:
    """The first model id of ``GET {endpoint}/models``, or "default" if there is none."""
    url = endpoint.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            data = json.loads(resp.read())
        return str(data["data"][0]["id"])
    except urllib.error.HTTPError:  # it answers, without a model list: fine
        return "default"
    except urllib.error.URLError as exc:  # nothing answers there: say so before the run
        raise UsageError(
            f"LLM endpoint {endpoint} is not reachable ({exc.reason}): start the server "
            "(e.g. mlmeter serve llm) or fix --endpoint"
        ) from None
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return "default"
