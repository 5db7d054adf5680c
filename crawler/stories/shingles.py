"""What a text is compared and looked up by: narrative shingles, ledes and anchors.

Anchors are the word 5-gram hashes that are 0 modulo ANCHOR_MODULUS (Broder's
mod-m sampling): the same shingle is sampled in every document that contains
it, so a copy holding 60 % of the wire text shares about 60 % of its anchors.
Why not MinHash LSH bands: a shortened wire copy is *contained* in the long
one, but its Jaccard similarity can be as low as 0.15 (engineering notes §4.2:
LSH at t=0.5 missed 18 % of trims). Each text also adds a bottom-k sketch of
each of its first ledes (LEDE_ANCHORS smallest shingles), so a copy that
shares little more than the lede is still found.

Shingles are taken within paragraphs, so reordered paragraphs keep theirs, and
from normalised text with repeated paragraphs already dropped (a lede printed
twice counts once).
"""

from __future__ import annotations

import difflib
import re
import zlib
from array import array
from collections.abc import Iterable, Sequence

from bson import Binary

from crawler import normalize

SHINGLE_WORDS = 5
ANCHOR_MODULUS = 12
MIN_PARAGRAPH_WORDS = 6
LEDE_ANCHORS = 2
LEDE_WORDS = 12  # a paragraph of at least this many words can be a lede
LEDES_KEPT = 3
WIRE_MARK = re.compile(
    r"\((AP|CP|Reuters|AFP|dpa|UPI)\)\s*[-—–]|^\s*[A-Z][A-Z .'-]{2,}\s*[-—–]\s", re.M
)
WIRE_AGENCIES = re.compile(
    r"associated press|canadian press|reuters|agence france|\bap\b|\bafp\b", re.I
)


def shingle_hashes(paragraphs: Sequence[str]) -> set[int]:
    """32-bit hashes of the word 5-grams of each paragraph's own narrative.

    Quoted speech is left out: independent reports of one event quote the same
    statement word for word ("Our thoughts and prayers are with all affected
    passengers..."), while copies of one wire story share the agency's own
    sentences. A text that is nearly all quotes keeps them (QUOTES_KEPT_BELOW).
    Short lines such as captions are skipped.
    """
    narrative = _shingles(_QUOTED.sub(" \n ", p) for p in paragraphs)
    if len(narrative) >= QUOTES_KEPT_BELOW:
        return narrative
    return _shingles(paragraphs)


def _shingles(paragraphs: Iterable[str]) -> set[int]:
    hashes: set[int] = set()
    for paragraph in paragraphs:
        for part in paragraph.split("\n"):
            tokens = normalize.words(part)
            if len(tokens) < MIN_PARAGRAPH_WORDS:
                continue
            for i in range(len(tokens) - SHINGLE_WORDS + 1):
                hashes.add(zlib.crc32(" ".join(tokens[i : i + SHINGLE_WORDS]).encode()))
    return hashes


# "MEMPHIS, Tenn. (WMC) - ", "LOS ANGELES (AP) — ", "VATICAN CITY — ": where a copy was
# filed, not what it says; left in, it makes the same lede look reworded
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][A-Z'.-]+(?:\s+[A-Z][A-Z'.-]+)*(?:,\s*[A-Z][A-Za-z.]+(?:\s[A-Z][A-Za-z.]+)?)?"
    r"|[A-Za-z .,'’-]{2,40}(?=\s*\([A-Z][A-Za-z]{1,9}\)))"
    r"\s*(?:\([A-Z][A-Za-z]{1,9}\))?\s*[-—–]+\s+"
)
_QUOTED = re.compile(r"“[^”]{0,2000}”|\"[^\"]{0,2000}\"|«[^»]{0,2000}»")
QUOTES_KEPT_BELOW = 20  # narrative shingles: fewer than this and the quotes count too


def ledes_of(paragraphs: Sequence[str]) -> list[str]:
    """The first substantive paragraphs, quotes left out: where a wire copy shows itself
    even when an agency's write-thru or a regional desk rewrote the rest."""
    found: list[str] = []
    for paragraph in paragraphs:
        tokens = normalize.words(_QUOTED.sub(" ", _DATELINE.sub("", paragraph, count=1)))
        if len(tokens) >= LEDE_WORDS:
            found.append(" ".join(tokens[:60]))
            if len(found) == LEDES_KEPT:
                break
    return found


def lede_similarity(mine: Sequence[str], theirs: Sequence[str], enough: float = 0.0) -> float:
    """Best word-sequence ratio between one text's first two ledes and the other's three.

    A 5-gram measure misses a lede reworded in a few places ("12-storey", "with a
    roar", "(local time)"); difflib's ratio over words does not. With `enough`,
    the answer only has to say whether some pair reaches it: difflib's cheap upper
    bounds skip the pairs that cannot, and the search stops at the first that
    does (most candidates share a phrase or two with a text, not its lede).
    """
    best = 0.0
    pairs = {
        (a, b)
        for first, second in ((mine, theirs), (theirs, mine))
        for a in first[:2]
        for b in second
    }
    for a, b in sorted(pairs):
        matcher = difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False)
        if matcher.real_quick_ratio() < enough or matcher.quick_ratio() < enough:
            continue
        best = max(best, matcher.ratio())
        if enough and best >= enough:
            break
    return best


def anchors_of(hashes: Iterable[int], ledes: Sequence[str] = ()) -> list[int]:
    """The shingles a text is looked up by: every one that is 0 modulo ANCHOR_MODULUS, and
    the LEDE_ANCHORS smallest of each of its first two ledes (a bottom-k sketch: two ledes
    that are nearly the same share most of them, however short the copy)."""
    pool = set(hashes)
    anchors = {h for h in pool if h % ANCHOR_MODULUS == 0}
    for lede in ledes:
        anchors.update(sorted(_shingles([lede]) & pool)[:LEDE_ANCHORS])
    return sorted(anchors) or sorted(pool)[:4]  # very short texts: a few shingles stand in


def containment(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def pack(hashes: set[int]) -> Binary:
    return Binary(zlib.compress(array("I", sorted(hashes)).tobytes(), 1))


def unpack(blob: bytes) -> set[int]:
    values = array("I")
    values.frombytes(zlib.decompress(blob))
    return set(values)


def is_wire_copy(paragraphs: Sequence[str], authors: Sequence[str]) -> bool:
    """Carries a wire dateline ("HALIFAX (CP) —") or a wire agency as byline."""
    lede = paragraphs[0] if paragraphs else ""
    return bool(WIRE_MARK.search(lede[:200])) or any(WIRE_AGENCIES.search(a) for a in authors)
