"""From start/end logits to answer text, as the reference BERT ``write_predictions`` does.

For each question, every feature proposes the 20 best start and end positions; pairs
must lie in the context, start in the window that gives the start token the most
context, end after start and span at most 30 tokens. The best pair by summed logits
wins, and its WordPiece text is projected back onto the original words
(``get_final_text``), which keeps the paragraph's casing and trims extra punctuation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from mlmeter.workloads.language._features import Feature
from mlmeter.workloads.language._squad import Example

N_BEST = 20
MAX_ANSWER = 30
EMPTY = "empty"  # the reference's answer when no span is valid

Span = tuple[float, int, int]  # (score, start, end) within one feature
ToTokens = Callable[[Sequence[int]], list[str]]


def top_n(logits: np.ndarray, n: int = N_BEST) -> np.ndarray:
    """Indices of the ``n`` largest values, ties in index order."""
    return np.argsort(-logits, kind="stable")[:n]


def best_span(logits: np.ndarray, feature: Feature) -> Span | None:
    """The best valid (score, start, end) of one feature's (384, 2) logits, if any."""
    start_logits = logits[:, 0].astype(np.float64)
    end_logits = logits[:, 1].astype(np.float64)
    s = top_n(start_logits)[:, None]
    e = top_n(end_logits)[None, :]
    valid = (
        (feature.word[s] >= 0)
        & (feature.word[e] >= 0)
        & feature.max_context[s]
        & (e >= s)
        & (e - s + 1 <= MAX_ANSWER)
    )
    if not valid.any():
        return None
    score = np.where(valid, start_logits[s] + end_logits[e], -np.inf)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return float(score[i, j]), int(s[i, 0]), int(e[0, j])


def predict(
    example: Example,
    features: Sequence[tuple[Feature, np.ndarray]],
    to_tokens: ToTokens,
    lower: bool = True,
) -> str:
    """The answer text for ``example`` from its (feature, logits) pairs, in feature order."""
    best: tuple[Span, Feature] | None = None
    for feature, logits in features:
        span = best_span(logits, feature)
        if span is not None and (best is None or span[0] > best[0][0]):
            best = (span, feature)
    if best is None:
        return EMPTY
    (_, start, end), feature = best
    pieces = " ".join(to_tokens(feature.ids[0, start : end + 1].tolist()))
    tok_text = " ".join(pieces.replace(" ##", "").replace("##", "").split())
    words = example.doc_tokens[feature.word[start] : feature.word[end] + 1]
    return final_text(tok_text, " ".join(words), lower)


def final_text(pred_text: str, orig_text: str, lower: bool = True) -> str:
    """Project normalised ``pred_text`` onto ``orig_text`` (reference ``get_final_text``)."""
    tok_text = " ".join(basic_tokenize(orig_text, lower))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1
    orig_ns, orig_map = _strip_spaces(orig_text)
    tok_ns, tok_map = _strip_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text
    tok_s_to_ns = {v: k for k, v in enumerate(tok_map)}
    ns_start, ns_end = tok_s_to_ns.get(start), tok_s_to_ns.get(end)
    if ns_start is None or ns_end is None:
        return orig_text
    return orig_text[orig_map[ns_start] : orig_map[ns_end] + 1]


def _strip_spaces(text: str) -> tuple[str, list[int]]:
    """``text`` without spaces, and the position in ``text`` of each remaining char."""
    kept = [i for i, c in enumerate(text) if c != " "]
    return "".join(text[i] for i in kept), kept


def basic_tokenize(text: str, lower: bool = True) -> list[str]:
    """BERT's BasicTokenizer: clean, space CJK, lower and strip accents, split punctuation."""
    tokens: list[str] = []
    for word in _space_cjk(_clean(text)).split():
        if lower:
            word = _strip_accents(word.lower())
        tokens.extend(_split_punct(word))
    return " ".join(tokens).split()


def _clean(text: str) -> str:
    out = []
    for c in text:
        if ord(c) in (0, 0xFFFD) or _is_control(c):
            continue
        out.append(" " if c in " \t\n\r" or unicodedata.category(c) == "Zs" else c)
    return "".join(out)


def _is_control(c: str) -> bool:
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _space_cjk(text: str) -> str:
    return "".join(f" {c} " if any(lo <= ord(c) <= hi for lo, hi in _CJK) else c for c in text)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _is_punct(c: str) -> bool:
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _split_punct(word: str) -> list[str]:
    out: list[str] = []
    new_word = True
    for c in word:
        if _is_punct(c):
            out.append(c)
            new_word = True
        else:
            if new_word:
                out.append("")
            out[-1] += c
            new_word = False
    return out
