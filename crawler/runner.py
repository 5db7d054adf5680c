"""Run crawls of sites in this process: the one code path of `newscrawl crawl` and the service.

The service runs each crawl as a child process (`python -m crawler crawl SITE
--trigger schedule`), which ends up here, so a crash, a hang or a leak stays in
that child. Per crawl: take the site's lease, replay any journal, run the spider,
record the run, release the lease.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.errors import PyMongoError

from crawler import drift, journal, processing
from crawler.clock import Clock, utcnow
from crawler.config import Config, parse_duration
from crawler.lease import LeaseHeld, SiteLease
from crawler.ledger import (
    JOURNAL_UNWRITABLE,
    MEMORY_EXCEEDED,
    PIPELINE_MISSING,
    RunLedger,
    memory_exceeded_error,
    new_run_id,
)
from crawler.repair import repair_unfinished_runs
from crawler.store import ensure_indexes, insert_new, open_database
from crawler.stories import recheck_recent_merges
from crawler.stories.migrate import migrate_if_needed

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0
FINISH_OUTCOMES = {"finished": "ok", "shutdown": "interrupted", "closespider_timeout": "timeout"}
LEASE_LOST = "lease-lost"
STOP_RETRY_S, STOP_ATTEMPTS = 0.2, 300


@dataclass
class RunResult:
    site: str
    run_id: str
    outcome: str
    summary: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def replay_journal(db: Any) -> journal.ReplayReport:
    """Store what was spooled while MongoDB was away: pages, fetch records, run ends.

    Idempotent, so a replay killed half-way is simply done again. A page that no
    longer extracts, or that the store refuses, is recorded in `fetches` as an
    error for its URL (reason `journal`) and its line kept in the journal's
    failed-*.jsonl: nothing spooled disappears without a trace.
    """

    def handle_page(page: processing.FetchedPage) -> None:
        prepared = processing.prepare(page)
        if prepared.page is None:
            detail = prepared.error or "extraction failed"
            _record_replay(db, page, "error", at=utcnow(), detail=detail[:500])
            raise journal.ReplayRefused(prepared.error)
        stored = prepared.page
        try:
            outcome = journal.with_retry(lambda: processing.persist(db, stored, utcnow()))
        except journal.TRANSIENT:
            raise
        except Exception as exc:
            detail = f"{page.url}: could not store: {exc!r}"[:500]
            _record_replay(db, page, "error", at=utcnow(), detail=detail)
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

    report = journal.replay(handle_page, handle_records)
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
    clock: Clock = utcnow,
) -> list[RunResult]:
    """Crawl the named sites (concurrently, one crawler each) and return one result per site.

    No store call of a crawl runs on Scrapy's event loop: the spider's go through
    crawler.offload, the pipeline's writes through its batch writer's thread,
    and each crawl's end (judging the run, releasing the lease) through a thread
    of its own, since the other sites' crawls are still fetching on that loop.
    """
    from scrapy.crawler import CrawlerProcess

    from spiders.news import NewsSpider

    db = open_database()
    prepare_store(db, clock)

    settings = crawl_settings()
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set(
        "LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline"
    )  # the command set up logging
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    process = CrawlerProcess(settings)
    results: list[RunResult] = []
    started: list[Any] = []  # the crawlers of this process

    for name in sites:
        site = config.site(name)
        now = clock()
        run_id = new_run_id(name, now)
        crawler = process.create_crawler(NewsSpider)
        lease = SiteLease(db, name, run_id, on_lost=stopper(crawler, name), clock=clock)
        try:
            lease.acquire(now)
        except LeaseHeld as exc:
            results.append(RunResult(name, run_id, "skipped-busy", error=str(exc)))
            print(f"[{name}] {exc}", file=sys.stderr)
            continue
        RunLedger(db, name, run_id, trigger, now).start()  # recorded before anything can fail
        crawler.settings.set(
            "CLOSESPIDER_TIMEOUT",
            parse_duration(site.crawl_timeout).total_seconds(),
            priority="cmdline",
        )
        deferred = process.crawl(
            crawler,
            site=name,
            config=config_path,
            recheck=recheck,
            trigger=trigger,
            run_id=run_id,
            clock=clock,
            managed=True,  # this runner holds the lease and records the run's end
        )
        holder: dict[str, Any] = {
            "crawler": crawler,
            "lease": lease,
            "name": name,
            "run_id": run_id,
        }
        deferred.addBoth(_finish_in_thread, holder, results)
        started.append(crawler)

    if started:
        if progress:
            _start_progress(process, started, progress)
        process.start()
    return results


def prepare_store(db: Any, clock: Clock = utcnow) -> None:
    """What every crawl process does before its first crawl: indexes, the journal of an
    earlier outage, runs whose process died, writes a crash left half-done."""
    ensure_indexes(db)
    migrate_if_needed(db, clock())  # before the journal's pages are placed in stories
    replay_journal(db)
    mark_abandoned_runs(db, clock())
    repair_unfinished_runs(db, clock())
    recheck_recent_merges(db)  # a merge of stories that stopped half-way


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


def judge_run(
    outcome: str, error: str | None, ledger: RunLedger, lease_lost: str | None
) -> tuple[str, str | None]:
    """The run's outcome from how it ended and what its counters say.

    "ok" only when every fetched article page is accounted for (stored, or
    recorded as an error) and none waits in the journal: a crawl that fetched
    pages and stored none without saying why is an error, not a success.
    """
    if lease_lost:
        return LEASE_LOST, lease_lost
    if outcome == MEMORY_EXCEEDED:
        return "error", memory_exceeded_error(ledger)
    if outcome == PIPELINE_MISSING:
        return "error", (
            "the item pipeline crawler.pipeline.StorePipeline was not enabled; nothing was stored"
        )
    lost = ledger.counters.get(JOURNAL_UNWRITABLE, 0)
    if lost:
        return "error", (
            f"{lost} pages or fetch records were neither stored nor journalled: MongoDB was "
            "unavailable and the journal could not be written (full or read-only disk); "
            "their URLs are in the error log"
        )
    if not outcome.startswith("ok"):
        return outcome, error
    counts = ledger.article_counts()
    missing = ledger.unaccounted_pages()
    if missing:
        return "error", (
            f"{missing} of {counts['fetched']} fetched article pages were neither stored, "
            "recorded as errors nor journalled"
        )
    if counts["spooled"]:
        return "spooled", (
            f"{counts['spooled']} pages kept in the journal ({journal.journal_dir()}) while "
            "MongoDB was unreachable; they are stored on the next start"
        )
    if ledger.summary().get("errors"):
        return "ok-with-errors", error
    return outcome, error


def finish_run(
    spider: Any, outcome: str, error: str | None, lease_lost: str | None
) -> tuple[str, str | None, dict[str, int]]:
    """Judge the run and record its end (also for `scrapy crawl`, which has no runner)."""
    summary = spider.ledger.summary()
    outcome, error = judge_run(outcome, error, spider.ledger, lease_lost)
    stages = getattr(spider, "stage_clock", None)
    now = spider.clock()
    spider.ledger.finish(
        outcome, now, error, stages=stages.totals() if stages else None, extra=_drift(spider, now)
    )
    return outcome, error, summary


def _drift(spider: Any, now: datetime) -> dict[str, Any]:
    """What extraction found in this run against the site's last week (crawler.drift)."""
    coverage = getattr(spider, "coverage", None)
    if coverage is None:
        return {}
    try:
        fields = drift.judge(spider.db, spider.site.name, spider.run_id, coverage, now)
    except PyMongoError:  # the baseline is out of reach: the coverage itself still counts
        return {"extraction": coverage.summary()}
    for warning in fields["warnings"]:
        log.warning("%s: extraction drift: %s", spider.site.name, warning)
    return fields


