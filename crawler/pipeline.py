"""Scrapy item pipeline: hands each fetched article page to crawler.processing.

Thin on purpose. The spider yields {"page": FetchedPage}; this records the
outcome in the run ledger. When MongoDB stays unreachable after retries the
page goes to the local journal instead of being dropped.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider

from crawler import processing
from crawler.journal import TRANSIENT, Journal, with_retry
from crawler.processing import FetchedPage
from crawler.store import utcnow

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler: Any = None):
        self.crawler = crawler
        self.journal = Journal()

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: dict[str, Any], spider: Spider | None = None) -> dict[str, Any]:
        fetched: FetchedPage = item["page"]
        handle_page(spider or self.crawler.spider, fetched, self.journal)
        return {"url": fetched.url, "site": fetched.site}


def handle_page(spider: Any, fetched: FetchedPage, journal: Journal) -> processing.Outcome | None:
    """Prepare, persist and record one page; journal it when the database is down."""
    ledger = spider.ledger
    prepared = processing.prepare(fetched)
    if prepared.page is None:
        ledger.record(
            fetched.url,
            fetched.fetched_at,
            fetched.reason,
            "error",
            detail=prepared.error,
            status=fetched.status,
        )
        log.warning("extraction failed: %s", prepared.error)
        return None
    page = prepared.page
    if spider.mongo_down_until and utcnow() < spider.mongo_down_until:
        journal.append(fetched, "MongoDB marked unreachable")
        ledger.count("journal/spooled")
        return None
    try:
        outcome = with_retry(lambda: processing.persist(spider.db, page, utcnow()))
    except TRANSIENT as exc:
        journal.append(fetched, repr(exc))
        ledger.count("journal/spooled")
        spider.mark_mongo_down()
        return None
    spider.mongo_down_until = None
    ledger.record(
        fetched.url,
        fetched.fetched_at,
        fetched.reason,
        outcome.outcome,
        article_id=outcome.article_id,
        version=outcome.version,
        story_id=outcome.story_id,
        detail=outcome.detail,
        status=fetched.status,
    )
    return outcome
