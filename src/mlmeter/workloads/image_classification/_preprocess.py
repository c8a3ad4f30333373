"""MLPerf's ResNet-50 preprocessing, in PIL and numpy.

The reference (``vision/classification_and_detection/python/dataset.py``,
``pre_process_vgg``) resizes the shorter side to 256 (224 / 87.5 %), keeping the
aspect ratio with integer truncation, takes the central 224 x 224 crop, and
normalises. The reference resizes with OpenCV's ``INTER_AREA``; PIL's antialiased
bilinear resize is the filter torchvision-trained models (and EfficientNet-Lite's
PyTorch port) were trained with, and is within rounding of it on downscaling.

Two normalisations: ImageNet mean/std (PyTorch-trained models, 1000 classes), and
MLPerf's TensorFlow one, mean subtraction only on 0-255 pixels, which its
``resnet50_v1.onnx`` (1001 classes, class 0 = background) expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SIZE = 224
SCALE = 0.875  # the crop keeps 87.5 % of the shorter side


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(pixel - mean) / std`` on 0-255 RGB pixels."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """HWC 0-255 float32 pixels -> normalised CHW float32."""
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))


# ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), times 255
IMAGENET = Normalization("ImageNet mean/std", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
MLPERF_TF = Normalization("MLPerf TF mean only", (123.68, 116.78, 103.94), (1.0, 1.0, 1.0))


def resized_size(width: int, height: int, size: int = SIZE) -> tuple[int, int]:
    """The (width, height) after scaling the shorter side to ``size / 0.875``."""
    short = int(size / SCALE)
    if height > width:
        return short, int(short * height / width)
    return int(short * width / height), short


def center_crop_box(width: int, height: int, size: int = SIZE) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) of the central ``size`` square."""
    left, top = int((width - size) / 2), int((height - size) / 2)
    return left, top, left + size, top + size


def preprocess(image: Any, norm: Normalization = IMAGENET, size: int = SIZE) -> np.ndarray:
    """A PIL image -> float32 CHW array: resize, centre crop, normalise."""
    from PIL import Image

    rgb = image.convert("RGB")
    width, height = rgb.size
    rgb = rgb.resize(resized_size(width, height, size), Image.Resampling.BILINEAR)
    width, height = rgb.size
    rgb = rgb.crop(center_crop_box(width, height, size))
    return norm.apply(np.asarray(rgb, dtype=np.float32))
