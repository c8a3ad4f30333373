"""A pure-torch stand-in for the two torchvision functions facenet-pytorch imports.

facenet-pytorch's MTCNN imports ``torchvision.ops.boxes.batched_nms`` and
``torchvision.transforms.functional.to_tensor`` at module level, and the PyPI torchvision
does not import beside torch 2.13. ``stand_in()`` puts small modules with those names in
``sys.modules`` only while facenet-pytorch is being imported, then takes them out again, so
nothing else in the process ever sees a fake torchvision.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

_MODULES = (
    "torchvision",
    "torchvision.ops",
    "torchvision.ops.boxes",
    "torchvision.transforms",
    "torchvision.transforms.functional",
)


def box_iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """IoU of one ``[x1, y1, x2, y2]`` box against each row of ``boxes``."""
    w = (torch.minimum(box[2], boxes[:, 2]) - torch.maximum(box[0], boxes[:, 0])).clamp(min=0)
    h = (torch.minimum(box[3], boxes[:, 3]) - torch.maximum(box[1], boxes[:, 1])).clamp(min=0)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + areas - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """torchvision's ``nms``: kept indices by decreasing score; drops IoU > threshold."""
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = boxes[order]
    alive = torch.ones(len(order), dtype=torch.bool)
    keep: list[int] = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(i)
        alive[i + 1 :] &= ~(box_iou(boxes[i], boxes[i + 1 :]) > iou_threshold)  # NaN keeps
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """torchvision's ``batched_nms``: NMS within each ``idxs`` group (offset trick)."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def to_tensor(pic: Any) -> torch.Tensor:
    """torchvision's ``to_tensor`` for HxWxC arrays: CxHxW float, uint8 scaled to [0, 1]."""
    import numpy as np

    array = np.asarray(pic)
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    if tensor.dtype == torch.uint8:
        return tensor.float().div(255)
    return tensor


def _modules() -> dict[str, types.ModuleType]:
    mods = {name: types.ModuleType(name) for name in _MODULES}
    boxes = mods["torchvision.ops.boxes"]
    boxes.nms = nms  # type: ignore[attr-defined]
    boxes.batched_nms = batched_nms  # type: ignore[attr-defined]
    mods["torchvision.ops"].boxes = boxes  # type: ignore[attr-defined]
    mods["torchvision.ops"].nms = nms  # type: ignore[attr-defined]
    mods["torchvision.ops"].batched_nms = batched_nms  # type: ignore[attr-defined]
    functional = mods["torchvision.transforms.functional"]
    functional.to_tensor = to_tensor  # type: ignore[attr-defined]
    mods["torchvision.transforms"].functional = functional  # type: ignore[attr-defined]
    mods["torchvision"].ops = mods["torchvision.ops"]  # type: ignore[attr-defined]
    mods["torchvision"].transforms = mods["torchvision.transforms"]  # type: ignore[attr-defined]
    return mods


@contextmanager
def stand_in() -> Iterator[None]:
    """Within the block, ``import torchvision...`` finds the stand-in; restored afterwards."""
    saved = {name: sys.modules.get(name) for name in _MODULES}
    sys.modules.update(_modules())
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
