"""``recommendation``: AUC, the Criteo loader, the mini-DLRM, its backends and CLI runs.

The CI model is trained once per test session in a fresh cache folder (a few seconds
on one thread), so the reference test re-measures the stored AUC from scratch. Real
Criteo TSV files are written here in the exact layout, from the planted model's rows.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.cli.main import main
from mlmeter.errors import UsageError
from mlmeter.logfmt import AccuracyEntry, read_accuracy_log
from mlmeter.settings import Scenario
from mlmeter.workloads import Target, WorkloadOptions, get
from mlmeter.workloads.recommendation import Recommendation, roc_auc
from mlmeter.workloads.recommendation._auc import average_ranks
from mlmeter.workloads.recommendation._criteo import (
    FIELDS,
    RawRows,
    criteo_files,
    preprocess,
    read_criteo,
    to_tsv_lines,
)
from mlmeter.workloads.recommendation._scoring import make_scorer
from mlmeter.workloads.recommendation._synthetic import PlantedClickModel
from mlmeter.workloads.recommendation._workload import (
    CI_EVAL_ROWS,
    OFFICIAL_AUC,
    REFERENCE_AUC,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
sklearn_metrics = pytest.importorskip("sklearn.metrics")
scipy_stats = pytest.importorskip("scipy.stats")

NAME = "recommendation"
QUIET = ["--quiet"]


@pytest.fixture(scope="module", autouse=True)
def _fresh_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder of this module's own: the CI model is trained in it on first use."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("mlmeter-cache")
        mp.setenv("MLMETER_CACHE", str(path))
        torch.set_num_threads(1)
        yield path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", NAME, *args, *QUIET])
    out, err = capsys.readouterr()
    return code, out, err


def _probs(outdir: Path) -> dict[int, float]:
    return {
        e.qsl_idx: float(np.frombuffer(e.data, dtype=np.float32)[0])
        for e in read_accuracy_log(outdir / "mlperf_log_accuracy.json")
    }


def _write_tsv(path: Path, rows: RawRows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(to_tsv_lines(rows)), encoding="ascii")
    return path


# --- AUC -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6) | st.floats(-1e3, 1e3), st.booleans()),
        min_size=2,
        max_size=80,
    )
)
def test_auc_matches_sklearn(pairs: list[tuple[float, bool]]) -> None:
    scores = np.array([s for s, _ in pairs], dtype=np.float64)
    labels = np.array([y for _, y in pairs], dtype=np.int8)
    if labels.min() == labels.max():
        with pytest.raises(ValueError, match="both"):
            roc_auc(scores, labels)
        return
    assert roc_auc(scores, labels) == pytest.approx(
        sklearn_metrics.roc_auc_score(labels, scores), abs=1e-12
    )
    np.testing.assert_allclose(average_ranks(scores), scipy_stats.rankdata(scores))


def test_auc_edge_cases() -> None:
    assert roc_auc([0.1, 0.9], [0, 1]) == 1.0
    assert roc_auc([0.9, 0.1], [0, 1]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5], [0, 1, 1]) == 0.5  # ties count one half
    assert roc_auc([1, 2, 2, 3], [0, 0, 1, 1]) == pytest.approx(0.875)
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0.1, math.nan], [0, 1])
    with pytest.raises(ValueError, match="labels"):
        roc_auc([0.1, 0.2], [0, 1, 1])


# --- the Criteo loader --------------------------------------------------------------------

# two hand-written rows in the exact layout: empty fields, a negative count, 8-digit hex
ROW_A = "\t".join(["1", "5", "-1", "", *["0"] * 10, "68fd1e64", *[""] * 24, "fffffffe"])
ROW_B = "\t".join(["0", *[""] * 13, *["0000000a"] * 26])


def test_loader_parses_the_criteo_layout(tmp_path: Path) -> None:
    assert len(ROW_A.split("\t")) == FIELDS
    folder = tmp_path / "criteo"
    folder.mkdir()
    (folder / "day_10.tsv").write_text(ROW_B + "\n", encoding="ascii")
    (folder / "day_2").write_text(ROW_A + "\n\n", encoding="ascii")  # 1TB names have no suffix
    (folder / "README.txt").write_text("not a day file")
    files = criteo_files(folder)
    assert [f.name for f in files] == ["day_2", "day_10.tsv"]  # by day number
    rows = read_criteo(files)
    assert rows.labels.tolist() == [1, 0]
    assert rows.dense[0, :3].tolist() == [5, -1, 0]
    assert rows.dense_missing[0, :3].tolist() == [False, False, True]
    assert rows.dense_missing[1].all() and not rows.dense[1].any()
    assert rows.sparse[0, 0] == 0x68FD1E64 and rows.sparse[0, 1] == 0  # empty -> 0
    assert rows.sparse[0, 25] == 0xFFFFFFFE and (rows.sparse[1] == 10).all()
    x = preprocess(rows, [7] * 26)
    assert x.dtype == np.float32 and x.shape == (2, 39)
    # MLPerf dlrm-v2 (torchrec): log(x + 3) on the counts, hex value mod table size
    np.testing.assert_allclose(x[0, :3], np.log([8.0, 2.0, 3.0]).astype(np.float32))
    assert x[0, 13] == 0x68FD1E64 % 7 and x[0, 38] == 0xFFFFFFFE % 7 and x[1, 13] == 10 % 7


def test_planted_rows_survive_a_tsv_round_trip(tmp_path: Path) -> None:
    planted = PlantedClickModel(7).draw(300, "eval")
    path = _write_tsv(tmp_path / "day_23.tsv", planted.rows)
    back = read_criteo(criteo_files(tmp_path))
    assert criteo_files(path) == [path]
    for field in ("labels", "dense", "dense_missing", "sparse"):
        np.testing.assert_array_equal(getattr(back, field), getattr(planted.rows, field))
    assert planted.rows.dense_missing.any() and (planted.rows.sparse == 0).any()
    assert (planted.rows.dense < 0).any()  # the -1 / -2 counts of the real set


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("1\t2\t3\n", r"day_0\.tsv:1: 3 fields, expected 40"),
        (ROW_A + "\n" + ROW_A.replace("68fd1e64", "xyz") + "\n", r"day_0\.tsv:2: not a Criteo"),
        (ROW_A.replace("1", "2", 1) + "\n", "label '2' is not 0 or 1"),
        ("\n", "no rows found"),
    ],
)
def test_loader_rejects_bad_rows(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "day_0.tsv").write_text(content, encoding="ascii")
    with pytest.raises(UsageError, match=match) as info:
        read_criteo(criteo_files(tmp_path))
    assert "\n" not in str(info.value)


def test_loader_rejects_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        criteo_files(tmp_path / "missing")
    with pytest.raises(UsageError, match=r"no day_<N>\.tsv files"):
        criteo_files(tmp_path)


# --- the model, its reference and its backends --------------------------------------------


def _ci_model() -> tuple[Any, np.ndarray, np.ndarray]:
    from mlmeter.workloads.recommendation import _loading
    from mlmeter.workloads.recommendation._model import DLRMConfig
    from mlmeter.workloads.recommendation._train import Recipe

    config, recipe = DLRMConfig(), Recipe()
    dataset, _ = _loading.ci_dataset(config, recipe, CI_EVAL_ROWS)
    net = _loading.model(WorkloadOptions(backend="torch"), config, recipe)
    return net, dataset.inputs, dataset.labels


def test_ci_reference_auc_is_remeasured(_fresh_cache: Path) -> None:
    """Train in a fresh cache (1 thread, fixed seeds) and re-measure the stored AUC."""
    net, inputs, labels = _ci_model()
    cached = list((_fresh_cache / "recommendation").glob("mini-dlrm-*.pt"))
    assert len(cached) == 1
    with torch.inference_mode():
        auc = roc_auc(net(torch.from_numpy(inputs)).numpy(), labels)
    assert auc == pytest.approx(REFERENCE_AUC, abs=1e-6)
    stamp = cached[0].stat().st_mtime_ns
    again, _, _ = _ci_model()  # the second use loads the cached weights
    assert cached[0].stat().st_mtime_ns == stamp
    for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_embedding_pooling_equals_embedding_bag() -> None:
    from mlmeter.workloads.recommendation._model import MiniDLRM

    table = torch.nn.EmbeddingBag(50, 4, mode="sum")
    bags = torch.randint(0, 50, (6, 3), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(MiniDLRM._pool(table, bags), table(bags))


def test_backends_agree() -> None:
    from mlmeter.workloads.recommendation import _loading

    net, inputs, _ = _ci_model()
    batch = inputs[:64]
    outs = {}
    for backend in ("torch", "onnxruntime"):
        fn = _loading.backend_fn(net, WorkloadOptions(backend=backend), batch[:2])
        outs[backend] = np.asarray(fn(batch)).reshape(-1)
        np.testing.assert_allclose(np.asarray(fn(batch[:1])).reshape(-1), outs[backend][:1])
    assert outs["torch"].shape == (64,)
    np.testing.assert_allclose(outs["onnxruntime"], outs["torch"], atol=2e-6)


# --- runs through the CLI -------------------------------------------------------------------


def test_accuracy_on_ci_data_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    aucs = {}
    for backend in ("onnxruntime", "torch"):
        out_dir = tmp_path / backend
        args = ["--mode", "accuracy", "--backend", backend, "--batch-size", "64"]
        code, out, err = _run([*args, "--output", str(out_dir)], capsys)
        assert code == 0, out + err
        text = (out_dir / "accuracy.txt").read_text()
        assert f"samples = {CI_EVAL_ROWS}" in text and "result = PASS" in text
        assert "bayes_auc = " in text
        aucs[backend] = float(text.splitlines()[0].removeprefix("AUC = "))
        assert "AUC" in out
    assert aucs["torch"] == pytest.approx(REFERENCE_AUC, abs=1e-5)
    assert aucs["onnxruntime"] == pytest.approx(aucs["torch"], abs=1e-5)
    bayes = float(text.split("bayes_auc = ")[1].split()[0])
    assert bayes > REFERENCE_AUC  # no model beats the true click probabilities


@pytest.mark.parametrize(
    ("scenario", "backend", "batch"),
    [
        ("SingleStream", "onnxruntime", "1"),
        ("Offline", "onnxruntime", "64"),
        ("Offline", "torch", "64"),
    ],
)
def test_performance_is_valid(
    scenario: str, backend: str, batch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--scenario", scenario, "--backend", backend, "--batch-size", batch]
    code, out, err = _run([*args, "--output", str(tmp_path)], capsys)
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert code == 0, out + err + summary
    assert "Result is : VALID" in summary
    assert f"SUT name : mini-dlrm-{backend}" in summary


def test_real_layout_data_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Planted rows written as Criteo TSV go through --data-dir; the official target applies."""
    planted = PlantedClickModel(2026).draw(CI_EVAL_ROWS, "eval")
    _write_tsv(tmp_path / "criteo" / "day_23.tsv", planted.rows)
    out_dir = tmp_path / "out"
    args = ["--mode", "accuracy", "--data-dir", str(tmp_path / "criteo"), "--batch-size", "128"]
    code, out, err = _run([*args, "--output", str(out_dir)], capsys)
    text = (out_dir / "accuracy.txt").read_text()
    assert f"reference = {OFFICIAL_AUC:.6g}" in text
    auc = float(text.splitlines()[0].removeprefix("AUC = "))
    assert auc == pytest.approx(REFERENCE_AUC, abs=1e-5)  # the same rows as the CI set
    assert code == (0 if auc >= 0.99 * OFFICIAL_AUC else 1), out + err


