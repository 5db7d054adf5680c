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

from crawler import journal, processing
from crawler.config import Config, parse_duration
from crawler.lease import LeaseHeld, SiteLease
from crawler.ledger import RunLedger, new_run_id
from crawler.store import ensure_indexes, open_database, utcnow

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0
FINISH_OUTCOMES = {"finished": "ok", "shutdown": "interrupted", "closespider_timeout": "timeout"}


@dataclass
class RunResult:
    site: str
    run_id: str
    outcome: str
    summary: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def replay_journal(db: Any) -> int:
    """Store pages spooled while MongoDB was away (idempotent, so a partial replay is safe)."""

    def handle(page: processing.FetchedPage) -> None:
        prepared = processing.prepare(page)
        if prepared.page is not None:
            stored = prepared.page
            journal.with_retry(lambda: processing.persist(db, stored, utcnow()))

    count = journal.replay(handle)
    if count:
        log.warning("replayed %d pages from the local journal into MongoDB", count)
    return count


def crawl_sites(
    config: Config,
    config_path: str,
    sites: list[str],
    trigger: str = "manual",
    recheck: bool = False,
    progress: Any = None,
    log_level: str = "WARNING",
) -> list[RunResult]:
    """Crawl the named sites (concurrently, one crawler each) and return one result per site."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from spiders.news import NewsSpider

    db = open_database()
    ensure_indexes(db)
    replay_journal(db)
    mark_abandoned_runs(db)

    settings = get_project_settings()
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
        now = utcnow()
        run_id = new_run_id(name, now)
        lease = SiteLease(db, name, run_id)
        try:
            lease.acquire(now)
        except LeaseHeld as exc:
            results.append(RunResult(name, run_id, "skipped-busy", error=str(exc)))
            print(f"[{name}] {exc}", file=sys.stderr)
            continue
        RunLedger(db, name, run_id, trigger, now).start()  # recorded before anything can fail
        crawler = process.create_crawler(NewsSpider)
        crawler.settings.set(
            "CLOSESPIDER_TIMEOUT",
            parse_duration(site.crawl_timeout).total_seconds(),
            priority="cmdline",
        )
        deferred = process.crawl(
            crawler, site=name, config=config_path, recheck=recheck, trigger=trigger, run_id=run_id
        )
        holder: dict[str, Any] = {
            "crawler": crawler,
            "lease": lease,
            "name": name,
            "run_id": run_id,
        }
        deferred.addBoth(_finish, holder, results)
        started.append(crawler)

    if started:
        if progress:
            _start_progress(process, started, progress)
        process.start()
    return results


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
    reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    result_outcome = (
        "failed" if error else FINISH_OUTCOMES.get(str(reason), str(reason or "failed"))
    )
    summary: dict[str, int] = {}
    try:
        if spider is not None:
            summary = spider.ledger.summary()
            if result_outcome == "ok" and summary.get("errors"):
                result_outcome = "ok-with-errors"
            clock = getattr(spider, "stage_clock", None)
            spider.ledger.finish(
                result_outcome, utcnow(), error, stages=clock.totals() if clock else None
            )
    except (
        Exception
    ) as exc:  # the run record is best effort; the data is already stored or journalled
        log.warning("could not record the end of run %s: %s", run_id, exc)
    finally:
        lease.release()
    results.append(RunResult(name, run_id, result_outcome, summary, error))


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
