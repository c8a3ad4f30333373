"""``object-detection``: MTCNN faces, COCO-format data, COCO mAP, and runs through the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("pycocotools")
pytest.importorskip("skimage")
if __import__("importlib").util.find_spec("facenet_pytorch") is None:
    pytest.skip("facenet-pytorch is not installed", allow_module_level=True)

from PIL import Image, ImageDraw  # noqa: E402

from mlmeter.cli.main import main  # noqa: E402
from mlmeter.errors import UsageError  # noqa: E402
from mlmeter.logfmt import AccuracyEntry  # noqa: E402
from mlmeter.settings import Scenario  # noqa: E402
from mlmeter.workloads import Target, WorkloadOptions, get  # noqa: E402
from mlmeter.workloads.object_detection import ObjectDetection  # noqa: E402
from mlmeter.workloads.object_detection import _ci_data as ci  # noqa: E402
from mlmeter.workloads.object_detection import _coco as coco  # noqa: E402
from mlmeter.workloads.object_detection import _model as model  # noqa: E402
from mlmeter.workloads.object_detection import _torchvision_shim as shim  # noqa: E402
from mlmeter.workloads.object_detection._workload import REFERENCE_MAP, score  # noqa: E402

torch.set_num_threads(1)

WEIGHTS_SHA256 = {  # first 16 hex digits, facenet-pytorch 2.6.0
    "pnet.pt": "a2a71925e0b9996a",
    "rnet.pt": "bbb937de72efc9ef",
    "onet.pt": "165bfbe42940416c",
}


# --------------------------------------------------------------------------- helpers


def _brute_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Greedy NMS written out plainly: highest score first, drop IoU > thr."""

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return float(inter / union)

    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        if all(iou(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


def _random_boxes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.permutation(n).astype(np.float32) / n  # distinct scores: order is defined
    return boxes, scores


def _entry(index: int, rows: np.ndarray) -> AccuracyEntry:
    return AccuracyEntry(seq_id=index, qsl_idx=index, data=rows.astype(np.float32).tobytes())


def _write_coco(
    root: Path,
    images: list[tuple[str, np.ndarray, list[list[float]]]],
    *,
    categories: list[dict[str, Any]] | None = None,
    ann_name: str = "instances.json",
    image_dir: str = "images",
) -> Path:
    """A COCO-format folder: ``annotations/<ann_name>`` and ``<image_dir>/<file>``."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / image_dir).mkdir(parents=True, exist_ok=True)
    cats = categories or [{"id": 1, "name": "face"}]
    doc: dict[str, Any] = {"images": [], "annotations": [], "categories": cats}
    for i, (name, pixels, boxes) in enumerate(images):
        Image.fromarray(pixels).save(root / image_dir / name)
        h, w = pixels.shape[:2]
        doc["images"].append({"id": 100 - i, "file_name": name, "width": w, "height": h})
        for box in boxes:
            doc["annotations"].append(
                {
                    "id": len(doc["annotations"]),  # COCO files may start at 0
                    "image_id": 100 - i,
                    "category_id": cats[0]["id"],
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    path = root / "annotations" / ann_name
    path.write_text(json.dumps(doc))
    return path


def _rectangles(seed: int) -> tuple[np.ndarray, list[list[float]]]:
    """A 96x128 image with two drawn rectangles and their COCO boxes."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (128, 96), (40, 40, 40))
    draw = ImageDraw.Draw(im)
    boxes = []
    for _ in range(2):
        x, y = (int(v) for v in rng.integers(0, 60, 2))
        w, h = (int(v) for v in rng.integers(10, 30, 2))
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=(200, 180, 160))
        boxes.append([float(x), float(y), float(w), float(h)])
    return np.asarray(im), boxes


def _iou_xyxy(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def mtcnn() -> Any:
    return model.load_mtcnn(None, "cpu")


# --------------------------------------------------------------------------- NMS stand-in


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_brute_force(thr: float) -> None:
    rng = np.random.default_rng(7)
    for n in (1, 2, 17, 120):
        boxes, scores = _random_boxes(rng, n)
        got = shim.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).tolist()
        assert got == _brute_nms(boxes, scores, thr)


def test_batched_nms_is_nms_within_each_group() -> None:
    rng = np.random.default_rng(11)
    boxes, scores = _random_boxes(rng, 90)
    groups = rng.integers(0, 4, 90)
    got = shim.batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(groups), 0.5
    ).tolist()
    want: list[int] = []
    for g in range(4):
        members = np.flatnonzero(groups == g)
        want += [int(members[k]) for k in _brute_nms(boxes[members], scores[members], 0.5)]
    assert got == sorted(want, key=lambda i: -scores[i])  # one list, by decreasing score
    empty = shim.batched_nms(torch.zeros((0, 4)), torch.zeros(0), torch.zeros(0), 0.5)
    assert empty.dtype == torch.long and empty.numel() == 0


