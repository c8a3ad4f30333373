"""The ``speech`` workload: Whisper tiny.en (CTranslate2) scored by word accuracy.

Loader tests write a tiny LibriSpeech tree (real layout, FLAC via PyAV) in tmp_path;
the model runs on one CPU thread. Each utterance costs one padded 30 s encoder pass
(about 0.3-0.9 s here), so the runs are sized in utterances, not seconds.
"""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.cli.main import main
from mlmeter.errors import UsageError
from mlmeter.settings import Scenario
from mlmeter.workloads import WorkloadOptions, get
from mlmeter.workloads.speech import Speech, _ci, _workload
from mlmeter.workloads.speech._audio import SAMPLE_RATE, decode
from mlmeter.workloads.speech._librispeech import LibriSpeech
from mlmeter.workloads.speech._text import (
    WordErrors,
    corpus_errors,
    normalize,
    number_words,
    ordinal_words,
    word_errors,
)
from mlmeter.workloads.speech._whisper import Transcriber, default_model_path, load_model

HAS_ESPEAK = _ci.espeak_path() is not None
_QUIET = ["--quiet"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MLMETER_CACHE", str(tmp_path / "cache"))


def _words(text: str) -> list[str]:
    return text.split()


def _sha16(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _recorded(index: int) -> np.ndarray:
    return _ci.CISpeech(use_espeak=False).get(index)


def _write_flac(path: Path, audio: np.ndarray) -> None:
    import av

    pcm = np.clip(audio * 32768.0, -32768, 32767).astype(np.int16)
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.clip(audio * 32768.0, -32768, 32767).astype("<i2").tobytes())


def _librispeech_tree(root: Path) -> Path:
    """``dev-clean/<speaker>/<chapter>/``: two FLAC utterances and one WAV in two chapters."""
    chapters = {
        ("84", "121123"): [
            (0, "IT WAS THE BEST OF TIMES IT WAS THE WORST OF TIMES", ".flac"),
            (1, "IT WAS THE AGE OF WISDOM IT WAS THE AGE OF FOOLISHNESS", ".flac"),
        ],
        ("174", "50561"): [(4, "IT WAS THE SPRING OF HOPE IT WAS THE WINTER OF DESPAIR", ".wav")],
    }
    subset = root / "dev-clean"
    for (speaker, chapter), utts in chapters.items():
        folder = subset / speaker / chapter
        folder.mkdir(parents=True)
        lines = []
        for n, (piece, text, suffix) in enumerate(utts):
            key = f"{speaker}-{chapter}-{n:04d}"
            writer = _write_flac if suffix == ".flac" else _write_wav
            writer(folder / f"{key}{suffix}", _recorded(piece))
            lines.append(f"{key} {text}")
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return subset


# --- text normalisation and WER ------------------------------------------------------


def test_normalize_lowercases_strips_punctuation_and_spells_numbers() -> None:
    assert normalize("It was the best of times, it was the WORST—of times!") == (
        _words("it was the best of times it was the worst of times")
    )
    assert normalize("Don't pay Mr. Smith $1,200 in 1775; 45% on the 21st.") == (
        _words(
            "don't pay mister smith one thousand two hundred dollars in seventeen seventy five "
            "forty five percent on the twenty first"
        )
    )
    spelt = _words("cafe's nineteen twenties three point five")
    assert normalize("  café\u2019s   1920s 3.5 ") == spelt
    assert normalize("...") == []


def test_number_words() -> None:
    assert number_words(0) == "zero"
    assert number_words(105) == "one hundred five"
    assert number_words(2_000_017) == "two million seventeen"
    assert [ordinal_words(n) for n in (1, 2, 3, 12, 40, 101)] == [
        "first",
        "second",
        "third",
        "twelfth",
        "fortieth",
        "one hundred first",
    ]


def test_word_errors_counts_each_edit() -> None:
    assert word_errors(_words("a b c d"), _words("a x c d e")) == WordErrors(4, 1, 0, 1)
    assert word_errors(_words("a b c"), _words("a c")) == WordErrors(3, 0, 1, 0)
    assert word_errors([], ["a"]).insertions == 1
    errs = corpus_errors([("The cat sat.", "the cat sat"), ("on the mat", "on a mat mat")])
    assert (errs.words, errs.errors) == (6, 2)
    assert errs.wer == pytest.approx(2 / 6)


_WORDS = st.lists(st.sampled_from(["a", "b", "c"]), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_WORDS, _WORDS)
def test_word_errors_is_an_edit_distance(ref: list[str], hyp: list[str]) -> None:
    errs, back = word_errors(ref, hyp), word_errors(hyp, ref)
    assert errs.errors == back.errors  # symmetric distance
    assert errs.deletions - errs.insertions == len(ref) - len(hyp)
    assert abs(len(ref) - len(hyp)) <= errs.errors <= max(len(ref), len(hyp))
    assert word_errors(ref, ref).errors == 0


# --- data ----------------------------------------------------------------------------


def test_pinned_files_have_the_expected_hashes() -> None:
    assert _sha16(default_model_path() / "model.bin") == "1a5afae06a4db91c"
    assert _sha16(_ci.two_cities_path()) == "f3348494d77cb74a"


def test_librispeech_loader_reads_the_official_layout(tmp_path: Path) -> None:
    subset = _librispeech_tree(tmp_path)
    for root in (subset, tmp_path):  # the subset itself, or the folder of subsets
        data = LibriSpeech(root)
        assert len(data) == 3
        assert [data.key(i) for i in range(3)] == [
            "174-50561-0000",
            "84-121123-0000",
            "84-121123-0001",
        ]
        assert data.label(1) == "IT WAS THE BEST OF TIMES IT WAS THE WORST OF TIMES"
    first, wav = data.get(1), data.get(0)  # FLAC and the WAV fallback decode losslessly
    assert first.dtype == np.float32
    np.testing.assert_allclose(first, _recorded(0), atol=1 / 32768)
    np.testing.assert_allclose(wav, _recorded(4), atol=1 / 32768)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", "no such directory"),
        ("empty", "no <speaker>/<chapter>/*.trans.txt found"),
        ("bad-key", "expected '84-121123-<utt> TRANSCRIPT'"),
        ("no-audio", "no audio 84-121123-0001.flac"),
        ("corrupt", "cannot decode audio"),
    ],
)
def test_librispeech_layout_errors_name_the_fix(
    tmp_path: Path, breakage: str, message: str
) -> None:
    subset = _librispeech_tree(tmp_path / "data")
    chapter = subset / "84" / "121123"
    root = subset
    if breakage == "missing":
        root = tmp_path / "nowhere"
    elif breakage == "empty":
        root = tmp_path / "empty"
        root.mkdir()
    elif breakage == "bad-key":
        (chapter / "84-121123.trans.txt").write_text("99-1-0000 HELLO\n")
    elif breakage == "no-audio":
        (chapter / "84-121123-0001.flac").unlink()
    else:
        (chapter / "84-121123-0001.flac").write_bytes(b"not audio")
    with pytest.raises(UsageError, match=r"--data-dir|trans\.txt") as info:
        data = LibriSpeech(root)
        data.get(2)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_ci_set_cuts_the_recording_and_adds_espeak_clips() -> None:
    rec = _ci.CISpeech(use_espeak=False)
    assert (len(rec), rec.name) == (9, "two_cities")
    lengths = [len(rec.get(i)) / SAMPLE_RATE for i in range(len(rec))]
    assert lengths[0] == pytest.approx(4.79) and lengths[-1] == pytest.approx(7.61, abs=0.01)
    assert sum(lengths) == pytest.approx(44.37, abs=0.01)
    words = [w for i in range(len(rec)) for w in normalize(rec.label(i))]
    assert words[:6] == _words("it was the best of times") and len(words) == 119
    if not HAS_ESPEAK:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    full = _ci.CISpeech()
    assert (len(full), full.name) == (19, "two_cities+espeak")
    clip = full.get(9)
    assert clip.dtype == np.float32 and 1.0 < len(clip) / SAMPLE_RATE < 4.0


