"""Isolation: a journal that cannot be replayed at once never fails another site's crawl,
and a journal that cannot be written ends the crawl `error`, never `ok`."""

from __future__ import annotations

import asyncio
import errno
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import yaml
from bson import ObjectId
from pymongo.errors import AutoReconnect

from crawler.clock import SteppedClock, utcnow
from crawler.crawl.ledger import JOURNAL_UNWRITABLE, RunLedger
from crawler.localnet.sitemaps import SitemapSite, urlset
from crawler.pipeline import journal
from crawler.pipeline.context import RunContext
from crawler.pipeline.journal import Journal, ReplayBounds
from crawler.run.lifecycle import RunLifecycle
from crawler.run.outcomes import CrawlFacts, judge
from crawler.store import connect
from tests.helpers import newscrawl
from tests.pipeline.test_nothing_lost import NOW, SITE, fetched, pipeline_for, run_for

LINES, PER_LINE = 30, 200


def fill_journal(folder, site: str = "elsewhere") -> int:
    """A journal as a big site's outage leaves it: many lines of fetch records."""
    spool = Journal(folder)
    for line in range(LINES):
        spool.append_records(
            "fetches",
            [
                {"_id": ObjectId(), "url": f"https://big.test/{line}/{i}", "site": site, "at": NOW}
                for i in range(PER_LINE)
            ],
        )
    return LINES * PER_LINE


def into(db):
    def handle(kind: str, docs: list[dict]) -> None:
        db.fetches.insert_many(docs)

    return handle


def test_a_replay_stops_at_its_bounds_keeps_the_rest_and_names_stay_short(db, tmp_path):
    folder = tmp_path / "journal"
    total = fill_journal(folder)
    rounds = 0
    clock = SteppedClock(datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc))
    while list(folder.glob("journal-*")):
        report = journal.replay(
            lambda p: None, into(db), folder, ReplayBounds(steps=2), clock=clock
        )
        rounds += 1
        assert report.records <= 2 * PER_LINE and (report.stopped or rounds == LINES // 2)
        # however often it stops, the file left behind has a short name (no ENAMETOOLONG)
        assert all(len(p.name) < 80 for p in folder.iterdir()), list(folder.iterdir())
        if report.stopped:
            last = journal.backlog(folder)["last_replay"]
            assert last["records"] == 2 * PER_LINE
            assert last["at"] == clock().isoformat(timespec="seconds")  # the replay's clock
        assert rounds <= LINES
    assert db.fetches.count_documents({}) == total  # every record, once
    assert rounds == LINES // 2
    assert journal.backlog(folder)["files"] == 0
    assert list(folder.iterdir()) == []  # nothing left behind once all is replayed


def test_mongodb_away_during_a_replay_stops_it_without_failing_the_caller(db, tmp_path):
    folder = tmp_path / "journal"
    total = fill_journal(folder)
    calls = []

    def flaky(kind: str, docs: list[dict]) -> None:
        calls.append(len(docs))
        if len(calls) == 3:
            raise AutoReconnect("connection refused")
        db.fetches.insert_many(docs)

    report = journal.replay(lambda p: None, flaky, folder, ReplayBounds(steps=1000), clock=utcnow)
    assert report.stopped and "MongoDB unavailable" in report.stopped
    assert report.records == 2 * PER_LINE
    journal.replay(lambda p: None, into(db), folder, ReplayBounds(steps=1000), clock=utcnow)
    assert db.fetches.count_documents({}) == total
    assert not list(folder.glob("journal-*"))


def test_a_journal_too_big_replays_in_steps_while_another_site_s_crawl_succeeds(
    db, crawl_env, tmp_path
):
    folder = tmp_path / "journal"
    total = fill_journal(folder)
    env = dict(crawl_env, NEWSCRAWL_JOURNAL=str(folder), NEWSCRAWL_REPLAY_STEPS="5")
    with SitemapSite() as site:
        site.documents["/s.xml"] = urlset([site.url(f"/news/story-{i}") for i in range(2)])
        config = tmp_path / "sites.yaml"
        config.write_text(yaml.safe_dump({"sites": [site.site_config("small", ["/s.xml"])]}))
        newscrawl("crawl", "small", "--config", str(config), env=env)
        status = newscrawl("status", "--config", str(config), env=env)
        newscrawl("crawl", "small", "--config", str(config), env=env)
    runs = list(db.crawl_runs.find({"site": "small"}))
    assert [r["outcome"] for r in runs] == ["ok", "ok"], runs
    assert db.articles.count_documents({"site": "small"}) == 2
    # two starts, five batches of records each; the rest waits, visible in `status`
    assert db.fetches.count_documents({"site": "elsewhere"}) == 2 * 5 * PER_LINE
    assert "waiting to be replayed" in status.stdout and "stopped" in status.stdout
    assert journal.backlog(folder)["files"] == 1
    assert db.fetches.count_documents({"site": "elsewhere"}) < total


def full_disk(self, record):  # what a full disk does to every journal write
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_journal_during_an_outage_ends_the_crawl_error_naming_the_pages(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(Journal, "_write", full_disk)
    dead = connect("mongodb://127.0.0.1:9/", "nowhere", timeout_ms=200)
    run = run_for(dead, tmp_path)
    monkeypatch.setattr("crawler.pipeline.journal.time.sleep", lambda s: None)  # the write retries
    page = fetched("https://example.test/news/lost")
    run.ledger.count("article/fetched")
    assert asyncio.run(pipeline_for(run).handle_page(run, page)) is None
    assert run.ledger.counters[JOURNAL_UNWRITABLE] == 1
    assert "https://example.test/news/lost" in caplog.text  # named in the error log
    counts = run.ledger.article_counts()
    verdict = judge(
        CrawlFacts(
            close_reason="finished",
            fetched=counts["fetched"],
            unaccounted=run.ledger.unaccounted_pages(),
            unwritable=run.ledger.counters[JOURNAL_UNWRITABLE],
        )
    )
    assert verdict.outcome == "error" and "neither stored nor journalled" in str(verdict.error)


def test_a_crawl_whose_end_could_not_be_recorded_never_reports_ok(tmp_path, monkeypatch):
    monkeypatch.setattr(Journal, "_write", full_disk)
    dead = connect("mongodb://127.0.0.1:9/", "nowhere", timeout_ms=200)
    spool = Journal(tmp_path / "journal")
    run = RunContext.start(SITE, "run-1", "manual", NOW, lambda: NOW, dead, journal=spool)
    released = []
    crawler = SimpleNamespace(signals=SimpleNamespace(connect=lambda *a, **k: None))
    lifecycle = RunLifecycle(crawler)
    lifecycle.lease = SimpleNamespace(lost=None, release=lambda: released.append(True))  # type: ignore[assignment]
    result = lifecycle._finish_run(run, "finished")
    assert result.outcome == "error" and "could not be recorded" in str(result.error)
    assert released == [True]


def test_records_the_journal_cannot_take_are_counted_and_named(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(Journal, "_write", full_disk)
    dead = connect("mongodb://127.0.0.1:9/", "nowhere", timeout_ms=200)
    ledger = RunLedger(dead, "example", "run-2", "manual", NOW, spill=Journal(tmp_path / "j"))
    ledger.record("https://example.test/a", NOW, "new", "error", detail="x")
    ledger.flush(final=True)
    assert ledger.counters[JOURNAL_UNWRITABLE] == 1
    assert "https://example.test/a" in caplog.text
    assert json.dumps(ledger.summary())  # the summary still reads
