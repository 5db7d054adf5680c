"""Scrapy item pipeline: hands each fetched article page to crawler.pipeline.processing.

Thin on purpose. The spider yields {"page": FetchedPage}; extraction runs in
the worker pool (crawler.pipeline.workers), the database work in group-committed
batches, and the outcome goes to the run ledger. When MongoDB stays
unreachable after retries the page goes to the local journal instead of being
dropped.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy import Spider

from crawler.crawl.ledger import (
    ARTICLE_ERROR,
    ARTICLE_SPOOLED,
    ARTICLE_STORED,
    JOURNAL_UNWRITABLE,
    RunLedger,
)
from crawler.pipeline import processing, workers
from crawler.pipeline.context import RunContext
from crawler.pipeline.journal import TRANSIENT, with_retry
from crawler.pipeline.processing import FetchedPage, Outcome, Prepared
from crawler.store import Page
from crawler.stories import StoryIndex
from crawler.text import nonarticle
from crawler.text.chrome import ChromeBook
from crawler.version.decide import DEGRADED

log = logging.getLogger(__name__)


class StorePipeline:
    """Each article page of a crawl, through the crawl's run context (crawler.pipeline.context,
    read when the spider opens): its clock, database, store doorway, journal and ledger,
    and the run's tallies it adds to, `stages` and `coverage`, which the run's lifecycle
    reads back when the run ends."""

    def __init__(self, crawler: Any = None):
        self.crawler = crawler
        self.run: RunContext | None = None  # the crawl's, once its spider opened
        self.pool: workers.ExtractionPool | None = None
        self.own_pool: workers.ExtractionPool | None = None  # made here, closed here
        self.spider: Any = None  # the crawl's spider, once it opened
        self.chrome: ChromeBook | None = None
        self.stories: StoryIndex | None = None
        # what this run's pages have in common (a wall served for every article): the
        # batches of all extraction workers are written here, so one tally sees them all
        self.tally = nonarticle.RunTally()
        self.writer: workers.BatchWriter[Page, Outcome | Exception] = workers.BatchWriter(
            self._write
        )

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        self.spider = spider or self.crawler.spider
        self.run = self.spider.run
        self.chrome = ChromeBook(self.run.db)  # the site's chrome, read once per crawl
        self.stories = StoryIndex(self.run.db)  # and the common anchors, kept for the crawl
        settings = self.crawler.settings
        self.writer.linger_s = settings.getfloat("NEWSCRAWL_WRITE_LINGER", 1.0)
        # the runner's pool (crawler.run.runner), or, in a crawl Scrapy started by itself
        # (`scrapy crawl`, a Scrapyd job), one of the pipeline's own for this crawl
        self.pool = self.spider.extraction_pool
        if self.pool is None:
            self.pool = self.own_pool = workers.ExtractionPool(workers.workers_setting(settings))

    async def close_spider(self, spider: Spider | None = None) -> None:
        """Save what this crawl learned of its site's chrome (off the event loop, like every
        store call of a crawl; when MongoDB is away it is learned again from the same pages
        next time) and let the extraction workers go."""
        try:
            if self.chrome is not None and self.run is not None:
                await self.run.store.best_effort(self.chrome.flush, self.run.clock())
        finally:  # whatever the flush raised, the workers this pipeline started end
            if self.own_pool is not None:
                await asyncio.to_thread(self.own_pool.close)

    async def process_item(
        self, item: dict[str, Any], spider: Spider | None = None
    ) -> dict[str, Any]:
        fetched: FetchedPage = item["page"]
        assert self.run is not None, "the spider is not open"
        await self.handle_page(self.run, fetched)
        return {"url": fetched.url, "site": fetched.site}

    async def handle_page(self, run: RunContext, fetched: FetchedPage) -> Outcome | None:
        """Prepare, persist and record one page; journal it when the database is down.

        Whatever happens, the page ends as exactly one fetch record (a store
        outcome, an error, or `spooled`) and one of the article/* counters, which
        the runner checks add up before it calls a run "ok".
        """
        ledger = run.ledger
        try:
            return await self._handle(run, fetched)
        except Exception as exc:  # a bug here must cost one page, recorded, not the crawl
            log.exception("could not store %s", fetched.url)
            self._record_error(ledger, fetched, f"{fetched.url}: could not store: {exc!r}")
            return None

    async def _handle(self, run: RunContext, fetched: FetchedPage) -> Outcome | None:
        ledger = run.ledger
        run.stages.add("fetch", fetched.download_s)
        prepared = await self._prepare(fetched)
        run.stages.merge(prepared.timings)
        if prepared.page is None:
            log.warning("extraction failed: %s", prepared.error)
            self._record_error(ledger, fetched, prepared.error or "extraction failed")
            return None
        page = prepared.page
        run.coverage.add(
            page.snapshot.title, page.published, page.authors, page.snapshot.word_count
        )
        if run.store.is_down():
            self._spool(run, fetched, "MongoDB marked unreachable")
            return None
        result = await self.writer.submit(prepared.page)
        if isinstance(result, TRANSIENT):
            self._spool(run, fetched, repr(result))
            run.store.mark_down()
            return None
        if isinstance(result, Exception):
            log.error("could not store %s: %r", fetched.url, result)
            self._record_error(ledger, fetched, f"{fetched.url}: could not store: {result!r}")
            return None
        run.store.mark_up()
        ledger.count(ARTICLE_STORED)
        if result.outcome == DEGRADED:  # counted by kind on the run (wall, error, cut...)
            ledger.count(f"degraded/{nonarticle.kind_of(result.detail or '')}")
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

    def _spool(self, run: RunContext, fetched: FetchedPage, why: str) -> None:
        try:
            run.journal.append(fetched, why)
        except OSError as exc:  # a full or unwritable journal: the page is lost, say so
            self._unjournalled(run, fetched, why, exc)
            return
        run.ledger.count(ARTICLE_SPOOLED)
        run.ledger.count("journal/spooled")
        run.ledger.record(
            fetched.url,
            fetched.fetched_at,
            fetched.reason,
            "spooled",
            detail=f"kept in {run.journal.path} until MongoDB answers ({why})"[:500],
            status=fetched.status,
        )

    def _unjournalled(self, run: RunContext, fetched: FetchedPage, why: str, exc: OSError) -> None:
        """Neither stored nor journalled: an error for its URL (in `fetches` if MongoDB
        takes the record by the end, in the error log in any case), counted under
        `journal/unwritable` so the run ends `error`, never `ok`."""
        run.ledger.count(JOURNAL_UNWRITABLE)
        detail = (
            f"{fetched.url}: neither stored nor journalled: MongoDB unavailable ({why}) "
            f"and the journal cannot be written ({exc})"
        )
        log.error("page lost: %s", detail)
        self._record_error(run.ledger, fetched, detail)

    @staticmethod
    def _record_error(ledger: RunLedger, fetched: FetchedPage, detail: str) -> None:
        ledger.count(ARTICLE_ERROR)
        ledger.record(
            fetched.url,
            fetched.fetched_at,
            fetched.reason,
            "error",
            detail=detail[:500],
            status=fetched.status,
        )

    async def _prepare(self, fetched: FetchedPage) -> Prepared:
        assert self.pool is not None, "the spider is not open"
        try:
            return await self.pool.run(processing.prepare, fetched)
        except BrokenProcessPool:  # the pool starts a fresh worker for the next page
            return Prepared(None, f"{fetched.final_url}: the extraction worker died on this page")
        except Exception as exc:  # a bug or a pathological page must not stop the crawl
            log.exception("extraction crashed on %s", fetched.final_url)
            return Prepared(None, f"{fetched.final_url}: extraction crashed: {exc!r}"[:500])

    def _write(self, pages: list[Page]) -> list[Outcome | Exception]:
        """One batch to the store (runs in a thread). Transient errors are retried, then
        returned for every page (they go to the journal); any other failure is narrowed
        down to the page that causes it, so one bad page cannot fail its neighbours."""
        run = self.run
        assert run is not None, "the spider is not open"
        try:
            return list(
                with_retry(
                    lambda: processing.persist_batch(
                        run.db,
                        pages,
                        run.clock(),
                        run.stages,
                        self.chrome,
                        self.stories,
                        self.tally,
                    )
                )
            )
        except TRANSIENT as exc:
            return [exc] * len(pages)
        except Exception as exc:
            if len(pages) == 1:
                return [exc]  # the caller records it for this page's URL
        results: list[Outcome | Exception] = []
        for page in pages:
            results += self._write([page])
        return results
