"""One typed run context per crawl (crawler.pipeline.context): the item pipeline times,
tallies and counts through it, the run's lifecycle ends the run from it, and the runner
learns the run's result from the crawl's signals, never from attributes on the spider."""

from __future__ import annotations

import asyncio

from scrapy.crawler import Crawler
from scrapy.spiders import Spider

from crawler.clock import SteppedClock
from crawler.pipeline.context import RunContext
from crawler.pipeline.journal import Journal
from crawler.run.lifecycle import RunLifecycle
from crawler.run.outcomes import crawl_left_open
from crawler.run.runner import RecordedRuns
from tests.pipeline.test_nothing_lost import NOW, SITE, fetched, pipeline_for


def test_what_the_pipeline_measures_is_what_the_run_records(db, tmp_path):
    journal = Journal(tmp_path / "journal")
    run = RunContext.start(SITE, "run-ctx", "manual", NOW, SteppedClock(NOW), db, journal)
    pipeline = pipeline_for(run)
    run.ledger.start()
    run.ledger.count("article/fetched")
    page = fetched("https://example.test/news/ctx")
    page.download_s = 0.25
    outcome = asyncio.run(pipeline.handle_page(run, page))
    assert outcome is not None and outcome.outcome == "new"
    assert run.coverage.pages == 1 and run.stages.totals()["fetch"] >= 0.25

    lifecycle = RunLifecycle(Crawler(Spider))
    result = lifecycle._finish(run, "finished")
    assert result.outcome == "ok" and result.summary == run.ledger.summary()
    recorded = db.crawl_runs.find_one({"_id": "run-ctx"})
    assert recorded["stages"] == run.stages.totals()
    assert recorded["extraction"]["pages"] == 1
    assert recorded["summary"]["new"] == 1


def test_a_crawl_left_open_is_ended_by_its_lifecycle_and_the_runner_hears_of_it(db):
    crawler = Crawler(Spider)
    lifecycle = RunLifecycle(crawler)  # connects itself to the crawler's signals
    recorded = RecordedRuns()
    recorded.watch(crawler)
    crawler.signals.send_catch_log(crawl_left_open)
    assert recorded.of(crawler) is None  # never opened: no run to end

    run = RunContext.start(SITE, "run-open", "manual", NOW, SteppedClock(NOW), db)
    lifecycle.run = run  # what spider_opened keeps
    run.ledger.start()
    crawler.signals.send_catch_log(crawl_left_open)
    result = recorded.of(crawler)
    assert result is not None and result.run_id == "run-open"
    assert result.outcome == "interrupted"
    assert db.crawl_runs.find_one({"_id": "run-open"})["outcome"] == "interrupted"
    crawler.signals.send_catch_log(crawl_left_open)  # ended once, not twice
    assert recorded.of(crawler) is result
