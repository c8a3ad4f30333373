"""A user's BERT QA model as an ONNX file: three named inputs, start/end logits out.

Accepted input names: ``input_ids``; ``attention_mask`` or ``input_mask``;
``token_type_ids`` or ``segment_ids`` (HF exports and MLPerf's own ONNX BERT).
Outputs: two tensors (start, end logits) or one (batch, 384, 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.suts import onnx_session
from mlmeter.workloads.language._features import MAX_SEQ

ArrayFn = Callable[[np.ndarray], Any]
_SLOTS = {
    "input_ids": 0,
    "attention_mask": 1,
    "input_mask": 1,
    "token_type_ids": 2,
    "segment_ids": 2,
}
_DTYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def onnx_qa(path: Path) -> Callable[[str, int], ArrayFn]:
    """Check ``path``'s inputs and outputs; return a (device, threads) -> runner factory."""
    feeds = _feeds(_session(path, "cpu", 1), path)

    def make(device: str, threads: int) -> ArrayFn:
        session = _session(path, device, threads)

        def run(batch: np.ndarray) -> Any:
            inputs = {name: batch[:, slot].astype(dt) for name, slot, dt in feeds}
            outs = session.run(None, inputs)
            return outs[0] if len(outs) == 1 else np.stack(outs[:2], axis=-1)

        return run

    return make


def _session(path: Path, device: str, threads: int) -> Any:
    return onnx_session(path, device=device, threads=threads)


def _feeds(session: Any, path: Path) -> list[tuple[str, int, Any]]:
    """(input name, slot in the (3, 384) sample, dtype) of each model input."""
    feeds = []
    for arg in session.get_inputs():
        if arg.name not in _SLOTS or arg.type not in _DTYPES:
            raise UsageError(
                f"--model-path {path}: unexpected input {arg.name} ({arg.type}); a BERT QA "
                "ONNX needs int input_ids, attention_mask and token_type_ids"
            )
        seq = arg.shape[1] if len(arg.shape) == 2 else None
        if len(arg.shape) != 2 or (isinstance(seq, int) and seq != MAX_SEQ):
            raise UsageError(
                f"--model-path {path}: input {arg.name} has shape {arg.shape}; "
                f"export it as (batch, {MAX_SEQ})"
            )
        feeds.append((arg.name, _SLOTS[arg.name], _DTYPES[arg.type]))
    if not {0, 1} <= {slot for _, slot, _ in feeds}:
        raise UsageError(f"--model-path {path}: needs input_ids and attention_mask inputs")
    _check_outputs(session, path)
    return feeds


def _check_outputs(session: Any, path: Path) -> None:
    outs = session.get_outputs()
    if len(outs) == 1 and len(outs[0].shape) == 3 and outs[0].shape[2] == 2:
        return
    if len(outs) >= 2 and all(len(o.shape) == 2 for o in outs[:2]):
        return
    shapes = [o.shape for o in outs]
    raise UsageError(
        f"--model-path {path}: outputs {shapes} are not start/end logits; export "
        "start_logits and end_logits of shape (batch, 384)"
    )
