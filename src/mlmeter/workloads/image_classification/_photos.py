"""The CI data set: labelled photos that ship with scikit-image and scikit-learn.

Only photos whose true ImageNet-1k class is unambiguous are used, each with its
class from the ImageNet synset list (not the model's prediction):

- ``skimage.data.chelsea()``: a spotted tabby's face, 285 "Egyptian cat";
- ``skimage.data.coffee()``: an espresso in a cup on a saucer, 967 "espresso";
- sklearn ``china.jpg``: the Tower of Buddhist Incense in Beijing's Summer
  Palace, 698 "palace".

Left out, because ImageNet has no class for them or two equally right ones:
``astronaut`` (no space-suit class), ``rocket`` (657 "missile" and 744
"projectile, missile" both fit), ``stereo_motorcycle`` (no motorcycle class, only
moped and scooter), sklearn ``flower.jpg`` (a dahlia; ImageNet has only daisy),
and the grey-level or microscope images.

Each photo gives 16 samples: 8 fixed crops that all keep the object whole (boxes
as fractions of the width and height, chosen by eye), each as is and mirrored.
Every sample then goes through MLPerf's preprocessing, like a real val image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlmeter.workloads.image_classification._preprocess import IMAGENET, Normalization, preprocess

Box = tuple[float, float, float, float]  # left, top, right, bottom, fractions of the size


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        loader: Callable[[], Any] = getattr(data, name)
        return np.asarray(loader())

    return load


def _china() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return np.asarray(load_sample_image("china.jpg"))


@dataclass(frozen=True)
class Photo:
    """A packaged photo, its true ImageNet class and the crops taken from it."""

    name: str
    label: int
    load: Callable[[], np.ndarray]
    boxes: tuple[Box, ...]


PHOTOS = (
    Photo(
        "chelsea",
        285,
        _skimage("chelsea"),
        (
            (0.0, 0.0, 1.0, 1.0),
            (0.05, 0.05, 0.95, 0.95),
            (0.125, 0.125, 0.875, 0.875),
            (0.0, 0.0, 0.75, 1.0),
            (0.25, 0.0, 1.0, 1.0),
            (0.0, 0.0, 1.0, 0.8),
            (0.0, 0.2, 1.0, 1.0),
            (0.15, 0.05, 0.85, 0.95),
        ),
    ),
    Photo(
        "coffee",
        967,
        _skimage("coffee"),
        (
            (0.0, 0.0, 1.0, 1.0),
            (0.05, 0.05, 0.95, 0.95),
            (0.1, 0.0, 0.9, 0.9),
            (0.15, 0.0, 0.85, 1.0),
            (0.05, 0.0, 0.8, 0.85),
            (0.2, 0.0, 0.95, 0.95),
            (0.1, 0.02, 0.75, 0.8),
            (0.25, 0.0, 0.75, 0.8),
        ),
    ),
    Photo(
        "china",
        698,
        _china,
        (
            (0.0, 0.0, 1.0, 1.0),
            (0.0, 0.0, 0.75, 1.0),
            (0.0, 0.0, 0.65, 1.0),
            (0.05, 0.0, 0.7, 1.0),
            (0.0, 0.0, 0.8, 0.9),
            (0.02, 0.03, 0.62, 0.95),
            (0.0, 0.0, 0.9, 1.0),
            (0.05, 0.05, 0.75, 1.0),
        ),
    ),
)
VARIANTS = 2  # as is, mirrored


@dataclass(frozen=True)
class _Sample:
    photo: Photo
    box: Box
    mirrored: bool


def _samples() -> list[_Sample]:
    return [
        _Sample(photo, box, mirrored)
        for photo in PHOTOS
        for box in photo.boxes
        for mirrored in (False, True)
    ]


def _crop(image: Any, box: Box, mirrored: bool) -> Any:
    from PIL import Image

    w, h = image.size
    left, top, right, bottom = box
    out = image.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    return out.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else out


class PackagedPhotos:
    """48 labelled samples (3 photos x 8 crops x 2 mirrorings), preprocessed on demand."""

    def __init__(self, norm: Normalization = IMAGENET) -> None:
        self._norm = norm
        self._samples = _samples()
        self._images: dict[str, Any] = {}

    @property
    def name(self) -> str:
        """Reported as the QSL name."""
        return "packaged-photos"

    def __len__(self) -> int:
        return len(self._samples)

    def _image(self, photo: Photo) -> Any:
        from PIL import Image

        if photo.name not in self._images:
            self._images[photo.name] = Image.fromarray(photo.load())
        return self._images[photo.name]

    def get(self, index: int) -> np.ndarray:
        """The preprocessed (3, 224, 224) float32 input of sample ``index``."""
        s = self._samples[index]
        return preprocess(_crop(self._image(s.photo), s.box, s.mirrored), self._norm)

    def label(self, index: int) -> int:
        """The true ImageNet class of sample ``index``."""
        return self._samples[index].photo.label

    def describe(self, index: int) -> str:
        """``chelsea[3]+mirror``: which photo, crop and variant sample ``index`` is."""
        s = self._samples[index]
        return f"{s.photo.name}[{s.photo.boxes.index(s.box)}]{'+mirror' if s.mirrored else ''}"
