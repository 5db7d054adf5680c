"""The life of one crawl run, however the crawl was started: a Scrapy extension.

`newscrawl crawl`, the service's children (which run `newscrawl crawl`),
`scrapy crawl news` and Scrapyd jobs all run the spider in a Scrapy crawler
with crawler.settings, whose EXTENSIONS build `RunLifecycle` from_crawler for
each crawl. It does the run's bookkeeping, the same way on every path:

- spider opened: prepare the store (unless the process did already), take the
  site's lease (crawler.run.lease), create the run record. A site another crawl
  holds is recorded `skipped-busy`, and the spider closed with that reason
  before it fetches anything.
- spider closed: let the spider note what it learnt of its sources, judge the
  outcome (crawler.run.outcomes), record the run's end with its extraction drift
  (crawler.pipeline.drift) and the site's failed runs in a row, release the lease.

It works from the crawl's run context (crawler.pipeline.context), which the spider made
and declares as `spider.run`: the site, run id, clock, database, ledger, and what the
item pipeline measured (`stages`, `coverage`). The run's result goes to whoever listens
for `crawler.run.outcomes.run_ended` on the crawler's signals (the runner does).

The store calls run off Scrapy's event loop, through the run's
crawler.pipeline.offload doorway. The spider stays Scrapy glue: it never sees the lease.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from pymongo.errors import PyMongoError
from scrapy import signals
from scrapy.exceptions import CloseSpider

from crawler.crawl.ledger import JOURNAL_UNWRITABLE, MEMORY_EXCEEDED, memory_exceeded_error
from crawler.pipeline import drift, journal
from crawler.pipeline.context import RunContext
from crawler.run.lease import LeaseHeld, SiteLease
from crawler.run.outcomes import (
    LEASE_LOST,
    SKIPPED_BUSY,
    CrawlFacts,
    RunResult,
    Verdict,
    consecutive_failures,
    crawl_left_open,
    judge,
    run_ended,
    source_outcomes,
)
from crawler.run.runner import prepare_store
from crawler.store.reads import latest

log = logging.getLogger(__name__)

STOP_RETRY_S, STOP_ATTEMPTS = 0.2, 300
STORE_UNAVAILABLE = "store-unavailable"  # close reason: the run could not be opened
# set by a process that prepared the store itself before its crawls (crawler.run.runner)
PREPARED_SETTING = "NEWSCRAWL_STORE_PREPARED"


class RunLifecycle:
    """Lease, run record, judgement, drift and release around one crawl (see the module)."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.run: RunContext | None = None  # the crawl's, once its spider opened
        self.lease: SiteLease | None = None
        self.busy: str | None = None  # why the site could not be crawled
        self.open_error: str | None = None  # why the run could not be opened
        self.result: RunResult | None = None
        # a crawl stopped (SIGTERM) while its run is being opened closes at once, in
        # another store thread: its end waits for the opening, so the lease it takes and
        # the run it records are released and ended too, never left behind
        self._opening = threading.Lock()
        self._ended = False  # the run's end was recorded: a late opening must not start it
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.crawl_left_open, signal=crawl_left_open)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunLifecycle:
        return cls(crawler)

    # -- opening ---------------------------------------------------------------------

    async def spider_opened(self, spider: Any) -> None:
        run = self.run = spider.run
        site = run.site
        run.ledger.watch_sources([*site.feeds, *site.sitemaps, *site.listings])
        reason = await run.store.run(self._open, run)
        if reason:
            raise CloseSpider(reason)

    def _open(self, run: RunContext) -> str | None:
        """Take the lease and create the run record; the close reason when the crawl
        cannot run (another crawl holds the site, or the store is out of reach)."""
        with self._opening:
            if self._ended:  # closed before it opened (stopped at once): nothing to start
                return None
            return self._open_run(run)

    def _open_run(self, run: RunContext) -> str | None:
        name = run.site.name
        try:
            if not self.crawler.settings.getbool(PREPARED_SETTING):
                prepare_store(run.db, run.clock)
            lease = SiteLease(
                run.db,
                name,
                run.run_id,
                on_lost=stopper(self.crawler, name),
                clock=run.clock,
            )
            try:
                lease.acquire()
            except LeaseHeld as exc:
                log.warning("%s", exc)
                self.busy = str(exc)
                return SKIPPED_BUSY
            self.lease = lease
            run.ledger.start()  # on record before anything can fail
        except Exception as exc:  # never crawl without a lease and a run on record
            why = "MongoDB unavailable" if isinstance(exc, PyMongoError) else "could not start"
            self.open_error = f"{why} when the crawl started: {exc!r}"[:500]
            log.error("%s: %s", name, self.open_error)
            if self.lease is not None:
                self.lease.release()
                self.lease = None
            return STORE_UNAVAILABLE
        return None

    # -- closing ---------------------------------------------------------------------

    async def spider_closed(self, spider: Any, reason: str) -> None:
        run = spider.run
        try:
            if self.busy is None and self.open_error is None:
                try:
                    await spider.wrap_up(reason)
                except Exception:  # its sources are read whole next time; the run still ends
                    log.exception("%s: the crawl's wrap-up failed", run.site.name)
            self.result = await run.store.run(self._finish, run, reason)
        finally:
            run.store.close()
            self._announce()

    def crawl_left_open(self) -> None:
        """End a run whose spider Scrapy never closed (the reactor stopped while the run was
        being opened; crawler.run.runner sends `crawl_left_open`): judged as a `shutdown`,
        its store closed. A crawl that never opened has no run to end."""
        run = self.run
        if run is None or self.result is not None:
            return
        try:
            self.result = self._finish(run, "shutdown")
        finally:
            run.store.close()
            self._announce()

    def _announce(self) -> None:
        """Tell the crawl's listeners (the runner) how the run ended, once it is recorded."""
        if self.result is not None:
            self.crawler.signals.send_catch_log(run_ended, result=self.result)

    def _finish(self, run: RunContext, reason: str) -> RunResult:
        """Judge the run, record its end and free the site, whatever happened to the crawl."""
        with self._opening:
            self._ended = True
            return self._finish_run(run, reason)

    def _finish_run(self, run: RunContext, reason: str) -> RunResult:
        name, run_id, ledger = run.site.name, run.run_id, run.ledger
        try:
            verdict = self._verdict(run, reason)
        except Exception as exc:  # the run must still end and free its site
            log.exception("run %s of %s could not be judged", run_id, name)
            verdict = Verdict("error", f"the run could not be judged: {exc!r}"[:500])
        now = run.clock()
        extra: dict[str, Any] = {}
        try:
            if self.busy is not None:
                ledger.start()  # a run that never started is on record too, and says why
            else:
                extra = _drift(run, now)
            if verdict.reason:
                extra["reason"] = verdict.reason
            extra["consecutive_failures"] = consecutive_failures(
                verdict.outcome, _previous_run(run, now)
            )
            ledger.finish(
                verdict.outcome,
                now,
                verdict.error,
                stages=run.stages.totals() if self.busy is None else None,
                extra=extra,
            )
        except Exception as exc:  # the data is stored or journalled; the run's end is not
            log.error("could not record the end of run %s: %r", run_id, exc)
            # never `ok` when the end could not be recorded
            verdict = Verdict(
                "error", f"the end of run {run_id} could not be recorded: {exc!r}"[:500]
            )
        finally:
            if self.lease is not None:
                self.lease.release()
        log.log(
            logging.INFO if verdict.outcome.startswith("ok") else logging.WARNING,
            "run %s of %s: %s%s",
            run_id,
            name,
            verdict.outcome,
            f" ({verdict.error})" if verdict.error else "",
        )
        return RunResult(
            name, run_id, verdict.outcome, ledger.summary(), verdict.error, verdict.reason
        )

    def _verdict(self, run: RunContext, reason: str) -> Verdict:
        if self.busy is not None:
            return Verdict(SKIPPED_BUSY, self.busy)
        if self.open_error is not None:
            return Verdict("error", self.open_error)
        ledger = run.ledger
        stats = ledger.stats
        counts = ledger.article_counts()
        summary = ledger.summary()
        site = run.site
        facts = CrawlFacts(
            close_reason=reason,
            lease_lost=self.lease.lost if self.lease is not None else None,
            fetched=counts["fetched"],
            unaccounted=ledger.unaccounted_pages(),
            spooled=counts["spooled"],
            errors=summary.get("errors", 0),
            responses=int(stats.get_value("downloader/response_count", 0) or 0),
            download_errors=int(stats.get_value("downloader/exception_count", 0) or 0),
            sources=source_outcomes(
                [*site.feeds, *site.sitemaps, *site.listings], ledger.source_last
            ),
            stored=counts["stored"],
            memory_error=memory_exceeded_error(ledger) if reason == MEMORY_EXCEEDED else None,
            unwritable=int(ledger.counters.get(JOURNAL_UNWRITABLE, 0)),
            degraded={
                key.split("/", 1)[1]: n
                for key, n in ledger.counters.items()
                if key.startswith("degraded/")
            },
        )
        return judge(facts, str(journal.journal_dir()))