# --- user errors ------------------------------------------------------------------------------


def _one_line_error(args: list[str], capsys: pytest.CaptureFixture[str], match: str) -> None:
    code, _, err = _run(args, capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert match in err, err


def test_user_model_with_wrong_tables_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlmeter.workloads.recommendation._model import DLRMConfig, build

    sizes = list(DLRMConfig().table_sizes)
    sizes[3] = 5000
    path = tmp_path / "dlrm.pt"
    torch.save(build(DLRMConfig(table_sizes=tuple(sizes))).state_dict(), path)
    _one_line_error(["--model-path", str(path)], capsys, "embedding table 3 is (5000, 16)")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    _one_line_error(["--model-path", str(tmp_path / "junk.pt")], capsys, "not a PyTorch")
    _one_line_error(["--model-path", str(tmp_path / "nope.pt")], capsys, "is not a file")


def test_user_model_runs(tmp_path: Path) -> None:
    from mlmeter.workloads.recommendation._loading import user_model
    from mlmeter.workloads.recommendation._model import DLRMConfig

    net, inputs, _ = _ci_model()
    path = tmp_path / "mine.pt"
    torch.save(net.state_dict(), path)
    with torch.inference_mode():
        x = torch.from_numpy(inputs[:32])
        torch.testing.assert_close(user_model(path, DLRMConfig())(x), net(x), rtol=0, atol=0)
    ready = get(NAME).prepare(
        WorkloadOptions(backend="torch", model_path=path, performance_samples=100)
    )
    try:
        assert ready.qsl.total_sample_count == CI_EVAL_ROWS
        assert ready.qsl.performance_sample_count == 100
        assert ready.target.reference == REFERENCE_AUC
    finally:
        ready.close()


def test_bad_options_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(["--backend", "tensorrt"], capsys, "--backend onnxruntime or torch")
    _one_line_error(["--batch-size", "0"], capsys, "--batch-size must be at least 1")
    _one_line_error(["--data-dir", str(tmp_path / "none")], capsys, "does not exist")


def test_scorer_rejects_foreign_logs() -> None:
    score = make_scorer(np.array([0, 1, 1], dtype=np.int8), Target("AUC", 0.8), {})
    good = [AccuracyEntry(i, i, np.float32(p).tobytes()) for i, p in enumerate([0.2, 0.1, 0.9])]
    result = score(good)
    assert result.value == 0.5 and result.count == 3 and result.details["click_rate"] > 0.6
    with pytest.raises(UsageError, match="holds 8 bytes"):
        score([AccuracyEntry(0, 0, b"\0" * 8)])
    with pytest.raises(UsageError, match="undefined"):
        score(good[1:])
    with pytest.raises(UsageError, match="names sample 7"):
        score([AccuracyEntry(0, 7, np.float32(0.5).tobytes())])


def test_defaults_and_listing_stay_light() -> None:
    defaults = Recommendation().defaults(Scenario.SINGLE_STREAM)
    assert defaults["min_query_count"] >= 64  # early stopping at p90
    code = "import sys, mlmeter.workloads.recommendation as r; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
