"""The ImageNet 2012 validation set in MLPerf's layout: JPEGs and ``val_map.txt``.

``val_map.txt`` has one line per image, ``ILSVRC2012_val_00000001.JPEG 65``: a file
name relative to the folder and its class index (0-999). The folder is checked when
the data set is opened, so a wrong ``--data-dir`` fails before the run starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.workloads.image_classification._preprocess import IMAGENET, Normalization, preprocess

VAL_MAP = "val_map.txt"
NUM_CLASSES = 1000


def _fix() -> str:
    return f"give --data-dir the ImageNet val folder holding the JPEGs and {VAL_MAP}"


def read_val_map(path: Path) -> list[tuple[str, int]]:
    """Parse ``val_map.txt`` into (file name, class) pairs; bad lines raise ``UsageError``."""
    entries: list[tuple[str, int]] = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise UsageError(f"{path}:{no}: expected '<image file> <class>', got {line!r}")
        label = int(parts[1])
        if not 0 <= label < NUM_CLASSES:
            raise UsageError(f"{path}:{no}: class {label} is outside 0-{NUM_CLASSES - 1}")
        entries.append((parts[0], label))
    if not entries:
        raise UsageError(f"{path} lists no images: {_fix()}")
    return entries


class ImageNetVal:
    """ImageNet val images by index, preprocessed as MLPerf's reference does."""

    def __init__(self, root: Path, norm: Normalization = IMAGENET) -> None:
        if not root.is_dir():
            raise UsageError(f"--data-dir {root}: no such directory; {_fix()}")
        val_map = root / VAL_MAP
        if not val_map.is_file():
            raise UsageError(f"--data-dir {root} has no {VAL_MAP}: {_fix()}")
        self._root = root
        self._norm = norm
        self._entries = read_val_map(val_map)
        self._check_files()

    def _check_files(self) -> None:
        missing = [f for f, _ in self._entries if not (self._root / f).is_file()]
        if missing:
            raise UsageError(
                f"{len(missing)} image(s) in {self._root / VAL_MAP} are missing, "
                f"first {missing[0]!r}: {_fix()}"
            )

    @property
    def name(self) -> str:
        """Reported as the QSL name."""
        return "imagenet2012-val"

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, index: int) -> np.ndarray:
        """The preprocessed (3, 224, 224) float32 input of image ``index``."""
        from PIL import Image

        path = self._root / self._entries[index][0]
        try:
            with Image.open(path) as image:
                return preprocess(image, self._norm)
        except OSError as exc:  # PIL's UnidentifiedImageError included
            raise UsageError(f"{path}: not a readable image ({exc}); {_fix()}") from None

    def label(self, index: int) -> int:
        """The class (0-999) of image ``index``."""
        return self._entries[index][1]