def test_to_tensor_matches_torchvision_convention() -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    t = shim.to_tensor(pixels)
    assert t.shape == (3, 2, 3) and t.dtype == torch.float32
    assert t[1, 0, 2].item() == pytest.approx(pixels[0, 2, 1] / 255.0)
    floats = shim.to_tensor(pixels.astype(np.float32))
    assert floats.max().item() == 17.0  # float input is not rescaled


def test_stand_in_never_leaks_into_sys_modules(mtcnn: Any) -> None:
    assert model.mtcnn_class() is type(mtcnn)
    assert not any(name.split(".")[0] == "torchvision" for name in sys.modules)
    assert "facenet_pytorch" not in sys.modules  # the bare package entry is removed too


def test_packaged_weights_are_the_pinned_ones() -> None:
    spec = __import__("importlib").util.find_spec("facenet_pytorch")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    for name, prefix in WEIGHTS_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest()[:16] == prefix


# --------------------------------------------------------------------------- CI data


def test_ci_ground_truth_is_the_fp32_detection_on_the_photos(mtcnn: Any) -> None:
    for index, face in ((0, ci.ASTRONAUT_FACE), (7, ci.CAMERA_FACE)):
        rows = model.detect(mtcnn, [ci.ci_sample(index).image])[0]
        assert len(rows) == 1
        x, y, w, h, p = (float(v) for v in rows[0])
        assert p > 0.99 and _iou_xyxy((x, y, x + w, y + h), face) > 0.995


