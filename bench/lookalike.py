"""Look-alike copies MADE from the real wire copies: the substitution script.

Spam and scraper sites republish wire copy with Latin letters swapped for
Cyrillic or Greek look-alikes so that duplicate detection misses it. No such
copy of the wire set's stories was found in the stored public pages the set
was built from (bench/wire_set.py), so `bench/clustering.py` makes them, and
labels them as made (`made: true`, role `lookalike-made`), from the real texts:

- the letters a, c, e, i, o, p, s, x, y (and A, B, C, E, H, I, K, M, O, P, T, X)
  become their Cyrillic look-alikes, and every fifth o becomes Greek omicron,
  as the spam pages do;
- only in every other word (a deterministic choice by the word's position), so
  a copy mixes plain and disguised words, which defeats a per-word script check;
- a zero-width space goes into every seventh disguised word.

The substitution is a fixed function of the text: the same text gives the same
copy in every run.

    python bench/lookalike.py < text.txt     # prints the disguised text
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

CYRILLIC = str.maketrans(
    {
        "a": "а",
        "c": "с",
        "e": "е",
        "i": "і",
        "o": "о",
        "p": "р",
        "s": "ѕ",
        "x": "х",
        "y": "у",
        "A": "А",
        "B": "В",
        "C": "С",
        "E": "Е",
        "H": "Н",
        "I": "І",
        "K": "К",
        "M": "М",
        "O": "О",
        "P": "Р",
        "T": "Т",
        "X": "Х",
    }
)
GREEK_O = "ο"
ZERO_WIDTH = "\u200b"


def disguise(text: str) -> str:
    """The text with look-alike letters in every other word (see the module docstring)."""
    lines = []
    for line in text.split("\n"):
        words = line.split(" ")
        out = []
        for position, word in enumerate(words):
            if position % 2:
                out.append(word)
                continue
            swapped = word.translate(CYRILLIC)
            if position % 10 == 0:
                swapped = swapped.replace("о", GREEK_O, 1)
            if position % 14 == 0 and len(swapped) > 3:
                swapped = swapped[:2] + ZERO_WIDTH + swapped[2:]
            out.append(swapped)
        lines.append(" ".join(out))
    return "\n".join(lines)


def made_copies(docs: Iterable[dict[str, Any]], per_story: int = 1) -> list[dict[str, Any]]:
    """A disguised copy of the first `per_story` plain copies of each wire story."""
    made: list[dict[str, Any]] = []
    taken: dict[str, int] = {}
    for doc in docs:
        if doc.get("role") not in ("copy", "chrome", "chrome-headline", "captions", "comments"):
            continue
        if taken.get(doc["story"], 0) >= per_story:
            continue
        taken[doc["story"]] = taken.get(doc["story"], 0) + 1
        made.append(
            {
                **doc,
                "url": doc["url"] + "#lookalike-made",
                "role": "lookalike-made",
                "made": True,
                "title": disguise(doc.get("title") or ""),
                "text": disguise(doc["text"]),
            }
        )
    return made


if __name__ == "__main__":
    sys.stdout.write(disguise(sys.stdin.read()))
