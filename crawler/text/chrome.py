"""A site's page chrome, learned from its own pages: lines that are not the article.

Some chrome sits inside the article's own container, where no extractor can
tell it from the text by markup alone: an old CMS prints the site bar
("Friday, December 4, 2026 09:58 | Winnipeg -18°C Light snow | Regions |
Advertise | Login") and "2,837 people are reading this" in the same cell as
the story. Such a line changes on every fetch, so left in the text it makes a
version of an unchanged article.

What gives it away is repetition: the same short line, with only its digits,
times, days or months changed, stands on many *different* articles of one
site. Article text does not: a corrected number changes one line of one
article, whose shape no other article shares. So, per site:

- each short line is reduced to its *shape* (case-folded words; anything with a
  digit becomes `#`, a day or month name `@`);
- a shape seen on `CONFIRM_PAGES` different articles is chrome. "Different"
  means a different longest paragraph, so a wire story the site published twice
  does not teach that its own short paragraphs are chrome;
- a line whose shape is not known exactly is chrome when it shares most of its
  words with a confirmed chrome shape (the weather word changed: "Light snow"
  for "Clear");
- chrome lines are kept out of the stored text and so out of every fingerprint,
  on both sides of a comparison (a version stored before its site's chrome was
  learned is compared without it).

The model lives in `site_chrome`, one document per site, bounded (at most
`MAX_SHAPES` shapes, each forgotten `FORGET_AFTER` after it was last seen), so
what a crawl learns depends on the database and the pages, not on what else
ran in the process, and a site's redesign is forgotten in time. `SiteChrome`
is plain and tested directly; `ChromeBook` reads and writes it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crawler.text import normalize
from crawler.types import Doc

MAX_LINE_WORDS = 24  # chrome lines are short; a body paragraph is never judged by shape
CONFIRM_PAGES = 3
CONFIRM_CHANGED = 2  # articles on which a line changed between two fetches
MAX_SHAPES = 3000
FORGET_AFTER = timedelta(days=90)
NEAR_SHARE = 0.7  # share of words in common with a confirmed chrome shape (Jaccard)
NEAR_MIN_WORDS = 6  # shorter lines must match exactly: quotes like '"We are devastated," she said.'
MAX_STRIPPED_SHARE = 0.5  # never take more than half a page's words for chrome

_CALENDAR = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thur",
        "thurs",
        "fri",
        "sat",
        "sun",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "am",
        "pm",
    ]
)
_HAS_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\d(?:[\d.,:]*\d)?")


def line_shape(paragraph: str) -> str | None:
    """The line with what varies between fetches masked; None for a line too long to be chrome."""
    if paragraph.count(" ") > 2 * MAX_LINE_WORDS:
        return None  # plainly too long: not worth normalising
    words = normalize.words(_NUMBER.sub("0", paragraph))  # "1,637" and "06:07" are one number
    if not words or len(words) > MAX_LINE_WORDS:
        return None
    return " ".join(
        "#" if _HAS_DIGIT.search(word) else "@" if word in _CALENDAR else word for word in words
    )


def content_key(paragraphs: Sequence[str]) -> str:
    """What tells two articles apart: their longest paragraph, digits masked (a clock or a
    reader count glued to it must not make two fetches of one article two articles)."""
    longest = max(paragraphs, key=len, default="")
    return _digest(normalize.loose_form(_NUMBER.sub("0", longest)))[:12]


_SEPARATOR = re.compile(r"\s*\|\s*|\s+[\u00b7\u2022]\s+")
_UNFINISHED_TAIL = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+([^.!?]+)$")
_SENTENCE_MARK = re.compile(r"[.!?:;\"'\u201d\u2019)\]]$")


def segments(paragraph: str) -> list[tuple[int, int]]:
    """Where a block splits into parts that may be chrome glued to it: (start, end) spans.

    Parts are separated by a bar or a middle dot ("Home | Calgary | -14°C",
    "By Jane Doe · Updated 5 minutes ago"), and a paragraph's last part is
    split off where it follows a full stop and ends without one ("... said
    Monday. 1,234 readers online"): text that ends a sentence is the writer's;
    a count, a label or a timestamp glued after it does not end like one.
    """
    if paragraph.startswith("|"):
        return [(0, len(paragraph))]  # a data table's row: its cells are data, not chrome
    spans: list[tuple[int, int]] = []
    start = 0
    if "|" in paragraph or "\u00b7" in paragraph or "\u2022" in paragraph:  # most have none
        for match in _SEPARATOR.finditer(paragraph):
            if match.start() > start:
                spans.append((start, match.start()))
            start = match.end()
    if start < len(paragraph):
        spans.append((start, len(paragraph)))
    if spans and not _SENTENCE_MARK.search(paragraph):  # a finished last sentence: no tail
        first, last = spans[-1]
        tail = _UNFINISHED_TAIL.search(paragraph, first, last)
        if tail and not _SENTENCE_MARK.search(tail.group(1).rstrip()):
            spans[-1:] = [(first, tail.start(1)), (tail.start(1), last)]
    return [_tight(paragraph, a, b) for a, b in spans if paragraph[a:b].strip()]


def part_shape(part: str) -> str | None:
    """A part's shape, None when it is only numbers and dates: "14", "05:58 AM" or "2-1"
    alone could be a clock or a datum, and a datum corrected must stay an edit."""
    shape = line_shape(part)
    if shape is None or all(word in ("#", "@") for word in shape.split()):
        return None
    return shape


def _tight(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the spaces at its ends."""
    part = text[start:end]
    return start + len(part) - len(part.lstrip()), end - len(part) + len(part.rstrip())


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class Shape:
    text: str
    pages: list[str] = field(default_factory=list)  # content keys, at most CONFIRM_PAGES
    last_seen: datetime | None = None
    # the digest of the line's own text on each page, and the pages on which it changed
    # between two fetches while its shape stayed (a clock, a count)
    texts: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # content keys, at most CONFIRM_CHANGED

    @property
    def confirmed(self) -> bool:
        """On CONFIRM_PAGES different articles, or changed from fetch to fetch on
        CONFIRM_CHANGED of them (an edit changes one article once; chrome changes on all)."""
        return len(self.pages) >= CONFIRM_PAGES or len(self.changed) >= CONFIRM_CHANGED


class SiteChrome:
    """What one site's pages have in common that is not any article's text."""

    def __init__(self, site: str, shapes: dict[str, Shape] | None = None):
        self.site = site
        self.shapes: dict[str, Shape] = {}
        self.dirty = False  # learned something since it was read or saved
        # prefix filter for the near match: a shape is listed under the first few of its
        # words in a fixed order; two word sets with Jaccard >= NEAR_SHARE always share
        # one of those words, so only the shapes listed under the line's own are compared
        self._prefixes: dict[str, list[tuple[str, frozenset[str]]]] = {}
        self._verdicts: dict[str, bool] = {}
        for digest, entry in sorted((shapes or {}).items()):
            self._add(digest, entry)

    def _add(self, digest: str, entry: Shape) -> None:
        self.shapes[digest] = entry
        words = frozenset(entry.text.split())
        if len(words) >= NEAR_MIN_WORDS:
            for word in _prefix(words):
                self._prefixes.setdefault(word, []).append((digest, words))

    # -- learning -----------------------------------------------------------------

    def learn(
        self,
        paragraphs: Sequence[str],
        seen_at: datetime,
        shapes: Sequence[str | None] | None = None,
    ) -> None:
        """Count this page's short lines, and the parts of its blocks, towards the site's
        chrome (`shapes`: the lines' line_shape, when the caller has them)."""
        key = content_key(paragraphs)
        day = seen_at.replace(hour=0, minute=0, second=0, microsecond=0)
        if shapes is None:
            shapes = [line_shape(p) for p in paragraphs]
        seen: dict[str, str] = {}  # shape -> the text it was seen with on this page
        for paragraph, shape in zip(paragraphs, shapes, strict=True):
            if shape:
                seen.setdefault(shape, paragraph)
            parts = segments(paragraph)
            if len(parts) > 1:
                for start, end in parts:
                    part = paragraph[start:end]
                    shape_of_part = part_shape(part)
                    if shape_of_part:
                        seen.setdefault(shape_of_part, part)
        for shape in sorted(seen):
            self._count(shape, seen[shape], key, day)

    def _count(self, shape: str, text: str, key: str, day: datetime) -> None:
        digest = _digest(shape)
        if digest not in self.shapes:
            self._add(digest, Shape(shape))
        entry = self.shapes[digest]
        if not entry.confirmed:
            own = _digest(text)[:12]
            if key not in entry.pages:
                entry.pages.append(key)
                entry.texts[key] = own
                self.dirty = True
                self._verdicts.clear()
            elif entry.texts.get(key, own) != own and key not in entry.changed:
                entry.changed.append(key)  # two fetches of one article differ
                self.dirty = True
                self._verdicts.clear()
            if entry.confirmed:
                entry.texts = {}  # judged: the texts are no longer needed
        if entry.last_seen is None or entry.last_seen < day:
            entry.last_seen = day  # by the day: a re-fetch the same day changes nothing
            self.dirty = True

    # -- judging ------------------------------------------------------------------

    def is_chrome(self, paragraph: str, shape: str | None = None) -> bool:
        """Seen on CONFIRM_PAGES different articles, itself or with a few words changed."""
        shape = shape or line_shape(paragraph)
        if shape is None:
            return False
        digest = _digest(shape)
        if digest not in self._verdicts:
            self._verdicts[digest] = self._judge(digest, shape)
        return self._verdicts[digest]

    def _judge(self, digest: str, shape: str) -> bool:
        known = self.shapes.get(digest)
        if known is not None and known.confirmed:
            return True
        pages = set(known.pages) if known else set()
        words = frozenset(shape.split())
        if len(words) < NEAR_MIN_WORDS:
            return False
        seen: set[str] = {digest}
        low, high = math.ceil(NEAR_SHARE * len(words)), math.floor(len(words) / NEAR_SHARE)
        for word in _prefix(words):
            for other_digest, other in self._prefixes.get(word, ()):
                if other_digest in seen or not low <= len(other) <= high:
                    continue
                seen.add(other_digest)
                if _jaccard(words, other) >= NEAR_SHARE:
                    pages.update(self.shapes[other_digest].pages)
                    if len(pages) >= CONFIRM_PAGES:
                        return True
        return False

    def strip(
        self, paragraphs: Sequence[str], shapes: Sequence[str | None] | None = None
    ) -> list[str]:
        """The article's own lines: chrome lines removed, and chrome parts trimmed from the
        ends of blocks, unless that would take most of the page."""
        if shapes is None:
            shapes = [line_shape(p) for p in paragraphs]
        kept = []
        for paragraph, shape in zip(paragraphs, shapes, strict=True):
            if shape and self.is_chrome(paragraph, shape):
                continue
            own = self._trim(paragraph)
            if own:
                kept.append(own)
        if kept == list(paragraphs):
            return list(paragraphs)
        total = sum(len(p.split()) for p in paragraphs)
        if sum(len(p.split()) for p in kept) < (1 - MAX_STRIPPED_SHARE) * total:
            return list(paragraphs)  # more chrome than article: the model is wrong here
        return kept

    def _trim(self, paragraph: str) -> str:
        """The block without the chrome parts at its start and end ("" when all are chrome).

        Only the ends: chrome is glued before or after a block's text (a bar and a
        section name before, a reader count after); a part in the middle of the
        writer's text is the writer's.
        """
        parts = segments(paragraph)
        if len(parts) < 2:
            return paragraph
        first, last = 0, len(parts)
        while first < last and self._is_chrome_part(paragraph[slice(*parts[first])]):
            first += 1
        while last > first and self._is_chrome_part(paragraph[slice(*parts[last - 1])]):
            last -= 1
        if first == 0 and last == len(parts):
            return paragraph
        if first == last:
            return ""
        return paragraph[parts[first][0] : parts[last - 1][1]].strip()

    def _is_chrome_part(self, part: str) -> bool:
        shape = part_shape(part)
        return shape is not None and self.is_chrome(part, shape)

    def chrome_lines(self) -> list[str]:
        """The shapes judged chrome, for people reading `site_chrome`."""
        return sorted(e.text for d, e in self.shapes.items() if self._judge(d, e.text))

    # -- bounded storage ------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        """Forget shapes not seen for FORGET_AFTER; keep at most MAX_SHAPES, chrome first."""
        cutoff = now - FORGET_AFTER
        ranked = sorted(
            self.shapes.items(),
            key=lambda item: (
                not item[1].confirmed,
                -(item[1].last_seen.timestamp() if item[1].last_seen else 0.0),
                item[0],
            ),
        )
        keep = [
            (digest, entry)
            for digest, entry in ranked
            if entry.last_seen is None or entry.last_seen >= cutoff
        ][:MAX_SHAPES]
        if len(keep) < len(self.shapes):
            self.shapes, self._prefixes = {}, {}
            for digest, entry in sorted(keep):
                self._add(digest, entry)
            self._verdicts.clear()

    def to_doc(self, now: datetime) -> Doc:
        return {
            "_id": self.site,
            "updated_at": now,
            "chrome": self.chrome_lines(),  # what users look for; the shapes are the model
            "shapes": [
                {
                    "h": digest,
                    "text": entry.text,
                    "pages": entry.pages,
                    "seen": entry.last_seen,
                    **({"texts": entry.texts} if entry.texts else {}),
                    **({"changed": entry.changed} if entry.changed else {}),
                }
                for digest, entry in sorted(self.shapes.items())
            ],
        }

    @classmethod
    def from_doc(cls, site: str, doc: Doc | None) -> SiteChrome:
        shapes = {
            item["h"]: Shape(
                item["text"],
                list(item.get("pages", [])),
                item.get("seen"),
                dict(item.get("texts", {})),
                list(item.get("changed", [])),
            )
            for item in (doc or {}).get("shapes", [])
        }
        return cls(site, shapes)


def _prefix(words: frozenset[str]) -> list[str]:
    """The first len - ceil(NEAR_SHARE * len) + 1 words in a fixed order (prefix filtering).

    The order puts masks and the commonest words last, so the lists looked up are
    those of rarer words and stay short; any fixed order keeps the filter exact.
    """
    ordered = sorted(words, key=_prefix_rank)
    return ordered[: len(words) - math.ceil(NEAR_SHARE * len(words)) + 1]


def _prefix_rank(word: str) -> tuple[bool, bytes, str]:
    return (word in _COMMON, hashlib.blake2b(word.encode(), digest_size=4).digest(), word)


_COMMON = frozenset(
    [
        "#",
        "@",
        "the",
        "a",
        "an",
        "of",
        "to",
        "and",
        "in",
        "on",
        "for",
        "is",
        "are",
        "was",
        "at",
        "by",
        "with",
        "from",
        "this",
        "that",
        "it",
        "as",
        "be",
        "or",
    ]
)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


class ChromeBook:
    """The chrome models of the sites one caller stores pages of: each read once, written
    back when it learned something, at most every SAVE_EVERY and at `flush`.

    One document per site in `site_chrome` (bounded by MAX_SHAPES). A crawl holds
    its site's lease, so one writer at a time updates a site's model; a crawl that
    dies loses what it learned since its last save, which the next crawl learns
    again from the same pages.
    """

    SAVE_EVERY = timedelta(seconds=60)

    def __init__(self, db: Any):
        self.db = db
        self.models: dict[str, SiteChrome] = {}
        self.saved_at: dict[str, datetime] = {}

    def model(self, site: str) -> SiteChrome:
        if site not in self.models:
            self.models[site] = SiteChrome.from_doc(
                site, self.db.site_chrome.find_one({"_id": site})
            )
        return self.models[site]

    def view(self, site: str, paragraphs: tuple[str, ...]) -> tuple[str, ...]:
        """A stored text as it compares now: without the chrome learned since it was stored."""
        model = self.models.get(site)
        return tuple(model.strip(paragraphs)) if model is not None else paragraphs

    def save_due(self, now: datetime) -> None:
        for site, model in self.models.items():
            last = self.saved_at.get(site)
            if model.dirty and (last is None or now - last >= self.SAVE_EVERY):
                self.save(site, now)

    def flush(self, now: datetime) -> None:
        for site, model in self.models.items():
            if model.dirty:
                self.save(site, now)

    def save(self, site: str, now: datetime) -> None:
        model = self.models[site]
        model.prune(now)
        self.db.site_chrome.replace_one({"_id": site}, model.to_doc(now), upsert=True)
        model.dirty = False
        self.saved_at[site] = now
