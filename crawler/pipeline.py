"""Scrapy item pipeline: hands each fetched article page to crawler.processing.

Thin on purpose. The spider yields {"page": FetchedPage}; extraction runs in
the worker pool (crawler.workers), the database work in group-committed
batches, and the outcome goes to the run ledger. When MongoDB stays
unreachable after retries the page goes to the local journal instead of being
dropped.
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy import Spider

from crawler import processing, workers
from crawler.journal import TRANSIENT, Journal, with_retry
from crawler.processing import FetchedPage, Outcome, Prepared
from crawler.stages import StageClock
from crawler.store import Page, utcnow

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler: Any = None):
        self.crawler = crawler
        self.journal = Journal()
        self.clock = StageClock()
        self.pool: ProcessPoolExecutor | None = None
        self.spider: Any = None  # set when the spider opens; the writer thread uses its db
        self.writer: workers.BatchWriter[Page, Outcome | Exception] = workers.BatchWriter(
            self._write
        )

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        self.spider = spider or self.crawler.spider
        self.spider.stage_clock = self.clock
        settings = self.crawler.settings
        self.writer.linger_s = settings.getfloat("NEWSCRAWL_WRITE_LINGER", 1.0)
        count = settings.getint("NEWSCRAWL_EXTRACT_WORKERS", -1)
        self.pool = workers.acquire_pool(count if count >= 0 else workers.default_workers())

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.pool is not None:
            self.pool = None
            workers.release_pool()

    async def process_item(
        self, item: dict[str, Any], spider: Spider | None = None
    ) -> dict[str, Any]:
        fetched: FetchedPage = item["page"]
        await self.handle_page(spider or self.crawler.spider, fetched)
        return {"url": fetched.url, "site": fetched.site}

    async def handle_page(self, spider: Any, fetched: FetchedPage) -> Outcome | None:
        """Prepare, persist and record one page; journal it when the database is down."""
        ledger = spider.ledger
        self.clock.add("fetch", fetched.download_s)
        prepared = await self._prepare(fetched)
        self.clock.merge(prepared.timings)
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
        if spider.mongo_down_until and utcnow() < spider.mongo_down_until:
            self.journal.append(fetched, "MongoDB marked unreachable")
            ledger.count("journal/spooled")
            return None
        result = await self.writer.submit(prepared.page)
        if isinstance(result, TRANSIENT):
            self.journal.append(fetched, repr(result))
            ledger.count("journal/spooled")
            spider.mark_mongo_down()
            return None
        if isinstance(result, Exception):
            ledger.record(
                fetched.url,
                fetched.fetched_at,
                fetched.reason,
                "error",
                detail=f"{fetched.url}: could not store: {result!r}"[:500],
                status=fetched.status,
            )
            log.error("could not store %s: %r", fetched.url, result)
            return None
        spider.mongo_down_until = None
        ledger.record(
            fetched.url,
            fetched.fetched_at,
            fetched.reason,
            result.outcome,
            article_id=result.article_id,
            version=result.version,
            story_id=result.story_id,
            detail=result.detail,
            status=fetched.status,
        )
        return result

    async def _prepare(self, fetched: FetchedPage) -> Prepared:
        pool = self.pool
        try:
            return await workers.run_in_pool(pool, processing.prepare, fetched)
        except BrokenProcessPool:
            if pool is not None:
                self.pool = workers.replace_broken_pool(pool)
            return Prepared(None, f"{fetched.final_url}: the extraction worker died on this page")
        except Exception as exc:  # a bug or a pathological page must not stop the crawl
            log.exception("extraction crashed on %s", fetched.final_url)
            return Prepared(None, f"{fetched.final_url}: extraction crashed: {exc!r}"[:500])

    def _write(self, pages: list[Page]) -> list[Outcome | Exception]:
        """One batch to the store (runs in a thread). Transient errors are retried, then
        returned for every page (they go to the journal); any other failure is narrowed
        down to the page that causes it, so one bad page cannot fail its neighbours."""
        db = self.spider.db
        try:
            return list(
                with_retry(lambda: processing.persist_batch(db, pages, utcnow(), self.clock))
            )
        except TRANSIENT as exc:
            return [exc] * len(pages)
        except Exception:
            if len(pages) == 1:
                raise
        results: list[Outcome | Exception] = []
        for page in pages:
            try:
                results += self._write([page])
            except Exception as exc:  # reported for this page only
                results.append(exc)
        return results
