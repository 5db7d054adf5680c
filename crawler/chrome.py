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

The model lives in `site_chrome`, one document per (site, shape), bounded (at
most `MAX_SHAPES` shapes a site, each forgotten `FORGET_AFTER` after it was
last seen), so what a crawl learns depends on the database and the pages, not
on what else ran in the process, and a site's redesign is forgotten in time.
`SiteChrome` is plain and tested directly; `ChromeBook` reads and writes it.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crawler import normalize

MAX_LINE_WORDS = 24  # chrome lines are short; a body paragraph is never judged by shape
CONFIRM_PAGES = 3
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

Doc = dict[str, Any]


def line_shape(paragraph: str) -> str | None:
    """The line with what varies between fetches masked; None for a line too long to be chrome."""
    words = normalize.words(_NUMBER.sub("0", paragraph))  # "1,637" and "06:07" are one number
    if not words or len(words) > MAX_LINE_WORDS:
        return None
    return " ".join(
        "#" if _HAS_DIGIT.search(word) else "@" if word in _CALENDAR else word for word in words
    )


def content_key(paragraphs: tuple[str, ...] | list[str]) -> str:
    """What tells two articles apart: their longest paragraph."""
    longest = max(paragraphs, key=len, default="")
    return _digest(normalize.loose_form(longest))[:12]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class Shape:
    text: str
    pages: list[str] = field(default_factory=list)  # content keys, at most CONFIRM_PAGES
    last_seen: datetime | None = None

    @property
    def confirmed(self) -> bool:
        return len(self.pages) >= CONFIRM_PAGES


class SiteChrome:
    """What one site's pages have in common that is not any article's text."""

    def __init__(self, site: str, shapes: dict[str, Shape] | None = None):
        self.site = site
        self.shapes: dict[str, Shape] = {}
        self.dirty: dict[str, set[str]] = {}  # shapes learned since the last save: new pages
        self._by_size: dict[int, list[tuple[str, frozenset[str]]]] = {}
        self._verdicts: dict[str, bool] = {}
        for digest, entry in sorted((shapes or {}).items()):
            self._add(digest, entry)

    def _add(self, digest: str, entry: Shape) -> None:
        self.shapes[digest] = entry
        words = frozenset(entry.text.split())
        self._by_size.setdefault(len(words), []).append((digest, words))

    # -- learning -----------------------------------------------------------------

    def learn(self, paragraphs: tuple[str, ...] | list[str], seen_at: datetime) -> None:
        """Count this page's short lines towards the site's chrome."""
        key = content_key(paragraphs)
        day = seen_at.replace(hour=0, minute=0, second=0, microsecond=0)
        for shape in sorted({s for s in map(line_shape, paragraphs) if s}):
            digest = _digest(shape)
            if digest not in self.shapes:
                self._add(digest, Shape(shape))
            entry = self.shapes[digest]
            if key not in entry.pages and not entry.confirmed:
                entry.pages.append(key)
                self.dirty.setdefault(digest, set()).add(key)
                self._verdicts.clear()
            if entry.last_seen is None or entry.last_seen < day:
                entry.last_seen = day  # by the day: a re-fetch the same day writes nothing
                self.dirty.setdefault(digest, set())

    # -- judging ------------------------------------------------------------------

    def is_chrome(self, paragraph: str) -> bool:
        """Seen on CONFIRM_PAGES different articles, itself or with a few words changed."""
        shape = line_shape(paragraph)
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
        low, high = math.ceil(NEAR_SHARE * len(words)), math.floor(len(words) / NEAR_SHARE)
        for size in range(low, high + 1):
            for other_digest, other in self._by_size.get(size, ()):
                if other_digest != digest and _jaccard(words, other) >= NEAR_SHARE:
                    pages.update(self.shapes[other_digest].pages)
                    if len(pages) >= CONFIRM_PAGES:
                        return True
        return False

    def strip(self, paragraphs: tuple[str, ...] | list[str]) -> list[str]:
        """The article's own lines: chrome removed, unless that would take most of the page."""
        kept = [p for p in paragraphs if not self.is_chrome(p)]
        if len(kept) == len(paragraphs):
            return list(paragraphs)
        total = sum(len(p.split()) for p in paragraphs)
        if sum(len(p.split()) for p in kept) < (1 - MAX_STRIPPED_SHARE) * total:
            return list(paragraphs)  # more chrome than article: the model is wrong here
        return kept

    def chrome_lines(self) -> list[str]:
        """The shapes judged chrome, for people reading `site_chrome`."""
        return sorted(e.text for d, e in self.shapes.items() if self._judge(d, e.text))

    # -- bounded storage ------------------------------------------------------------

    def prune(self, now: datetime) -> list[str]:
        """Forget shapes not seen for FORGET_AFTER; keep at most MAX_SHAPES, chrome first.

        Returns the forgotten shapes' digests, for the store to delete.
        """
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
        forgotten = sorted(set(self.shapes) - {digest for digest, _ in keep})
        if forgotten:
            self.shapes, self._by_size = {}, {}
            for digest, entry in sorted(keep):
                self._add(digest, entry)
            self._verdicts.clear()
        for digest in forgotten:
            self.dirty.pop(digest, None)
        return forgotten


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


class ChromeBook:
    """The chrome models of the sites one caller stores pages of, read once, written as learned.

    One document per (site, shape) in `site_chrome`; a batch writes only the
    shapes it changed, with `$addToSet`, so two writers of one site (a crawl and
    a journal replay) merge instead of overwriting each other.
    """

    def __init__(self, db: Any):
        self.db = db
        self.models: dict[str, SiteChrome] = {}

    def model(self, site: str) -> SiteChrome:
        if site not in self.models:
            shapes = {
                doc["h"]: Shape(doc["text"], list(doc.get("pages", [])), doc.get("seen"))
                for doc in self.db.site_chrome.find({"site": site}).sort("_id", 1)
            }
            self.models[site] = SiteChrome(site, shapes)
        return self.models[site]

    def view(self, site: str, paragraphs: tuple[str, ...]) -> tuple[str, ...]:
        """A stored text as it compares now: without the chrome learned since it was stored."""
        model = self.models.get(site)
        return tuple(model.strip(paragraphs)) if model is not None else paragraphs

    def save(self, site: str, now: datetime) -> None:
        from pymongo import UpdateOne

        model = self.models.get(site)
        if model is None:
            return
        forgotten = model.prune(now)
        updates = [
            UpdateOne(
                {"_id": f"{site}:{digest}"},
                {
                    "$set": {
                        "site": site,
                        "h": digest,
                        "text": entry.text,
                        "seen": entry.last_seen,
                    },
                    "$addToSet": {"pages": {"$each": sorted(model.dirty[digest])}},
                },
                upsert=True,
            )
            for digest, entry in sorted(model.shapes.items())
            if digest in model.dirty
        ]
        if updates:
            self.db.site_chrome.bulk_write(updates, ordered=False)
        if forgotten:
            self.db.site_chrome.delete_many({"_id": {"$in": [f"{site}:{d}" for d in forgotten]}})
        model.dirty.clear()
