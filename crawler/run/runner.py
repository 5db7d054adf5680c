"""Run crawls of sites in this process: the one code path of `newscrawl crawl` and the service.

The service runs each crawl as a child process (`python -m crawler crawl SITE
--trigger schedule`), which ends up here, so a crash, a hang or a leak stays in
that child. Here: prepare the store once (indexes, the journal of an outage, runs
whose process died), then one Scrapy crawler per site; each crawl's lease, run
record and end are crawler.run.lifecycle's, the same for `scrapy crawl news` and
Scrapyd jobs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import datetime
from typing import Any

from crawler.clock import Clock
from crawler.config import Config
from crawler.crawl.ledger import new_run_id
from crawler.maintenance.migrate import migrate_if_needed
from crawler.maintenance.repair import repair_unfinished_runs
from crawler.pipeline import journal, processing
from crawler.pipeline.workers import ExtractionPool, workers_setting
from crawler.run.outcomes import RunResult, crawl_left_open, run_ended
from crawler.store import ensure_indexes, insert_new, open_database
from crawler.stories import recheck_recent_merges

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0
__all__ = ["RunResult", "crawl_sites", "prepare_store", "replay_journal", "mark_abandoned_runs"]


# the spider by its name, found by Scrapy's spider loader in SPIDER_MODULES (crawler.settings)
# as `scrapy crawl news` and Scrapyd find it: spiders/ is the glue above the run, not below it
SPIDER = "news"


def replay_journal(db: Any, clock: Clock) -> journal.ReplayReport:
    """Store what was spooled while MongoDB was away: pages, fetch records, run ends.

    A page is stored, and a refusal recorded, at `clock()` (the replaying crawl's time).

    Idempotent, so a replay killed half-way is simply done again. A page that no
    longer extracts, or that the store refuses, is recorded in `fetches` as an
    error for its URL (reason `journal`) and its line kept in the journal's
    failed-*.jsonl: nothing spooled disappears without a trace.
    """

    def handle_page(page: processing.FetchedPage) -> None:
        prepared = processing.prepare(page)
        if prepared.page is None:
            detail = prepared.error or "extraction failed"
            _record_replay(db, page, "error", at=clock(), detail=detail[:500])
            raise journal.ReplayRefused(prepared.error)
        stored = prepared.page
        try:
            outcome = journal.with_retry(lambda: processing.persist(db, stored, clock()))
        except journal.TRANSIENT:
            raise
        except Exception as exc:
            detail = f"{page.url}: could not store: {exc!r}"[:500]
            _record_replay(db, page, "error", at=clock(), detail=detail)
            raise
        _record_replay(
            db,
            page,
            outcome.outcome,
            at=page.fetched_at,
            article_id=outcome.article_id,
            version=outcome.version,
        )

    def handle_records(kind: str, docs: list[dict[str, Any]]) -> None:
        if kind == "fetches":
            insert_new(db.fetches, docs)
        elif kind == "run":
            for doc in docs:
                fields = {k: v for k, v in doc.items() if k != "_id"}
                db.crawl_runs.update_one({"_id": doc["_id"]}, {"$set": fields})

    report = journal.replay(handle_page, handle_records, clock=clock)
    if report.pages or report.records:
        log.warning(
            "replayed %d pages and %d fetch/run records from the local journal into MongoDB",
            report.pages,
            report.records,
        )
    if report.failed or report.unreadable:
        log.error(
            "journal replay: %d lines could not be stored and %d were unreadable; "
            "kept in %s/failed-*.jsonl",
            report.failed,
            report.unreadable,
            journal.journal_dir(),
        )
    return report


def _record_replay(
    db: Any, page: processing.FetchedPage, outcome: str, at: datetime, **details: Any
) -> None:
    """The `fetches` row of a page stored (or refused) by a journal replay."""
    doc = {
        "url": page.url,
        "site": page.site,
        "run_id": page.run_id,
        "at": at,
        "reason": "journal",
        "outcome": outcome,
        "status": page.status,
        **details,
    }
    db.fetches.insert_one({k: v for k, v in doc.items() if v is not None})


def crawl_sites(
    config: Config,
    config_path: str,
    sites: list[str],
    trigger: str = "manual",
    recheck: bool = False,
    progress: Any = None,
    log_level: str = "WARNING",
    *,
    clock: Clock,
) -> list[RunResult]:
    """Crawl the named sites (concurrently, one crawler each) and return one result per site.

    `clock` is the time of every crawl of this process (the command line passes the wall
    clock).

    Each crawl's lease, run record and end are crawler.run.lifecycle's, as for `scrapy
    crawl` and Scrapyd jobs: a site another crawl holds ends `skipped-busy` while
    the others are crawled. No store call of a crawl runs on Scrapy's event loop
    (crawler.pipeline.offload), since the other sites' crawls are still fetching on it.
    """
    stop = EarlyStop.install()  # a SIGTERM before Scrapy takes over its signals
    db = open_database()
    prepare_store(db, clock)

    settings = crawl_settings()
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set(
        "LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline"
    )  # the command set up logging
    settings.set("NEWSCRAWL_STORE_PREPARED", True, priority="cmdline")  # done just above
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    if stop.signalled:
        return [RunResult(name, "", "interrupted", error=stop.why()) for name in sites]
    # the extraction workers of every crawl of this process, closed (the workers waited for)
    # when the crawls are over, however they end: done, failed, or stopped by a signal
    with ExtractionPool(workers_setting(settings)) as pool:
        return _crawl(settings, config_path, sites, trigger, recheck, progress, clock, pool, stop)


def _crawl(
    settings: Any,
    config_path: str,
    sites: list[str],
    trigger: str,
    recheck: bool,
    progress: Any,
    clock: Clock,
    pool: ExtractionPool,
    stop: EarlyStop,
) -> list[RunResult]:
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings)
    results: list[RunResult] = []
    crawlers: list[Any] = []
    recorded = RecordedRuns()
    for name in sites:
        run_id = new_run_id(name, clock())
        crawler = process.create_crawler(SPIDER)
        recorded.watch(crawler)  # before the crawl can start, so no run_ended is missed
        deferred = process.crawl(
            crawler,
            site=name,
            config=config_path,
            recheck=recheck,
            trigger=trigger,
            run_id=run_id,
            clock=clock,
            extraction_pool=pool,
        )
        deferred.addBoth(_collect, recorded, crawler, name, run_id, results)
        crawlers.append(crawler)
    if progress:
        _start_progress(crawlers, progress)
    stop.hand_over()
    process.start()
    _end_unclosed(crawlers, recorded, results)
    return results


class RecordedRuns:
    """The run each crawl's lifecycle recorded, as it announced it on its crawler's signals
    (crawler.run.outcomes.run_ended): how the runner learns a crawl's result without
    reaching into the spider or the extension."""

    def __init__(self) -> None:
        self._results: dict[int, RunResult] = {}

    def watch(self, crawler: Any) -> None:
        def ended(result: RunResult) -> None:
            self._results[id(crawler)] = result

        # held strongly: Scrapy's dispatcher keeps only a weak reference by default
        crawler.signals.connect(ended, signal=run_ended, weak=False)

    def of(self, crawler: Any) -> RunResult | None:
        return self._results.get(id(crawler))


def _end_unclosed(crawlers: list[Any], recorded: RecordedRuns, results: list[RunResult]) -> None:
    """A SIGTERM while a crawl's run is being opened finds Scrapy's engine not running yet:
    CrawlerProcess has nothing to close and stops the reactor, so the spider is never
    closed and its run would stay `running` (the service found it abandoned later, with
    no counters). Its lifecycle is told (`crawl_left_open`) and records its end as Scrapy's
    close would have: `interrupted`, the lease released."""
    for crawler in crawlers:
        if crawler.spider is None or recorded.of(crawler) is not None:
            continue
        crawler.signals.send_catch_log(crawl_left_open)  # the lifecycle ends its run
        result = recorded.of(crawler)
        if result is not None:
            results[:] = [r for r in results if r.site != result.site] + [result]


class EarlyStop:
    """SIGTERM or SIGINT before Scrapy installed its own handlers (while the store is
    prepared, say) would kill the process and leave its runs to be found abandoned:
    noted instead, and no crawl starts. Scrapy's handlers replace these once it runs
    (the first signal then closes each crawl as `shutdown`, recorded `interrupted`)."""

    def __init__(self) -> None:
        self.signalled: int | None = None

    @classmethod
    def install(cls) -> EarlyStop:
        stop = cls()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, stop.note)
        return stop

    def note(self, signum: int, _frame: Any) -> None:
        self.signalled = signum

    def hand_over(self) -> None:
        """A signal noted while the reactor starts is sent again once Scrapy's handlers are
        in place (they are installed "after startup"), so Scrapy closes the crawls."""
        from twisted.internet import reactor as installed

        reactor: Any = installed

        def replay() -> None:
            if self.signalled:
                os.kill(os.getpid(), self.signalled)

        reactor.addSystemEventTrigger("after", "startup", reactor.callLater, 0, replay)

    def why(self) -> str:
        return f"stopped by {signal.Signals(self.signalled or 0).name} before the crawl started"


def _collect(
    outcome: Any,
    recorded: RecordedRuns,
    crawler: Any,
    name: str,
    run_id: str,
    results: list[RunResult],
) -> None:
    """The crawl's result as crawler.run.lifecycle recorded it; `failed` when the crawl died
    before it could record one (its spider could not be made, say)."""
    result = recorded.of(crawler)
    if result is None:
        error = (
            f"{outcome.type.__name__}: {outcome.getErrorMessage()}"
            if hasattr(outcome, "getErrorMessage")
            else "the crawl ended without recording a result"
        )
        log.error("crawl of %s failed: %s", name, error)
        result = RunResult(name, run_id, "failed", error=error)
    if result.error and not result.outcome.startswith("ok"):
        print(f"[{name}] {result.outcome}: {result.error}", file=sys.stderr)
    results.append(result)


def prepare_store(db: Any, clock: Clock) -> None:
    """What every crawl process does before its first crawl: indexes, the journal of an
    earlier outage, runs whose process died, writes a crash left half-done."""
    ensure_indexes(db)
    migrate_if_needed(db, clock())  # before the journal's pages are placed in stories
    replay_journal(db, clock)
    mark_abandoned_runs(db)
    repair_unfinished_runs(db, clock())
    recheck_recent_merges(db, clock())  # a merge of stories that stopped half-way


def crawl_settings() -> Any:
    """Scrapy settings from crawler.settings itself, wherever the command runs.

    Scrapy's get_project_settings() finds them only through a scrapy.cfg in or
    above the working directory; anywhere else it silently falls back to
    Scrapy's defaults (no item pipeline, no robots.txt, no site guard), and a
    crawl fetches everything and stores nothing.
    """
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    return settings


def _start_progress(crawlers: list[Any], progress: Any) -> None:
    from twisted.internet import task

    def tick() -> None:
        for crawler in crawlers:
            if crawler.spider is not None and crawler.crawling:
                run = crawler.spider.run  # crawler.pipeline.context.RunContext
                progress(run.site.name, run.ledger.summary())

    loop = task.LoopingCall(tick)
    loop.start(PROGRESS_EVERY_S, now=False)


def mark_abandoned_runs(db: Any) -> int:
    """Runs left 'running' by a process that no longer holds its site's lease were interrupted.

    Judged by the server's clock (crawler.run.lease), not this process's: one whose clock
    runs ahead must not find other hosts' live crawls expired. The running runs are
    read before the leases: a crawl takes its lease before it records its run, so a
    live run read first has its lease seen after, and a crawl starting meanwhile is
    not taken for abandoned.
    """
    from crawler.store.leases import running_crawls, server_now

    running = [run["_id"] for run in db.crawl_runs.find({"outcome": "running"}, {"_id": 1})]
    if not running:
        return 0
    live = {doc.get("run_id") for doc in running_crawls(db).values()}
    abandoned = [run_id for run_id in running if run_id not in live]
    if not abandoned:
        return 0
    result = db.crawl_runs.update_many(
        {"_id": {"$in": abandoned}, "outcome": "running"},
        {
            "$set": {
                "outcome": "interrupted",
                "finished_at": server_now(db),
                "error": "process ended before the run was recorded",
            }
        },
    )
    return int(result.modified_count)
