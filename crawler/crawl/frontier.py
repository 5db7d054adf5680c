"""Which discovered URL to fetch in this crawl, and why — or why not.

The reasons are what `fetches.reason` records: new, updated (the feed entry or
sitemap lastmod is newer than our last fetch), due (the revisit schedule),
recheck (asked for), and for skips: too-old, not-due, offsite, duplicate,
limit, url-too-long; for what a per-crawl bound left out (SourceBudget):
entry-cap, sitemap-cap, and visited (a source already fetched in this crawl).
Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crawler import urls
from crawler.crawl.discovery import Entry


@dataclass(frozen=True)
class Choice:
    fetch: bool
    reason: str


@dataclass
class CrawlPlan:
    max_age: timedelta
    max_articles: int  # new articles per crawl; revisits of known ones do not count
    recheck: bool = False
    _claimed: set[str] = field(default_factory=set)
    _new_claimed: int = 0

    def claim(self, url: str, new: bool = False) -> bool:
        """Reserve a URL for this crawl; False if it (in any variant) is already taken.
        `new`: a URL not stored yet, which spends the new-article budget."""
        key = urls.url_key(url)
        if key in self._claimed:
            return False
        self._claimed.add(key)
        self._new_claimed += new
        return True

    def choose(
        self, entry: Entry, article: dict[str, Any] | None, now: datetime, domains: list[str]
    ) -> Choice:
        if len(entry.url) > urls.MAX_URL_LENGTH:
            return Choice(False, urls.TOO_LONG)
        if not urls.in_allowed_domains(entry.url, domains):
            return Choice(False, "offsite")
        if urls.url_key(entry.url) in self._claimed:
            return Choice(False, "duplicate")
        if article is None:
            newest = entry.newest
            if newest is not None and now - newest > self.max_age:
                return Choice(False, "too-old")
            if self._new_claimed >= self.max_articles:
                return Choice(False, "limit")
            return Choice(True, "new")
        if self.recheck:
            return Choice(True, "recheck")
        last_fetched = article.get("last_fetched")
        if entry.updated and last_fetched and entry.updated > last_fetched:
            return Choice(True, "updated")
        due = article.get("next_check_at")
        if due is not None and due <= now:
            return Choice(True, "due")
        return Choice(False, "not-due")


# -- bounded discovery ------------------------------------------------------------------

SAMPLE_SIZE = 20  # skipped URLs kept per source and reason (fetches.sample)
SAMPLE_URL_CHARS = 300  # a sampled URL is cut to this many characters


def source_key(url: str) -> str:
    """A feed or sitemap URL as the visited set knows it: w3lib's canonical form (query
    sorted, fragment dropped), so `index.xml` and `index.xml#top` are one source."""
    from w3lib.url import canonicalize_url

    return canonicalize_url(url.strip())


@dataclass
class SourceBudget:
    """What one crawl may spend on discovery, whatever its sources say.

    Each feed or sitemap is fetched at most once per crawl (a sitemap index that
    lists itself, or two that list each other, stop at once); at most
    `max_sitemaps` child sitemaps are fetched; at most `max_entries` feed and
    sitemap entries are read in all. What is left over is counted, not fetched.
    """

    max_sitemaps: int
    max_entries: int
    _visited: set[str] = field(default_factory=set)
    children: int = 0
    entries: int = 0

    def visit(self, url: str) -> bool:
        """Reserve a source for this crawl; False when it was already fetched or queued."""
        key = source_key(url)
        if key in self._visited:
            return False
        self._visited.add(key)
        return True

    def visited(self, url: str) -> bool:
        return source_key(url) in self._visited

    def take_child(self) -> bool:
        """One more child sitemap, if the cap allows."""
        if self.children >= self.max_sitemaps:
            return False
        self.children += 1
        return True

    @property
    def entries_left(self) -> int:
        return max(0, self.max_entries - self.entries)

    def take_entries(self, count: int) -> int:
        """How many of `count` entries may be read (the rest are left for later crawls)."""
        allowed = min(count, self.entries_left)
        self.entries += allowed
        return allowed


@dataclass
class SkipTally:
    """Skipped discovery entries of one source, as counts per reason and a bounded sample
    of URLs: one `fetches` row per source and reason instead of one per URL (a
    50,000-entry sitemap makes two rows, not 50,000)."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, url: str, count: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + count
        sample = self.samples.setdefault(reason, [])
        if len(sample) < SAMPLE_SIZE:
            sample.append(url[:SAMPLE_URL_CHARS])

    def add_many(self, reason: str, sample_urls: list[str], count: int) -> None:
        """`count` skips of one reason, of which these URLs (any number) are examples."""
        if count <= 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + count
        sample = self.samples.setdefault(reason, [])
        room = SAMPLE_SIZE - len(sample)
        sample.extend(u[:SAMPLE_URL_CHARS] for u in sample_urls[: max(0, room)])

    def items(self) -> list[tuple[str, int, list[str]]]:
        """(reason, count, sample) per reason, in the order first seen."""
        return [(reason, n, self.samples.get(reason, [])) for reason, n in self.counts.items()]