def test_without_espeak_the_recorded_reference_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ci, "espeak_path", lambda: None)
    data = _ci.CISpeech()
    assert len(data) == 9 and not data.has_espeak
    assert Speech._target(data).reference == _workload.CI_REFERENCE_RECORDED


# --- model and reference ------------------------------------------------------------


def test_fp32_reference_is_remeasured_and_int8_agrees_in_a_mixed_batch() -> None:
    data = _ci.CISpeech()
    fp32 = Transcriber(
        load_model(default_model_path(), device="cpu", threads=1, workers=1, compute_type="float32")
    )
    hyps = [fp32([data.get(i)])[0].decode() for i in range(len(data))]
    recorded = corpus_errors((data.label(i), hyps[i]) for i in range(9))
    assert 1 - recorded.wer == pytest.approx(_workload.CI_REFERENCE_RECORDED)
    if HAS_ESPEAK:
        full = corpus_errors((data.label(i), h) for i, h in enumerate(hyps))
        assert 1 - full.wer == pytest.approx(_workload.CI_REFERENCE)
    # INT8, one batch mixing a short piece and the whole 44 s recording (long-form path)
    int8 = Transcriber(
        load_model(default_model_path(), device="cpu", threads=1, workers=1, compute_type="int8")
    )
    whole = decode(_ci.two_cities_path(), what="two_cities")
    short, long = (t.decode() for t in int8([data.get(0), whole]))
    assert normalize(short) == normalize(hyps[0])
    book = " ".join(text for _, _, text in _ci.TWO_CITIES)
    assert corpus_errors([(book, long)]).errors == 0


