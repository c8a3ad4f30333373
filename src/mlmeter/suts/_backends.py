"""Model backends: PyTorch (eager) and ONNX Runtime, behind one call ``f(batch) -> outputs``.

Heavy imports (torch, onnxruntime) happen only when a backend is built. ONNX models
are exported from the PyTorch model once and cached by a key the workload gives.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError

ArrayFn = Callable[[np.ndarray], Any]
BACKENDS = ("onnxruntime", "torch")


def cache_dir() -> Path:
    """Where exported models are kept (``MLMETER_CACHE`` or ``~/.cache/mlmeter``)."""
    root = os.environ.get("MLMETER_CACHE") or Path.home() / ".cache" / "mlmeter"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_backend(name: str, allowed: tuple[str, ...] = BACKENDS) -> str:
    """Validate a ``--backend`` value."""
    if name not in allowed:
        raise UsageError(f"unknown backend {name!r}: use --backend {' or '.join(allowed)}")
    return name


def torch_runner(model: Any, *, device: str = "cpu", threads: int = 1) -> ArrayFn:
    """Run ``model`` in inference mode on numpy batches; returns numpy (or a tuple)."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible; use --device cpu")
    torch.set_num_threads(max(threads, 1))
    model = model.to(device).eval()

    def run(batch: np.ndarray) -> Any:
        with torch.inference_mode():
            out = model(torch.from_numpy(np.ascontiguousarray(batch)).to(device))
        if isinstance(out, tuple | list):
            return tuple(o.detach().cpu().numpy() for o in out)
        return out.detach().cpu().numpy()

    return run


def onnx_session(path: Path, *, device: str = "cpu", threads: int = 1) -> Any:
    """An ONNX Runtime session with ``threads`` intra-op threads; one-line errors."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(threads, 1)
    opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise UsageError(
                "--device cuda: this onnxruntime has no CUDA provider; "
                "install onnxruntime-gpu or use --device cpu"
            )
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--model-path {path}: ONNX Runtime cannot load it ({first})") from None


def onnx_runner(path: Path, *, device: str = "cpu", threads: int = 1) -> ArrayFn:
    """Run an ONNX model with ONNX Runtime on numpy batches (first input, all outputs)."""
    session = onnx_session(path, device=device, threads=threads)
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> Any:
        outs = session.run(None, {name: np.ascontiguousarray(batch)})
        return outs[0] if len(outs) == 1 else tuple(outs)

    return run


def export_onnx(model: Any, example: np.ndarray, key: str) -> Path:
    """Export ``model`` (PyTorch) to ONNX once, with a dynamic batch axis; cached by key."""
    import torch

    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = cache_dir() / "onnx" / f"{digest}.onnx"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    model = model.eval()
    # the legacy exporter warns (deprecation, tracer notes): not the user's problem
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.from_numpy(example),),
            str(tmp),
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    os.replace(tmp, path)
    return path
