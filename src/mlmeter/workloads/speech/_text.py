"""Transcript normalisation and word error counts (WER).

Both sides go through the same ``normalize``: lower case, accents folded, digits
spelt out as words (LibriSpeech references never contain digits; Whisper writes
them), a few title abbreviations expanded, punctuation dropped (apostrophes inside
words kept, as in LibriSpeech's ``DON'T``) and whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = (
    "_",
    "_",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
)
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
_NUMBER = re.compile(r"(\$?)(\d+)(?:\.(\d+))?(st|nd|rd|th|s)?(%?)")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def number_words(n: int) -> str:
    """A non-negative integer as English cardinal words (no "and"): 105 -> one hundred five."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")  # pragma: no cover


def year_words(n: int) -> str:
    """A year 1100-1999 as spoken: 1775 -> seventeen seventy five, 1800 -> eighteen hundred."""
    high, low = divmod(n, 100)
    if low == 0:
        return f"{number_words(high)} hundred"
    tail = f"oh {_ONES[low]}" if low < 10 else number_words(low)
    return f"{number_words(high)} {tail}"


def ordinal_words(n: int) -> str:
    """An integer as ordinal words: 21 -> twenty first, 40 -> fortieth."""
    words = number_words(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _plural(words: str) -> str:
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + ("es" if words.endswith("x") else "s")


def _spell_number(match: re.Match[str]) -> str:
    dollar, digits, decimals, suffix, percent = match.groups()
    n = int(digits)
    if suffix in ("st", "nd", "rd", "th"):
        words = ordinal_words(n)
    elif decimals is None and 1100 <= n <= 1999 and not dollar and not percent:
        words = year_words(n)
    else:
        words = number_words(n)
    if suffix == "s":  # 1920s -> nineteen twenties
        words = _plural(words)
    if decimals is not None:
        words += " point " + " ".join(_ONES[int(d)] for d in decimals)
    if percent:
        words += " percent"
    if dollar:
        words += " dollar" if n == 1 and decimals is None else " dollars"
    return f" {words} "


def normalize(text: str) -> list[str]:
    """The words of ``text`` after the normalisation described in the module docstring."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("&", " and ")
    text = _THOUSANDS_COMMA.sub("", text)
    text = _NUMBER.sub(_spell_number, text)
    words = (w.strip("'") for w in _NOT_WORD.sub(" ", text).split())
    return [_ABBREVIATIONS.get(w, w) for w in words if w]


@dataclass(frozen=True)
class WordErrors:
    """Word-level edit counts of hypotheses against references (summable)."""

    words: int = 0  # reference words
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def errors(self) -> int:
        """Substitutions + deletions + insertions."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """Word error rate: errors / reference words."""
        return self.errors / max(self.words, 1)

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(
            self.words + other.words,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )


def _edit_table(ref: Sequence[str], hyp: Sequence[str]) -> list[list[int]]:
    """Levenshtein distances between every prefix of ``ref`` and of ``hyp``."""
    table = [list(range(len(hyp) + 1))]
    for i, r in enumerate(ref, 1):
        prev, row = table[-1], [i]
        for j, h in enumerate(hyp, 1):
            row.append(min(prev[j - 1] + (r != h), prev[j] + 1, row[j - 1] + 1))
        table.append(row)
    return table


def word_errors(ref: Sequence[str], hyp: Sequence[str]) -> WordErrors:
    """Minimum edit counts turning ``ref`` into ``hyp`` (ties prefer substitutions)."""
    table = _edit_table(ref, hyp)
    i, j, subs, dels, ins = len(ref), len(hyp), 0, 0, 0
    while i or j:
        if i and j and table[i][j] == table[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            subs += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i and table[i][j] == table[i - 1][j] + 1:
            dels, i = dels + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return WordErrors(len(ref), subs, dels, ins)


def corpus_errors(pairs: Iterable[tuple[str, str]]) -> WordErrors:
    """Summed word errors over (reference, hypothesis) transcript pairs, normalised."""
    total = WordErrors()
    for ref, hyp in pairs:
        total += word_errors(normalize(ref), normalize(hyp))
    return total
