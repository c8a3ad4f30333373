"""Speech to text: Whisper on CTranslate2 (faster-whisper), scored by word accuracy.

``mlmeter run speech`` transcribes LibriSpeech (``--data-dir``, official layout) or the
CI set (a real recording from moonshine-voice plus espeak-ng clips) and reports
``word_accuracy = 1 - WER``. See ``docs/workloads/speech.md``.
"""

from mlmeter.workloads.speech._workload import Speech

__all__ = ["Speech"]