def test_workload_is_registered_with_the_ctranslate2_backend() -> None:
    bench = get("speech")
    assert isinstance(bench, Speech)
    row = bench.describe()
    assert (row["backends"], row["metric"], bench.mlperf_model) == (
        "ctranslate2",
        "word_accuracy",
        "whisper",
    )
    assert _workload.resolve_backend("onnxruntime") == "ctranslate2"  # the CLI default
    assert bench.defaults(Scenario.SINGLE_STREAM)["min_query_count"] >= 64  # early stopping


# --- through the CLI -----------------------------------------------------------------


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", "speech", *args, *_QUIET])
    out, err = capsys.readouterr()
    return code, out, err


def test_accuracy_mode_on_the_ci_set_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--mode", "accuracy", "--batch-size", "4", "--max-wait-ms", "50"]
    code, out, err = _run([*args, "--output", str(tmp_path)], capsys)
    assert code == 0, out + err
    text = (tmp_path / "accuracy.txt").read_text()
    assert "result = PASS" in text and "word_accuracy = " in text
    samples = 19 if HAS_ESPEAK else 9
    assert f"samples = {samples}" in text and "wer = " in text


def test_accuracy_mode_on_librispeech_uses_the_mlperf_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subset = _librispeech_tree(tmp_path / "data")
    out_dir = tmp_path / "out"
    args = ["--mode", "accuracy", "--data-dir", str(subset), "--output", str(out_dir)]
    code, out, err = _run(args, capsys)
    assert code == 0, out + err
    text = (out_dir / "accuracy.txt").read_text()
    assert "word_accuracy = 1" in text and "reference = 0.979329" in text
    assert "samples = 3" in text and "data_set = LibriSpeech dev-clean" in text


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_performance_mode_is_valid(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["--scenario", scenario, "--output", str(tmp_path)], capsys)
    assert code == 0, out + err
    assert "Result is : VALID" in (tmp_path / "mlperf_log_summary.txt").read_text()


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["--backend", "torch"], "use --backend ctranslate2"),
        (["--backend", "tensorrt"], "use --backend ctranslate2"),
        (["--data-dir", "/nonexistent/LibriSpeech"], "point --data-dir at LibriSpeech"),
        (["--model-path", "/nonexistent/whisper"], "convert one with ct2-transformers-converter"),
        (["--device", "tpu"], "use --device cpu or cuda"),
        (["--batch-size", "0"], "--batch-size, --instances and --threads must be >= 1"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix(
    args: list[str], fix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run([*args, "--output", str(tmp_path)], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and fix in err


def test_a_model_dir_that_is_not_whisper_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "model"
    bogus.mkdir()
    (bogus / "model.bin").write_bytes(b"\0" * 64)
    (bogus / "tokenizer.json").write_text("{}")
    with pytest.raises(UsageError, match="cannot load it as Whisper") as info:
        Speech().prepare(WorkloadOptions(backend="ctranslate2", model_path=bogus))
    assert "\n" not in str(info.value)
