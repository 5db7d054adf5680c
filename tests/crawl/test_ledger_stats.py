"""A crawl's counts live in Scrapy's own stats collector (`crawler.stats`); outside a crawl,
and before Scrapy has made the crawl's collector, in a collector of Scrapy's own class."""

from __future__ import annotations

from datetime import datetime, timezone

from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from scrapy.statscollectors import MemoryStatsCollector, StatsCollector

from crawler.crawl.ledger import RunLedger, memory_exceeded_error
from crawler.store import connect

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def ledger() -> RunLedger:
    nowhere = connect("mongodb://127.0.0.1:9/", "nowhere", timeout_ms=200)  # never written
    return RunLedger(nowhere, "example", "run-1", "manual", NOW)


def test_outside_a_crawl_the_ledger_counts_in_scrapys_collector():
    counted = ledger()
    counted.record("https://example.test/a", NOW, "new", "new")
    counted.record("https://example.test/b", NOW, "robots", "skipped")
    assert type(counted.stats) is StatsCollector
    assert counted.stats.get_value("newscrawl/fetch/new") == 1
    assert counted.counters["skip/robots"] == 1
    assert counted.summary()["new"] == 1 and counted.summary()["pages"] == 1


def test_the_crawls_collector_takes_over_with_what_was_counted_before():
    counted = ledger()
    counted.count("article/fetched")  # counted before the crawl's collector existed
    crawl = MemoryStatsCollector(Crawler(Spider))  # what Scrapy makes as crawler.stats
    crawl.set_value("downloader/response_count", 3)
    counted.use_stats(crawl)
    counted.count("article/stored")
    assert counted.stats is crawl
    assert crawl.get_value("newscrawl/article/fetched") == 1
    assert crawl.get_value("newscrawl/article/stored") == 1
    assert counted.article_counts()["stored"] == 1
    assert counted.scrapy_numbers() == {"downloader/response_count": 3}


def test_a_memory_stop_is_told_in_the_collectors_figures():
    counted = ledger()
    counted.stats.max_value("memusage/max", 700 * 2**20)
    assert "reached 700 MB" in memory_exceeded_error(counted)
