"""``object-detection``: MTCNN face detection scored by COCO mAP (stands in for RetinaNet)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

from mlmeter.errors import UsageError
from mlmeter.logfmt import AccuracyEntry
from mlmeter.settings import Scenario
from mlmeter.workloads._base import (
    AccuracyResult,
    DataSide,
    Prepared,
    Served,
    Target,
    Workload,
    WorkloadOptions,
)
from mlmeter.workloads._qsl import DatasetQSL
from mlmeter.workloads.object_detection._coco import DetectionDataset, coco_map, load_coco

# COCO mAP@[.5:.95] of the FP32 model (torch, CPU) on the 19-image CI set, measured once.
REFERENCE_MAP = 0.864715
# Measured on a 2-core CPU, 1 thread: 73 ms per CI image on average (23-209 ms).
_MEAN_LATENCY_NS = 75_000_000
# SingleStream pre-generates 2 x min_duration / expected latency queries: a low guess keeps
# a faster machine from running out of queries and costs nothing (a run stops once both
# min_duration and min_query_count are met).
_SS_EXPECTED_LATENCY_NS = 10_000_000


def _backend(name: str) -> str:
    """``torch``; the CLI's default ``onnxruntime`` maps to it (MTCNN runs on PyTorch only)."""
    if name in ("torch", "onnxruntime"):
        return "torch"
    raise UsageError(
        f"unknown backend {name!r}: object-detection runs on PyTorch only; use --backend torch"
    )


def _check_sizes(opts: WorkloadOptions) -> None:
    for flag, value in (
        ("--batch-size", opts.batch_size),
        ("--instances", opts.instances),
        ("--threads", opts.threads),
    ):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1 (got {value})")
    if opts.max_wait_ms < 0:
        raise UsageError(f"--max-wait-ms must be >= 0 (got {opts.max_wait_ms})")


def score(
    data: DetectionDataset, target: Target, entries: Sequence[AccuracyEntry]
) -> AccuracyResult:
    """COCO mAP of the accuracy-log responses against the data set's face boxes."""
    from mlmeter.workloads.object_detection._model import decode

    detections = {data.image_id(e.qsl_idx): decode(e.data) for e in entries}
    stats = coco_map(data.gt, data.category_id, detections)
    details = {
        "AP50": round(stats["AP50"], 6),
        "AP75": round(stats["AP75"], 6),
        "detections": sum(len(d) for d in detections.values()),
        "data": data.name,
    }
    return AccuracyResult("mAP", stats["mAP"], target, len(detections), details)


class ObjectDetection(Workload):
    """MTCNN (P/R/O-Net) finds faces; COCO mAP@[.5:.95] against true face boxes."""

    name: ClassVar[str] = "object-detection"
    task: ClassVar[str] = "object detection"
    model: ClassVar[str] = "MTCNN face detector (facenet-pytorch 2.6.0)"
    dataset: ClassVar[str] = "scikit-image faces, COCO format (CI); COCO-format --data-dir"
    mlperf_model: ClassVar[str] = "retinanet"
    metric: ClassVar[str] = "mAP"
    backends: ClassVar[tuple[str, ...]] = ("torch",)

    def defaults(self, scenario: Scenario) -> dict[str, Any]:
        """Short CI runs sized to about 75 ms per image on one CPU thread."""
        lat = _MEAN_LATENCY_NS
        return {
            "min_duration_ms": 1000,
            "min_query_count": {
                Scenario.SINGLE_STREAM: 64,
                Scenario.MULTI_STREAM: 8,
                Scenario.SERVER: 64,
                Scenario.OFFLINE: 1,
            }[scenario],
            "single_stream_expected_latency_ns": _SS_EXPECTED_LATENCY_NS,
            "multi_stream_expected_latency_ns": 8 * lat,
            "server_target_qps": 0.5e9 / lat,
            "server_target_latency_ns": 6 * lat,
            "offline_expected_qps": 2e9 / lat,  # 2x the real rate: the one query lasts ~2 s
        }

    def prepare(self, opts: WorkloadOptions) -> Prepared:
        """Load the data set (CI unless --data-dir), one MTCNN per instance, the scorer."""
        return self._prepare_served(opts, f"{self.name}-torch")

    def prepare_data(self, opts: WorkloadOptions) -> DataSide:
        """The images, their QSL and the mAP scorer, with no model (``mlmeter run --sut``)."""
        from mlmeter.workloads.object_detection._ci_data import ci_dataset

        _backend(opts.backend)
        _check_sizes(opts)
        data = ci_dataset() if opts.data_dir is None else load_coco(opts.data_dir)
        qsl = DatasetQSL(data, opts.performance_samples)
        target = Target("mAP", REFERENCE_MAP, fraction=0.99)
        return DataSide(qsl, qsl.input, partial(score, data, target), target)

    def serving(self, opts: WorkloadOptions) -> Served:
        """One MTCNN runner per instance, for ``mlmeter serve`` (no data set is read)."""
        from mlmeter.workloads.object_detection._model import load_mtcnn, mtcnn_runner

        _backend(opts.backend)
        _check_sizes(opts)
        runners = [
            mtcnn_runner(load_mtcnn(opts.model_path, opts.device), opts.threads)
            for _ in range(opts.instances)
        ]
        name = "MTCNN" if opts.model_path is None else f"MTCNN ({opts.model_path.name})"
        return Served(runners, name)
