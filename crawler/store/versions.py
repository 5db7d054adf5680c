"""Versions: what a stored version holds, and the one decision of what a fetch does to its article.

`judge` is the versioning decision of both write paths (one page at a time, and
group-committed batches): given the article's stored state and the hashes of
its versions, a page either appends version n+1, only touches the article
(unchanged, cosmetic, degraded), points it back at an earlier version
(reverted), or must wait for a repair (a writer died between its two writes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import zstandard
from bson import Binary

from crawler.text.nonarticle import Evidence
from crawler.types import Doc
from crawler.version.decide import REVERTED, Decision, Snapshot, decide

RAW_ZSTD_LEVEL = 3  # 0.9 ms a page; level 10 saves 10 % of the bytes for 4x the CPU


REPAIR, REVERT, TOUCH, APPEND = "repair", "revert", "touch", "append"


def compress_raw(body: bytes) -> Binary:
    return Binary(zstandard.ZstdCompressor(level=RAW_ZSTD_LEVEL).compress(body))


def decompress_raw(blob: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(blob)


@dataclass
class Page:
    """One fetched and extracted article page, ready to be stored."""

    article_id: str
    url: str
    site: str
    fetched_at: datetime
    snapshot: Snapshot
    aliases: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    language: str | None = None
    raw_html: bytes = b""
    raw_zstd: bytes | None = None  # compressed by the extraction worker; else at write time
    raw_size: int | None = None  # len(raw_html) when the worker kept only the compressed bytes
    shingles: set[int] | None = None  # the story index's shingles, computed by the worker
    body_hash: str | None = None  # and its exact-copy key (normalize.body_hash)
    http: dict[str, Any] = field(default_factory=dict)
    extractor: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    agency: str | None = None  # crawler.stories.agency.agency_of, computed by the worker
    photo_agency: str | None = None  # crawler.stories.agency.photo_agency_of, likewise
    # what the response and the run's other pages say (crawler.text.nonarticle): set by the
    # extraction worker, completed with the run's evidence before the page is judged
    evidence: Evidence | None = None


@dataclass(frozen=True)
class Verdict:
    """What a write does with a page (`action`), and the versioning decision behind it."""

    action: str  # REPAIR, REVERT, TOUCH or APPEND
    decision: Decision | None  # None only for REPAIR: nothing is decided before the repair
    number: int  # APPEND: the version to write; otherwise the article's version count

    @property
    def made(self) -> Decision:
        assert self.decision is not None, "a repair decides nothing"
        return self.decision


def judge(
    page: Page, article: Doc | None, hashes: dict[str, int], view: CurrentView | None = None
) -> Verdict:
    """The versioning decision of both write paths, from the article's stored state.

    `hashes` maps the content hash of each stored version to its number; a version
    numbered past the article's count means a writer stopped between writing the
    version and moving the article to it, which must be repaired first.
    """
    count = count_of(article)
    current = current_snapshot(article, view)
    known = hashes if current is not None else {}
    if known and max(known.values()) > count:
        return Verdict(REPAIR, None, count)
    decision = decide(current, page.snapshot, frozenset(known), page.evidence)
    if decision.outcome == REVERTED:
        return Verdict(REVERT, decision, count)
    if not decision.makes_version:
        return Verdict(TOUCH, decision, count)
    return Verdict(APPEND, decision, count + 1)


def has_content(article: Doc | None) -> bool:
    """The article has a current version to compare a fetch with."""
    return bool(article and article.get("content_hash"))


def version_doc(page: Page, number: int, decision: Decision) -> Doc:
    snap = page.snapshot
    change: Doc = {"kinds": decision.change_kinds or ["first"], "summary": decision.reason}
    if number > 1:
        change.update(previous_version=number - 1, diff=decision.diff, stats=decision.stats)
    return {
        "_id": f"{page.article_id}:{number}",
        "article_id": page.article_id,
        "version": number,
        "url": page.url,
        "site": page.site,
        "fetched_at": page.fetched_at,
        "title": snap.title,
        "text": snap.text,
        "authors": page.authors,
        "published": page.published,
        "modified": page.modified,
        "language": page.language,
        "content_hash": snap.content_hash,
        "loose_hash": snap.loose_hash,
        "word_count": snap.word_count,
        "change": change,
        "raw": {
            "zstd": Binary(page.raw_zstd)
            if page.raw_zstd is not None
            else compress_raw(page.raw_html),
            "size": page.raw_size if page.raw_size is not None else len(page.raw_html),
        },
        "http": page.http,
        "extractor": page.extractor,
        "run_id": page.run_id,
    }


def state_from_version(version: Doc) -> Doc:
    """The article fields that mirror its newest version (articles is derived from versions)."""
    fields = {key: version.get(key) for key in MIRRORED_FIELDS}
    fields.update(
        version_count=version["version"],
        current_version=version["version"],
        last_changed=version["fetched_at"],
    )
    return fields


MIRRORED_FIELDS = (
    "url",
    "site",
    "title",
    "text",
    "content_hash",
    "loose_hash",
    "authors",
    "published",
    "modified",
    "language",
)


def count_of(article: Doc | None) -> int:
    return int(article.get("version_count", 0)) if article else 0


CurrentView = Callable[[str, tuple[str, ...]], tuple[str, ...]]  # (site, paragraphs) -> paragraphs


def current_snapshot(article: Doc | None, view: CurrentView | None = None) -> Snapshot | None:
    """The article's newest version as the new fetch is compared with it.

    `view` takes out of the stored text what is now known not to be the article
    (its site's chrome, learned after the version was stored).
    """
    if not article or not article.get("content_hash"):
        return None
    paragraphs = tuple(article.get("text", "").split("\n"))
    seen = view(article.get("site", ""), paragraphs) if view else paragraphs
    if seen != paragraphs:  # lines removed or blocks trimmed
        return Snapshot.of(article.get("title", ""), seen)
    return Snapshot(
        title=article.get("title", ""),
        paragraphs=paragraphs,
        content_hash=article["content_hash"],
        loose_hash=article.get("loose_hash", ""),
    )
