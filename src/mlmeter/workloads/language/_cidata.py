"""The CI data set: a small SQuAD v1.1 document that mlmeter writes itself.

Six paragraphs about invented river towns, six questions each, plus one long
paragraph (a regional chronicle, over 384 tokens) whose questions span several
windows, so that the doc-stride and max-context logic runs too. Everything is built
from the fixed tables below, so the document is identical on every machine.
"""

from __future__ import annotations

from typing import Any

TOWNS = (
    # name, province, river, year, founder, trade, landmark, population, writer
    (
        "Arlen",
        "Velmora",
        "the Sella",
        "1642",
        "Tobias Renn",
        "wool",
        "the Old Bridge",
        "12,400",
        "Marta Quill",
    ),
    (
        "Brennick",
        "Osterfeld",
        "the Lune",
        "1588",
        "Hedda Voss",
        "salt",
        "the Bell Tower",
        "8,150",
        "Jonas Ebb",
    ),
    (
        "Corvale",
        "Velmora",
        "the Dray",
        "1703",
        "Anselm Kirr",
        "timber",
        "the Grain Exchange",
        "21,900",
        "Ida Fenwick",
    ),
    (
        "Dunmere",
        "Halvard",
        "the Otter",
        "1615",
        "Clement Ash",
        "linen",
        "the Abbey Gate",
        "5,730",
        "Rosa Tamsin",
    ),
    (
        "Elsworth",
        "Osterfeld",
        "the Wend",
        "1677",
        "Greta Holm",
        "copper",
        "the Clock House",
        "16,080",
        "Piet Lorrow",
    ),
    (
        "Fallowby",
        "Halvard",
        "the Bray",
        "1729",
        "Oswin Marr",
        "cheese",
        "the Round Market",
        "9,640",
        "Agnes Dale",
    ),
)

_SENTENCES = (
    "{name} is a market town on the banks of {river} in the province of {province}.",
    "It was founded in {year} by the merchant {founder}, who built the first mill beside the ford.",
    "For most of its history the town grew rich on the {trade} trade, and its weekly "
    "fair drew buyers from across the valley.",
    "The best-known landmark is {landmark}, a stone building finished some forty years "
    "after the founding.",
    "According to the census of 1901, {name} had a population of {population}.",
    "The novelist {writer} described its narrow streets in a book that is still read "
    "in local schools.",
    "Today the economy depends on tourism, small workshops and a regional hospital.",
)

_QUESTIONS = (
    ("Who founded {name}?", "founder"),
    ("In what year was {name} founded?", "year"),
    ("On which river does {name} stand?", "river"),
    ("What trade made {name} rich?", "trade"),
    ("What was the population of {name} in 1901?", "population"),
    ("Which novelist described the streets of {name}?", "writer"),
)

_FIELDS = (
    "name",
    "province",
    "river",
    "year",
    "founder",
    "trade",
    "landmark",
    "population",
    "writer",
)


def ci_squad() -> dict[str, Any]:
    """The CI document in the SQuAD v1.1 layout (``{"version", "data"}``)."""
    towns = [dict(zip(_FIELDS, t, strict=True)) for t in TOWNS]
    paragraphs = [_town_paragraph(i, t) for i, t in enumerate(towns)]
    paragraphs.append(_chronicle(towns))
    article = {"title": "River towns (mlmeter CI data)", "paragraphs": paragraphs}
    return {"version": "1.1", "data": [article]}


def _town_paragraph(index: int, town: dict[str, str]) -> dict[str, Any]:
    order = list(_SENTENCES[1:-1])
    shift = index % len(order)  # vary where each answer sits in the paragraph
    sentences = [_SENTENCES[0], *order[shift:], *order[:shift], _SENTENCES[-1]]
    context, spans = _render(sentences, town)
    qas = [
        _qa(f"ci-{index}-{k}", q.format(**town), town[field], spans[field])
        for k, (q, field) in enumerate(_QUESTIONS)
    ]
    return {"context": context, "qas": qas}


def _chronicle(towns: list[dict[str, str]]) -> dict[str, Any]:
    parts = [
        f"{t['name']} grew up around {t['landmark']}, and its people were known for "
        f"their {t['trade']}. The {t['name']} fair was opened by {t['founder']} and was "
        f"held every autumn until the railway came. Visitors who wrote about the town in "
        f"the last century praised its gardens, its quiet lanes and its long market "
        f"hall, and several of them returned each summer to paint the river."
        for t in towns
    ]
    context = " ".join(parts)
    qas = []
    for k, t in enumerate(towns):
        question = f"Who opened the {t['name']} fair?"
        start = context.index(f"was opened by {t['founder']}") + len("was opened by ")
        qas.append(_qa(f"ci-chronicle-{k}", question, t["founder"], start))
    return {"context": context, "qas": qas}


def _render(sentences: list[str], town: dict[str, str]) -> tuple[str, dict[str, int]]:
    """Join the filled sentences; record where each field's first occurrence starts."""
    text = ""
    spans: dict[str, int] = {}
    for template in sentences:
        if text:
            text += " "
        for field in _FIELDS:
            key = "{" + field + "}"
            if key in template and field not in spans:
                before = template[: template.index(key)].format(**town)
                spans[field] = len(text) + len(before)
        text += template.format(**town)
    return text, spans


def _qa(qid: str, question: str, answer: str, start: int) -> dict[str, Any]:
    return {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": start}]}
