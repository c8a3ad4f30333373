"""Image classification (MLPerf ``resnet50``): ImageNet val, top-1 accuracy.

EfficientNet-Lite0 with its ImageNet weights by default, or a ResNet-50 file via
``--model-path``; the ImageNet 2012 val set in MLPerf's layout via ``--data-dir``,
or 48 labelled samples from packaged photos. See docs/workloads/image-classification.md.
Nothing heavy (torch, onnxruntime) is imported until a model is loaded.
"""

from mlmeter.workloads.image_classification._imagenet import ImageNetVal, read_val_map
from mlmeter.workloads.image_classification._photos import PackagedPhotos
from mlmeter.workloads.image_classification._preprocess import preprocess
from mlmeter.workloads.image_classification._workload import (
    CI_REFERENCE,
    ImageClassification,
    ci_settings,
    top1_scorer,
)

__all__ = [
    "CI_REFERENCE",
    "ImageClassification",
    "ImageNetVal",
    "PackagedPhotos",
    "ci_settings",
    "preprocess",
    "read_val_map",
    "top1_scorer",
]