def test_ci_transforms_move_the_boxes_with_the_pixels() -> None:
    base = ci.ci_sample(0)
    back = ci.hflip(ci.hflip(base))
    assert np.array_equal(back.image, base.image)
    assert np.allclose(back.boxes, base.boxes)
    cut = ci.crop(base, 100, 20, 420, 340)
    assert cut.image.shape == (320, 320, 3)
    assert np.allclose(cut.boxes[0], np.subtract(base.boxes[0], (100, 20, 100, 20)))
    with pytest.raises(ValueError, match="cuts a face"):
        ci.crop(base, 200, 0, 512, 512)
    four = ci.ci_sample(15)
    assert four.image.shape == (512, 512, 3) and len(four.boxes) == 4
    for x1, y1, x2, y2 in four.boxes:  # every face sits in one 256x256 tile
        assert int(x1 // 256) == int(x2 // 256) and int(y1 // 256) == int(y2 // 256)


def test_ci_dataset_is_coco_shaped_and_deterministic() -> None:
    data = ci.ci_dataset()
    assert len(data) == len(ci.RECIPES) == 19
    assert sum(len(data.label(i)) for i in range(len(data))) == 20
    assert [data.label(i) for i in (16, 17, 18)] == [[], [], []]  # the negatives
    for i in range(len(data)):
        image = data.get(i)
        info = data.gt["images"][i]
        assert image.dtype == np.uint8 and image.shape == (info["height"], info["width"], 3)
        for x, y, w, h in data.label(i):
            assert x >= 0 and y >= 0 and x + w <= info["width"] and y + h <= info["height"]
    assert np.array_equal(ci.ci_sample(6).image, ci.noise(ci.ci_sample(0), 12.0, seed=1).image)


# --------------------------------------------------------------------------- real COCO format


def test_coco_loader_parses_the_real_layout(tmp_path: Path) -> None:
    files = [(f"img{i}.png", *_rectangles(i)) for i in range(3)]
    _write_coco(tmp_path, files)
    data = coco.load_coco(tmp_path)
    assert len(data) == 3 and data.category_id == 1
    assert [data.image_id(i) for i in range(3)] == [98, 99, 100]  # sorted by image id
    assert data.label(2) == files[0][2]
    assert np.array_equal(data.get(2), files[0][1])
    assert [a["id"] for a in data.gt["annotations"]] == list(range(1, 7))  # renumbered from 1


def test_coco_map_perfect_shifted_and_empty(tmp_path: Path) -> None:
    files = [(f"img{i}.png", *_rectangles(i)) for i in range(3)]
    _write_coco(tmp_path, files)
    data = coco.load_coco(tmp_path)

    def rows(shift: float) -> dict[int, np.ndarray]:
        return {
            data.image_id(i): np.array([[x + shift, y, w, h, 0.9] for x, y, w, h in data.label(i)])
            for i in range(len(data))
        }

    assert coco.coco_map(data.gt, 1, rows(0.0))["mAP"] == pytest.approx(1.0)
    shifted = coco.coco_map(data.gt, 1, rows(3.0))
    assert 0.0 < shifted["mAP"] < 1.0 and shifted["AP50"] == pytest.approx(1.0)
    assert coco.coco_map(data.gt, 1, {})["mAP"] == 0.0
    perfect = rows(0.0)
    entries = [_entry(i, perfect[data.image_id(i)]) for i in range(len(data))]
    result = score(data, Target("mAP", REFERENCE_MAP), entries)
    assert result.value == pytest.approx(1.0) and result.count == 3
    assert result.details["detections"] == 6


def test_coco_loader_finds_other_layouts(tmp_path: Path) -> None:
    files = [("a.jpg", *_rectangles(0))]
    mlperf = tmp_path / "openimages"
    path = _write_coco(
        mlperf,
        files,
        categories=[{"id": 3, "name": "Car"}, {"id": 7, "name": "Human face"}][::-1],
        ann_name="openimages-mlperf.json",
        image_dir="validation/data",
    )
    doc = json.loads(path.read_text())
    car = {"id": 9, "image_id": 100, "category_id": 3, "bbox": [1, 1, 5, 5], "iscrowd": 0}
    path.write_text(json.dumps({**doc, "annotations": [*doc["annotations"], car]}))
    data = coco.load_coco(mlperf)
    assert data.category_id == 7 and len(data.gt["annotations"]) == 2  # the car is dropped
    assert coco.load_coco(path).gt == data.gt  # the annotation file itself


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no-dir", "does not exist"),
        ("no-annotations", "annotations/instances.json"),
        ("bad-json", "not readable COCO JSON"),
        ("not-coco", "needs lists"),
        ("missing-image", "images listed"),
        ("no-image-root", "not found: put the images"),
        ("two-categories", "no single 'face' category"),
        ("bad-bbox", "4-number 'bbox'"),
    ],
)
def test_coco_loader_errors_name_the_fix(tmp_path: Path, breakage: str, message: str) -> None:
    root = tmp_path / "data"
    files = [(f"img{i}.png", *_rectangles(i)) for i in range(2)]
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    path = _write_coco(root, files, categories=cats if breakage == "two-categories" else None)
    doc = json.loads(path.read_text())
    if breakage == "no-dir":
        root = tmp_path / "nowhere"
    elif breakage == "no-annotations":
        path.unlink()
    elif breakage == "bad-json":
        path.write_text("{not json")
    elif breakage == "not-coco":
        path.write_text(json.dumps({"images": []}))
    elif breakage == "missing-image":
        (root / "images" / "img0.png").unlink()  # the second by image id
    elif breakage == "no-image-root":
        shutil.rmtree(root / "images")
    elif breakage == "bad-bbox":
        doc["annotations"][0]["bbox"] = [1, 2, 3]
        path.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match=message) as err:
        coco.load_coco(root)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- model and options


