"""Systems under test shipped with mlmeter: test doubles, the batching server, backends."""

from mlmeter.suts._backends import (
    BACKENDS,
    cache_dir,
    check_backend,
    export_onnx,
    onnx_runner,
    onnx_session,
    torch_runner,
)
from mlmeter.suts._batching import BatchingSUT, Runner
from mlmeter.suts._fixed import FixedLatencySUT
from mlmeter.suts._http_client import HttpSUT, SampleFailure, probe
from mlmeter.suts._http_server import InferenceServer
from mlmeter.suts._null import NullSUT
from mlmeter.suts._pool import WorkerPoolSUT
from mlmeter.suts._qsl import NullQSL
from mlmeter.suts._recording import RecordingQSL, RecordingSUT

__all__ = [
    "BACKENDS",
    "BatchingSUT",
    "FixedLatencySUT",
    "HttpSUT",
    "InferenceServer",
    "NullQSL",
    "NullSUT",
    "RecordingQSL",
    "RecordingSUT",
    "Runner",
    "SampleFailure",
    "WorkerPoolSUT",
    "cache_dir",
    "check_backend",
    "export_onnx",
    "onnx_runner",
    "onnx_session",
    "probe",
    "torch_runner",
]
