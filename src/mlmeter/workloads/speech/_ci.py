"""The CI speech set: real read speech from a wheel, plus espeak-ng clips of known text.

* ``two_cities.wav`` (moonshine-voice 0.1.5, ``assets/``): 44.4 s of a person reading
  the public-domain opening of *A Tale of Two Cities*. It is cut at the pauses between
  the clauses into 9 utterances. The cut points were found once from the waveform's
  energy (every cut lies in a pause of 340 ms or more) and are stored below with the
  book's text of each piece.
* espeak-ng (Debian package ``espeak-ng``): 10 short sentences, synthesised when loaded
  (``en-us`` voice, 140 or 160 words per minute). Whisper tiny.en mishears many espeak
  sentences; these 10 were kept from a longer list because the FP32 and INT8 models
  transcribe them exactly at both rates, so the reference does not hinge on small
  differences between espeak builds. Without ``espeak-ng`` on PATH the set is the 9
  recorded utterances only (and the workload uses that set's own reference).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.workloads.speech._audio import SAMPLE_RATE, decode

_LOG = logging.getLogger(__name__)

#: (start s, end s or None for the end of the file, the book's text of that piece)
TWO_CITIES: tuple[tuple[float, float | None, str], ...] = (
    (0.00, 4.79, "It was the best of times, it was the worst of times,"),
    (4.79, 8.51, "it was the age of wisdom, it was the age of foolishness,"),
    (8.51, 13.12, "it was the epoch of belief, it was the epoch of incredulity,"),
    (13.12, 17.12, "it was the season of Light, it was the season of Darkness,"),
    (17.12, 20.85, "it was the spring of hope, it was the winter of despair,"),
    (20.85, 24.32, "we had everything before us, we had nothing before us,"),
    (24.32, 28.69, "we were all going direct to Heaven, we were all going direct the other way—"),
    (
        28.69,
        36.76,
        "in short, the period was so far like the present period, that some of its "
        "noisiest authorities insisted on its being received,",
    ),
    (36.76, None, "for good or for evil, in the superlative degree of comparison only."),
)

#: (text, espeak-ng words per minute)
ESPEAK: tuple[tuple[str, int], ...] = (
    ("Open the window and let the fresh air in.", 140),
    ("Turn off the lights when you leave the room.", 160),
    ("We will meet at the station at noon.", 140),
    ("Please close the door behind you.", 160),
    ("The children played in the garden all afternoon.", 140),
    ("It is raining again this morning.", 160),
    ("Can you tell me where the library is?", 140),
    ("The meeting was moved to next Monday.", 160),
    ("Thank you very much for your help.", 140),
    ("The dog is sleeping under the table.", 160),
)
ESPEAK_VOICE = "en-us"


def two_cities_path() -> Path:
    """``two_cities.wav`` inside the installed moonshine-voice package."""
    spec = importlib.util.find_spec("moonshine_voice")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            "the CI speech set needs moonshine-voice: pip install --no-deps "
            "moonshine-voice==0.1.5, or pass --data-dir with LibriSpeech"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "two_cities.wav"
    if not path.is_file():
        raise UsageError(f"{path} is missing: reinstall moonshine-voice==0.1.5 (--no-deps)")
    return path


def espeak_path() -> str | None:
    """The espeak-ng executable, or None when it is not installed."""
    return shutil.which("espeak-ng")


def synthesize(text: str, wpm: int, exe: str) -> np.ndarray:
    """``text`` spoken by espeak-ng, decoded to 16 kHz mono float32."""
    cmd = [exe, "-v", ESPEAK_VOICE, "-s", str(wpm), "--stdout", text]
    try:
        wav = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"espeak-ng failed ({exc}); reinstall espeak-ng or uninstall it") from None
    return decode(io.BytesIO(wav), what=f"espeak-ng output for {text!r}")


class CISpeech:
    """The recorded utterances, then the espeak clips (when espeak-ng is installed)."""

    def __init__(self, *, use_espeak: bool = True) -> None:
        self._wav = two_cities_path()
        self._espeak = espeak_path() if use_espeak else None
        if use_espeak and self._espeak is None:
            _LOG.warning("espeak-ng not found: the CI speech set has only the 9 recorded clips")
        self._recording: np.ndarray | None = None
        clips = ESPEAK if self._espeak else ()
        self._texts = [t for _, _, t in TWO_CITIES] + [t for t, _ in clips]

    @property
    def has_espeak(self) -> bool:
        """Whether the espeak clips are part of the set."""
        return self._espeak is not None

    @property
    def name(self) -> str:
        """Reported as the QSL name."""
        return "two_cities+espeak" if self.has_espeak else "two_cities"

    def __len__(self) -> int:
        return len(self._texts)

    def get(self, index: int) -> np.ndarray:
        """Utterance ``index``: a piece of the recording, or a synthesised clip."""
        if index < len(TWO_CITIES):
            start, end, _ = TWO_CITIES[index]
            audio = self._load_recording()
            stop = None if end is None else round(end * SAMPLE_RATE)
            return audio[round(start * SAMPLE_RATE) : stop].copy()
        text, wpm = ESPEAK[index - len(TWO_CITIES)]
        assert self._espeak is not None
        return synthesize(text, wpm, self._espeak)

    def label(self, index: int) -> str:
        """The known text of utterance ``index``."""
        return self._texts[index]

    def _load_recording(self) -> np.ndarray:
        if self._recording is None:
            self._recording = decode(self._wav, what=str(self._wav))
        return self._recording