def test_model_path_folder_and_wrong_weights(tmp_path: Path, mtcnn: Any) -> None:
    spec = __import__("importlib").util.find_spec("facenet_pytorch")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    good = tmp_path / "good"
    shutil.copytree(folder, good)
    loaded = model.load_mtcnn(good, "cpu")
    image = ci.ci_sample(4).image
    assert np.array_equal(model.detect(loaded, [image])[0], model.detect(mtcnn, [image])[0])
    with pytest.raises(UsageError, match=r"pnet\.pt, rnet\.pt and onet\.pt"):
        model.load_mtcnn(tmp_path / "empty", "cpu")
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    shutil.copy(folder / "pnet.pt", bad / "onet.pt")  # wrong shapes
    with pytest.raises(UsageError, match="not an MTCNN onet state dict"):
        model.load_mtcnn(bad, "cpu")
    (bad / "rnet.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="not an MTCNN rnet state dict"):
        model.load_mtcnn(bad, "cpu")


def test_batched_detection_equals_one_by_one(mtcnn: Any) -> None:
    images = [ci.ci_sample(i).image for i in (4, 11, 14, 16)]  # two of one shape
    together = model.detect(mtcnn, images)
    alone = [model.detect(mtcnn, [im])[0] for im in images]
    for a, b in zip(together, alone, strict=True):
        assert a.shape == b.shape and np.allclose(a, b, atol=1e-3)
    assert [len(a) for a in together] == [1, 1, 2, 0]
    assert model.decode(together[2].tobytes()).tolist() == together[2].tolist()
    assert model.decode(b"").shape == (0, 5)


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (WorkloadOptions(backend="tensorrt"), "--backend torch"),
        (WorkloadOptions(backend="torch", batch_size=0), "--batch-size"),
        (WorkloadOptions(backend="torch", instances=0), "--instances"),
    ],
)
def test_prepare_rejects_bad_options(opts: WorkloadOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ObjectDetection().prepare(opts)


def test_registered_and_cheap_to_import() -> None:
    workload = get("object-detection")
    assert isinstance(workload, ObjectDetection)
    assert workload.mlperf_model == "retinanet" and workload.backends == ("torch",)
    assert workload.defaults(Scenario.SINGLE_STREAM)["min_query_count"] >= 64
    code = (
        "import sys, mlmeter.workloads.object_detection as m; "
        "print(sorted({'torch', 'pycocotools', 'facenet_pytorch', 'skimage'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- through the CLI


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", "object-detection", "--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_accuracy_on_ci_data_remeasures_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(
        ["--mode", "accuracy", "--backend", "torch", "--output", str(tmp_path)], capsys
    )
    assert code == 0, out + err
    text = (tmp_path / "accuracy.txt").read_text()
    value = float(text.splitlines()[0].split("=")[1])
    assert value == pytest.approx(REFERENCE_MAP, abs=2e-3)  # FP32 torch: the stored reference
    assert "result = PASS" in text and "samples = 19" in text and "PASS" in out


def test_cli_accuracy_on_real_format_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = [ci.ci_sample(i) for i in (0, 11, 14, 17)]
    files = [
        (f"{s.name}.png", s.image, [[a, b, c - a, d - b] for a, b, c, d in s.boxes])
        for s in samples
    ]
    _write_coco(tmp_path / "data", files)
    out_dir = tmp_path / "out"
    code, out, err = _cli(
        ["--mode", "accuracy", "--data-dir", str(tmp_path / "data"), "--output", str(out_dir)],
        capsys,
    )
    assert code == 0, out + err
    text = (out_dir / "accuracy.txt").read_text()
    assert "samples = 4" in text and "data = coco:instances.json" in text


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_cli_performance_is_valid(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(["--scenario", scenario, "--output", str(tmp_path)], capsys)
    assert code == 0, out + err
    assert "result               : VALID" in out
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["validity"]["valid"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "tensorrt"], "use --backend torch"),
        (["--data-dir", "/nonexistent/coco"], "--data-dir /nonexistent/coco does not exist"),
        (["--model-path", "/nonexistent/mtcnn"], "pnet.pt, rnet.pt and onet.pt"),
    ],
)
def test_cli_user_errors_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli([*args, "--output", str(tmp_path)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