def _finish_reason(crawler: Any) -> str | None:
    """Scrapy's finish_reason stat; none when the crawl failed before its stats existed."""
    try:
        stats = crawler.stats
    except RuntimeError:  # Scrapy >= 2.13: "Crawler.stats is not set yet"
        return None
    return stats.get_value("finish_reason") if stats else None


def _finish(outcome: Any, holder: dict[str, Any], results: list[RunResult]) -> None:
    """Record the run's end and free the site, whatever happened to the crawl."""
    crawler, lease, name, run_id = (
        holder["crawler"],
        holder["lease"],
        holder["name"],
        holder["run_id"],
    )
    spider = getattr(crawler, "spider", None)
    error = None
    if hasattr(outcome, "getErrorMessage"):
        error = f"{outcome.type.__name__}: {outcome.getErrorMessage()}"
        log.error("crawl of %s failed: %s", name, error)
    reason = _finish_reason(crawler)
    result_outcome = (
        "failed" if error else FINISH_OUTCOMES.get(str(reason), str(reason or "failed"))
    )
    summary: dict[str, int] = {}
    try:
        if spider is not None:
            result_outcome, error, summary = finish_run(spider, result_outcome, error, lease.lost)
    except Exception as exc:  # the data is stored or journalled; the run's end is not
        log.error("could not record the end of run %s: %r", run_id, exc)
        result_outcome = "error"  # never `ok` when the end could not be recorded
        error = f"the end of run {run_id} could not be recorded: {exc!r}"[:500]
    finally:
        lease.release()
    if error and result_outcome not in ("ok", "ok-with-errors"):
        print(f"[{name}] {result_outcome}: {error}", file=sys.stderr)
    results.append(RunResult(name, run_id, result_outcome, summary, error))


def _finish_in_thread(outcome: Any, holder: dict[str, Any], results: list[RunResult]) -> Any:
    from twisted.internet.threads import deferToThread

    return deferToThread(_finish, outcome, holder, results)


def _start_progress(process: Any, crawlers: list[Any], progress: Any) -> None:
    from twisted.internet import task

    def tick() -> None:
        for crawler in crawlers:
            spider = getattr(crawler, "spider", None)
            if spider is not None and crawler.crawling:
                progress(spider.site.name, spider.ledger.summary())

    loop = task.LoopingCall(tick)
    loop.start(PROGRESS_EVERY_S, now=False)


def mark_abandoned_runs(db: Any, now: datetime | None = None) -> int:
    """Runs left 'running' by a process that no longer holds its site's lease were interrupted."""
    now = now or utcnow()
    from crawler.lease import running_crawls

    live = {doc.get("run_id") for doc in running_crawls(db, now).values()}
    result = db.crawl_runs.update_many(
        {"outcome": "running", "_id": {"$nin": list(live)}, "started_at": {"$lt": now}},
        {
            "$set": {
                "outcome": "interrupted",
                "finished_at": now,
                "error": "process ended before the run was recorded",
            }
        },
    )
    return int(result.modified_count)