def _previous_run(run: RunContext, now: datetime) -> dict[str, Any] | None:
    """The site's last finished run before this one (its failed runs in a row)."""

    def earlier(doc: dict[str, Any]) -> bool:
        # a run found abandoned (its process killed: crawler.run.runner.mark_abandoned_runs)
        # carries no count; taking it for 0 restarted a failing site's count at 1
        return (
            doc.get("finished_at") is not None
            and doc.get("_id") != run.run_id
            and "consecutive_failures" in doc
        )

    try:
        return latest(run.db.crawl_runs, {"site": run.site.name}, "started_at", now, earlier)
    except PyMongoError:
        return None


def _drift(run: RunContext, now: datetime) -> dict[str, Any]:
    """What extraction found in this run against the site's last week (crawler.pipeline.drift)."""
    try:
        fields = drift.judge(run.db, run.site.name, run.run_id, run.coverage, now)
    except PyMongoError:  # the baseline is out of reach: the coverage itself still counts
        return {"extraction": run.coverage.summary()}
    for warning in fields["warnings"]:
        log.warning("%s: extraction drift: %s", run.site.name, warning)
    return fields


def stopper(crawler: Any, name: str) -> Any:
    """on_lost for a crawl's lease: close the spider (from the reactor thread) as lease-lost.

    The loss can be noticed before the engine has opened the spider, when Scrapy
    refuses to close it ("Engine slot not assigned"): the close is then tried
    again every STOP_RETRY_S until it takes, or the crawl has ended by itself.
    """

    def stop(reason: str) -> None:
        from scrapy.utils.defer import deferred_from_coro
        from twisted.internet import reactor as installed

        reactor: Any = installed  # its zope interfaces confuse mypy's view of callLater
        attempts = [0]

        def retry() -> None:
            attempts[0] += 1
            if attempts[0] < STOP_ATTEMPTS:
                reactor.callLater(STOP_RETRY_S, close)

        def close() -> None:
            engine = crawler.engine
            if not crawler.crawling or engine is None or engine.spider is None:
                retry()
                return
            if attempts[0] == 0:
                log.error("%s: %s; stopping the crawl", name, reason)
            deferred = deferred_from_coro(engine.close_spider_async(reason=LEASE_LOST))
            deferred.addErrback(lambda failure: retry() if failure.check(RuntimeError) else None)

        reactor.callFromThread(close)

    return stop
