"""The CI data set: scikit-image photos with true face boxes, plus exact transforms of them.

Two bundled photos show a face: ``astronaut`` (Eileen Collins, frontal) and ``camera``
(the cameraman, three-quarter profile). Their face boxes below are MTCNN's FP32 detections
on the untouched photos, accepted as ground truth only after drawing them on the photos
and checking by eye that each box spans the face from hairline/brow to chin and cheek to
cheek. Every other sample is a deterministic flip, crop, rescale, photometric change or
mosaic of those photos, with the boxes moved by the same geometry; three photos without
faces (a cat, a coffee cup, a motorcycle wheel where MTCNN finds one false face) test false
positives. Nothing is downloaded: the photos ship inside scikit-image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from mlmeter.workloads.object_detection._coco import DetectionDataset, coco_gt

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels

# Face boxes on the original 512x512 photos (checked visually; see the module docstring).
ASTRONAUT_FACE: Box = (181.05, 62.16, 267.75, 172.05)
CAMERA_FACE: Box = (199.22, 118.93, 254.27, 192.27)


@dataclass(frozen=True)
class Sample:
    """A CI image and its true face boxes."""

    name: str
    image: np.ndarray  # uint8 HxWx3
    boxes: tuple[Box, ...]


@cache
def _photo(name: str) -> Sample:
    from skimage import data

    image = getattr(data, "stereo_motorcycle" if name == "motorcycle" else name)()
    if name == "motorcycle":
        image = image[0][:, 229:]  # the left view's front wheel, 500x512
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    faces = {"astronaut": (ASTRONAUT_FACE,), "camera": (CAMERA_FACE,)}.get(name, ())
    return Sample(name, np.ascontiguousarray(image[..., :3], dtype=np.uint8), faces)


def hflip(s: Sample) -> Sample:
    """Mirror left-right."""
    w = s.image.shape[1]
    boxes = tuple((w - x2, y1, w - x1, y2) for x1, y1, x2, y2 in s.boxes)
    return Sample(f"{s.name}-hflip", np.ascontiguousarray(s.image[:, ::-1]), boxes)


def crop(s: Sample, x0: int, y0: int, x1: int, y1: int) -> Sample:
    """Cut out ``[x0, x1) x [y0, y1)``; every face must lie inside it."""
    for b in s.boxes:
        if not (x0 <= b[0] and y0 <= b[1] and b[2] <= x1 and b[3] <= y1):
            raise ValueError(f"crop {(x0, y0, x1, y1)} cuts a face of {s.name}")
    boxes = tuple((a - x0, b - y0, c - x0, d - y0) for a, b, c, d in s.boxes)
    image = np.ascontiguousarray(s.image[y0:y1, x0:x1])
    return Sample(f"{s.name}-crop{x0}.{y0}", image, boxes)


def rescale(s: Sample, factor: float) -> Sample:
    """Resize by ``factor`` (bilinear); boxes scale with the exact size ratio."""
    from PIL import Image

    h, w = s.image.shape[:2]
    nw, nh = round(w * factor), round(h * factor)
    image = np.asarray(Image.fromarray(s.image).resize((nw, nh), Image.Resampling.BILINEAR))
    fx, fy = nw / w, nh / h
    boxes = tuple((a * fx, b * fy, c * fx, d * fy) for a, b, c, d in s.boxes)
    return Sample(f"{s.name}-x{factor:g}", np.ascontiguousarray(image), boxes)


def tone(s: Sample, gain: float, gamma: float) -> Sample:
    """Exposure and gamma change; the geometry is untouched."""
    x = (s.image.astype(np.float64) / 255.0) ** gamma * gain
    image = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    return Sample(f"{s.name}-tone{gain:g}.{gamma:g}", image, s.boxes)


def noise(s: Sample, sigma: float, seed: int) -> Sample:
    """Additive Gaussian noise from a seeded generator."""
    rng = np.random.default_rng(seed)
    x = s.image.astype(np.float64) + rng.normal(0.0, sigma, s.image.shape)
    image = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return Sample(f"{s.name}-noise{sigma:g}", image, s.boxes)


def mosaic(name: str, grid: list[list[Sample]]) -> Sample:
    """Tiles of equal size side by side (rows of columns); boxes move with their tile."""
    th, tw = grid[0][0].image.shape[:2]
    rows, boxes = [], []
    for r, row in enumerate(grid):
        for c, tile in enumerate(row):
            if tile.image.shape[:2] != (th, tw):
                raise ValueError("mosaic tiles must share one size")
            dx, dy = c * tw, r * th
            boxes += [(a + dx, b + dy, cc + dx, d + dy) for a, b, cc, d in tile.boxes]
        rows.append(np.concatenate([t.image for t in row], axis=1))
    return Sample(name, np.ascontiguousarray(np.concatenate(rows, axis=0)), tuple(boxes))


def _astronaut() -> Sample:
    return _photo("astronaut")


def _camera() -> Sample:
    return _photo("camera")


def _half(s: Sample) -> Sample:
    return rescale(s, 0.5)


RECIPES: tuple[Callable[[], Sample], ...] = (
    _astronaut,
    lambda: hflip(_astronaut()),
    lambda: crop(_astronaut(), 100, 20, 420, 340),
    lambda: rescale(_astronaut(), 0.75),
    lambda: _half(_astronaut()),
    lambda: tone(_astronaut(), 0.6, 1.4),
    lambda: noise(_astronaut(), 12.0, seed=1),
    _camera,
    lambda: hflip(_camera()),
    lambda: crop(_camera(), 96, 48, 416, 368),
    lambda: rescale(_camera(), 0.75),
    lambda: _half(_camera()),
    lambda: tone(_camera(), 1.2, 0.7),
    lambda: noise(_camera(), 12.0, seed=2),
    lambda: mosaic("pair", [[_half(_astronaut()), _half(_camera())]]),
    lambda: mosaic(
        "four",
        [
            [_half(_astronaut()), hflip(_half(_camera()))],
            [hflip(_half(_astronaut())), _half(_camera())],
        ],
    ),
    lambda: _photo("chelsea"),
    lambda: _photo("coffee"),
    lambda: _photo("motorcycle"),
)


def ci_sample(index: int) -> Sample:
    """CI sample ``index`` (built on demand; the photos are cached)."""
    return RECIPES[index]()


@cache
def ci_dataset() -> DetectionDataset:
    """The CI samples as a COCO-format data set (category 1, ``face``), built once, in memory."""
    samples = [recipe() for recipe in RECIPES]
    images = [
        {
            "id": i + 1,
            "file_name": f"{s.name}.png",
            "height": s.image.shape[0],
            "width": s.image.shape[1],
        }
        for i, s in enumerate(samples)
    ]
    boxes = {
        i + 1: [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in s.boxes]
        for i, s in enumerate(samples)
    }
    gt = coco_gt(images, boxes, {"id": 1, "name": "face"})
    return DetectionDataset("ci-faces", gt, 1, lambda i: samples[i].image)
