"""COCO-format detection data (as MLPerf's OpenImages subset ships) and COCO mAP scoring.

Layout of ``--data-dir`` (the folder, or the annotation file itself)::

    DIR/annotations/instances.json     COCO "images", "annotations", "categories"
                                       (any single *.json in annotations/ is taken too)
    DIR/images/<file_name>             or DIR/validation/data/<file_name>, or DIR/<file_name>

Only the face category is scored (the model is a face detector): the category named
``face`` or ``human face`` (any case), or the only category when there is just one.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError

FACE_NAMES = ("face", "human face")
IMAGE_ROOTS = ("images", "validation/data", ".")


@dataclass(frozen=True)
class DetectionDataset:
    """Images (loaded on demand) and a COCO ground truth restricted to one category."""

    name: str
    gt: dict[str, Any]  # COCO: images, annotations (this category only), categories
    category_id: int
    loader: Callable[[int], np.ndarray] = field(repr=False)

    def __len__(self) -> int:
        return len(self.gt["images"])

    def get(self, index: int) -> np.ndarray:
        """The uint8 HxWx3 image of sample ``index``."""
        return self.loader(index)

    def image_id(self, index: int) -> int:
        """The COCO image id of sample ``index``."""
        return int(self.gt["images"][index]["id"])

    def label(self, index: int) -> list[list[float]]:
        """The true ``[x, y, w, h]`` boxes of sample ``index``."""
        iid = self.image_id(index)
        return [a["bbox"] for a in self.gt["annotations"] if a["image_id"] == iid]


def coco_gt(
    images: Sequence[Mapping[str, Any]],
    boxes: Mapping[int, Sequence[Sequence[float]]],
    category: Mapping[str, Any],
    crowd: Mapping[int, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """A COCO ground-truth dict: ``boxes`` maps image id to ``[x, y, w, h]`` boxes."""
    anns: list[dict[str, Any]] = []
    for image in images:
        iid = int(image["id"])
        flags = (crowd or {}).get(iid, [0] * len(boxes.get(iid, ())))
        for box, is_crowd in zip(boxes.get(iid, ()), flags, strict=True):
            x, y, w, h = (float(v) for v in box)
            anns.append(
                {
                    "id": len(anns) + 1,  # COCOeval treats id 0 as "unmatched"
                    "image_id": iid,
                    "category_id": int(category["id"]),
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": int(is_crowd),
                }
            )
    return {"images": [dict(i) for i in images], "annotations": anns, "categories": [category]}


def coco_map(
    gt: dict[str, Any], category_id: int, detections: Mapping[int, np.ndarray]
) -> dict[str, float]:
    """COCO bbox mAP@[.5:.95], AP50 and AP75 of ``detections`` (image id -> rows).

    Rows are ``[x, y, w, h, score]``; only the images in ``detections`` are evaluated.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    results = [
        {"image_id": iid, "category_id": category_id, "bbox": r[:4].tolist(), "score": float(r[4])}
        for iid, rows in detections.items()
        for r in np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    ]
    if not results:
        return {"mAP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        truth = COCO()
        truth.dataset = copy.deepcopy(gt)  # COCOeval adds keys to the annotations
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.params.imgIds = sorted(detections)
        evaluation.params.catIds = [category_id]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [max(float(s), 0.0) for s in evaluation.stats[:3]]  # -1 means "no ground truth"
    return {"mAP": stats[0], "AP50": stats[1], "AP75": stats[2]}


def annotation_file(data_dir: Path) -> Path:
    """The annotation JSON of ``--data-dir`` (see the module docstring)."""
    if data_dir.is_file() and data_dir.suffix == ".json":
        return data_dir
    default = data_dir / "annotations" / "instances.json"
    if default.is_file():
        return default
    found = sorted((data_dir / "annotations").glob("*.json"))
    if len(found) == 1:
        return found[0]
    raise UsageError(
        f"--data-dir {data_dir}: expected annotations/instances.json (COCO format) "
        "and the images under images/"
    )


def image_root(ann_file: Path, first: str) -> Path:
    """The folder that holds the images, found by the first image's ``file_name``."""
    bases = [ann_file.parent.parent, ann_file.parent]
    for base in bases:
        for sub in IMAGE_ROOTS:
            if (base / sub / first).is_file():
                return (base / sub).resolve()
    raise UsageError(
        f"image {first!r} of {ann_file} not found: put the images under "
        f"{ann_file.parent.parent / 'images'}"
    )


def face_category(categories: Sequence[Mapping[str, Any]], source: Path) -> dict[str, Any]:
    """The category the face detector is scored on."""
    named = [c for c in categories if str(c.get("name", "")).lower() in FACE_NAMES]
    if len(named) == 1:
        return {"id": int(named[0]["id"]), "name": str(named[0]["name"])}
    if len(categories) == 1:
        return {"id": int(categories[0]["id"]), "name": str(categories[0].get("name", "face"))}
    raise UsageError(
        f"{source}: no single 'face' category among {len(categories)}; "
        "name the face category 'face' (the model detects faces only)"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not readable COCO JSON ({exc})") from None
    if not isinstance(doc, dict) or not all(
        isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise UsageError(f"{path}: a COCO file needs lists 'images', 'annotations', 'categories'")
    return doc


def _images(doc: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    try:
        images = [
            {"id": int(i["id"]), "file_name": str(i["file_name"]), **_size(i)}
            for i in doc["images"]
        ]
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{path}: every image needs an integer 'id' and a 'file_name'") from None
    if not images:
        raise UsageError(f"{path}: the annotation file lists no images")
    return sorted(images, key=lambda i: i["id"])


def _size(image: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(image[k]) for k in ("width", "height") if k in image}


def _face_boxes(
    doc: dict[str, Any], category_id: int, path: Path
) -> tuple[dict[int, list[list[float]]], dict[int, list[int]]]:
    boxes: dict[int, list[list[float]]] = {}
    crowd: dict[int, list[int]] = {}
    try:
        for a in doc["annotations"]:
            if int(a["category_id"]) != category_id:
                continue
            box = [float(v) for v in a["bbox"]]
            if len(box) != 4:
                raise ValueError
            boxes.setdefault(int(a["image_id"]), []).append(box)
            crowd.setdefault(int(a["image_id"]), []).append(int(a.get("iscrowd", 0)))
    except (KeyError, TypeError, ValueError):
        raise UsageError(
            f"{path}: every annotation needs 'image_id', 'category_id' and a 4-number 'bbox'"
        ) from None
    return boxes, crowd


def read_image(path: Path) -> np.ndarray:
    """An image file as a uint8 HxWx3 RGB array."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
    except (OSError, UnidentifiedImageError) as exc:
        raise UsageError(f"{path}: not a readable image ({exc})") from None


def load_coco(data_dir: Path) -> DetectionDataset:
    """The COCO-format data set at ``data_dir`` (checked up front; images read lazily)."""
    if not data_dir.exists():
        raise UsageError(f"--data-dir {data_dir} does not exist; give the COCO-format data folder")
    path = annotation_file(data_dir)
    doc = _read_json(path)
    images = _images(doc, path)
    category = face_category(doc["categories"], path)
    boxes, crowd = _face_boxes(doc, category["id"], path)
    root = image_root(path, images[0]["file_name"])
    files = [root / i["file_name"] for i in images]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"{len(missing)} images listed in {path} are missing, e.g. {missing[0]}")
    gt = coco_gt(images, boxes, category, crowd)
    return DetectionDataset(f"coco:{path.name}", gt, category["id"], lambda i: read_image(files[i]))
