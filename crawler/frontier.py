"""Which discovered URL to fetch in this crawl, and why — or why not.

The reasons are what `fetches.reason` records: new, updated (the feed entry or
sitemap lastmod is newer than our last fetch), due (the revisit schedule),
recheck (asked for), and for skips: too-old, not-due, offsite, duplicate,
limit. Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crawler import urls
from crawler.discovery import Entry


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
