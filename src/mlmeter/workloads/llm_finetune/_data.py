"""The fine-tuning task: short instructions with one right answer, generated from a fixed seed.

Six templated families, taken in turn: capital cities, two-number addition, reversing
letters, continuing an arithmetic sequence, sorting digits and upper-casing a made-up
word. Each example is ``"<instruction>\\nAnswer:"`` followed by ``" <answer><|im_end|>"``;
as in the reference's SCROLLS set-up (loss on the summary only), the loss covers the
answer tokens and the closing end-of-turn token, never the prompt.

The data set is the same in every run (``DATA_SEED``, like a downloaded data set); the
run's seed only changes the LoRA initialisation and the order of training samples. The
evaluation set is drawn first, and no training prompt repeats an evaluation prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

DATA_SEED = 20260514
EVAL_SEED_OFFSET = 1  # the eval set comes from its own stream of the same fixed seed
IGNORE = -100  # label of a token the loss skips (the prompt, the padding)

CAPITALS: dict[str, str] = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
    "Japan": "Tokyo", "China": "Beijing", "Egypt": "Cairo", "Russia": "Moscow",
    "Canada": "Ottawa", "Kenya": "Nairobi", "Peru": "Lima", "Chile": "Santiago",
    "Greece": "Athens", "Norway": "Oslo", "Sweden": "Stockholm", "Finland": "Helsinki",
    "Poland": "Warsaw", "Austria": "Vienna", "Portugal": "Lisbon", "Ireland": "Dublin",
    "Cuba": "Havana", "Thailand": "Bangkok", "Vietnam": "Hanoi", "Iran": "Tehran",
    "Iraq": "Baghdad", "Turkey": "Ankara", "Argentina": "Buenos Aires",
    "Mexico": "Mexico City", "India": "New Delhi", "Denmark": "Copenhagen",
    "Hungary": "Budapest", "Belgium": "Brussels", "Netherlands": "Amsterdam",
    "Australia": "Canberra", "Brazil": "Brasilia", "Colombia": "Bogota",
    "Nigeria": "Abuja", "Ghana": "Accra", "Ethiopia": "Addis Ababa", "Morocco": "Rabat",
    "Ukraine": "Kyiv", "Romania": "Bucharest", "Czechia": "Prague", "Switzerland": "Bern",
    "Indonesia": "Jakarta", "Philippines": "Manila", "South Korea": "Seoul",
    "Pakistan": "Islamabad", "Saudi Arabia": "Riyadh", "Bulgaria": "Sofia",
    "Serbia": "Belgrade", "Croatia": "Zagreb", "Iceland": "Reykjavik", "Latvia": "Riga",
    "Lithuania": "Vilnius", "Estonia": "Tallinn", "Malaysia": "Kuala Lumpur",
    "Venezuela": "Caracas", "Uruguay": "Montevideo", "Bolivia": "La Paz",
}  # fmt: skip
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Example:
    """One instruction and its only right answer."""

    family: str
    prompt: str
    answer: str


def _capital(rng: np.random.Generator) -> tuple[str, str]:
    country = sorted(CAPITALS)[int(rng.integers(len(CAPITALS)))]
    return f"What is the capital of {country}?", CAPITALS[country]


def _add(rng: np.random.Generator) -> tuple[str, str]:
    a, b = (int(x) for x in rng.integers(1, 50, size=2))
    return f"What is {a} plus {b}?", str(a + b)


def _reverse(rng: np.random.Generator) -> tuple[str, str]:
    letters = [LETTERS[int(i)] for i in rng.integers(26, size=int(rng.integers(3, 6)))]
    return "Reverse the letters: " + " ".join(letters), " ".join(reversed(letters))


def _sequence(rng: np.random.Generator) -> tuple[str, str]:
    start, step = int(rng.integers(1, 21)), int(rng.integers(2, 10))
    terms = [str(start + i * step) for i in range(5)]
    return "Continue the sequence: " + ", ".join(terms[:3]), ", ".join(terms[3:])


def _sort(rng: np.random.Generator) -> tuple[str, str]:
    digits = [int(d) for d in rng.permutation(10)[:4]]
    return "Sort the digits: " + " ".join(map(str, digits)), " ".join(map(str, sorted(digits)))


def _upper(rng: np.random.Generator) -> tuple[str, str]:
    word = "".join(LETTERS[int(i)] for i in rng.integers(26, size=int(rng.integers(3, 6))))
    return f"Write in capitals: {word}", word.upper()


FAMILIES: dict[str, Callable[[np.random.Generator], tuple[str, str]]] = {
    "capital": _capital,
    "add": _add,
    "reverse": _reverse,
    "sequence": _sequence,
    "sort": _sort,
    "upper": _upper,
}


def generate(
    n: int, rng: np.random.Generator, exclude: frozenset[str] = frozenset()
) -> list[Example]:
    """``n`` examples, the families in turn, skipping prompts in ``exclude``."""
    names = list(FAMILIES)
    examples: list[Example] = []
    while len(examples) < n:
        family = names[len(examples) % len(names)]
        prompt, answer = FAMILIES[family](rng)
        if prompt not in exclude:
            examples.append(Example(family, prompt, answer))
    return examples


def make_split(n_train: int, n_eval: int) -> tuple[list[Example], list[Example]]:
    """The fixed training and evaluation sets (same in every run)."""
    eval_set = generate(n_eval, np.random.default_rng([DATA_SEED, EVAL_SEED_OFFSET]))
    held_out = frozenset(e.prompt for e in eval_set)
    train_set = generate(n_train, np.random.default_rng(DATA_SEED), held_out)
    return train_set, eval_set


@dataclass(frozen=True)
class Tokenized:
    """Token ids of one example: prompt, then answer plus the end-of-turn token."""

    prompt: tuple[int, ...]
    answer: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.prompt) + len(self.answer)


def tokenize(
    examples: Sequence[Example], tokenizer: Any, eos_id: int, max_len: int
) -> list[Tokenized]:
    """Tokenize every example; one longer than ``max_len`` tokens is an error, never cut."""
    prompts = tokenizer([e.prompt + "\nAnswer:" for e in examples])["input_ids"]
    answers = tokenizer([" " + e.answer for e in examples])["input_ids"]
    out = [Tokenized(tuple(p), (*a, eos_id)) for p, a in zip(prompts, answers, strict=True)]
    longest = max((len(t) for t in out), default=0)
    if longest > max_len:
        raise ValueError(f"an example has {longest} tokens, over max_sequence_length {max_len}")
    return out


def collate(items: Sequence[Tokenized], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and next-token ``labels`` (``IGNORE`` except answers).

    ``labels[i, t]`` is the token that position ``t`` must predict, so the model's
    output at ``t`` is scored against it directly (no shift needed). Right padding
    never changes a real position's output under a causal mask, so no attention mask
    is needed.
    """
    width = max(len(t) for t in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    for row, item in enumerate(items):
        tokens = item.prompt + item.answer
        ids[row, : len(tokens)] = torch.tensor(tokens)
        start = len(item.prompt) - 1  # the last prompt position predicts the first answer token
        labels[row, start : start + len(item.answer)] = torch.tensor(item.answer)
    return ids, labels
