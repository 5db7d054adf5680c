"""Bounded work per crawl: each source once, capped child sitemaps and entries, skips as counts.

The crawls run the real command against loopback sites made of sitemaps
(crawler.localnet.sitemaps); the bounds themselves are plain Python, tested
directly too.
"""

from __future__ import annotations

import subprocess
import sys

import yaml

from crawler.crawl import discovery, frontier
from crawler.localnet.sitemaps import SitemapSite, sitemap_index, urlset
from tests.helpers import REPO, newscrawl


def crawl(tmp_path, crawl_env, *entries: dict) -> None:
    config = tmp_path / "sites.yaml"
    config.write_text(yaml.safe_dump({"sites": list(entries)}))
    env = dict(crawl_env, NEWSCRAWL_JOURNAL=str(tmp_path / "journal"))
    names = [entry["name"] for entry in entries]
    newscrawl("--log-level", "WARNING", "crawl", *names, "--config", str(config), env=env)


def skip_rows(db, reason: str) -> list[dict]:
    return list(db.fetches.find({"outcome": "skipped", "reason": reason}))


# -- plain Python -----------------------------------------------------------------------


def test_the_budget_visits_each_source_once_and_caps_children_and_entries():
    budget = frontier.SourceBudget(max_sitemaps=2, max_entries=10)
    assert budget.visit("http://a.test/index.xml")
    assert not budget.visit("http://a.test/index.xml#top")  # one source, however written
    assert [budget.take_child() for _ in range(3)] == [True, True, False]
    assert budget.take_entries(7) == 7 and budget.take_entries(7) == 3
    assert budget.take_entries(1) == 0


def test_a_sitemap_past_its_limit_is_counted_with_a_bounded_sample():
    body = urlset([f"https://a.test/news/{i}" for i in range(5000)])
    found = discovery.parse_sitemap(body, "https://a.test/sitemap.xml", limit=100)
    assert len(found.entries) == 100 and found.dropped == 4900
    assert found.dropped_sample[0] == "https://a.test/news/100"
    assert len(found.dropped_sample) == discovery.DROPPED_SAMPLE
    assert len(discovery.parse_sitemap(body, "https://a.test/sitemap.xml").entries) == 5000


# -- real crawls ------------------------------------------------------------------------


def test_an_index_listing_itself_and_a_pair_listing_each_other_are_fetched_once(
    db, crawl_env, tmp_path
):
    with SitemapSite() as site:
        site.documents.update(
            {
                "/index.xml": sitemap_index([site.url("/index.xml"), site.url("/a.xml")]),
                "/a.xml": sitemap_index([site.url("/b.xml")]),
                "/b.xml": sitemap_index([site.url("/a.xml"), site.url("/urls.xml")]),
                "/urls.xml": urlset(
                    [site.url(f"/news/story-{i}") for i in range(3)]
                    + [site.url("/news/" + "x" * 100_000)]  # a 100 KB URL: skipped, recorded
                ),
            }
        )
        crawl(tmp_path, crawl_env, site.site_config("loops", ["/index.xml"]))
        hits = dict(site.hits)
    for path in ("/index.xml", "/a.xml", "/b.xml", "/urls.xml"):
        assert hits.get(path) == 1, hits
    assert db.articles.count_documents({}) == 3
    [run] = db.crawl_runs.find()
    assert run["outcome"] == "ok", run
    assert run["counters"]["skip/visited"] == 2  # index -> itself, b -> a
    assert sum(row["count"] for row in skip_rows(db, "visited")) == 2
    [too_long] = skip_rows(db, "url-too-long")
    assert too_long["count"] == 1 and too_long["url"].endswith("/urls.xml")
    assert len(too_long["sample"][0]) == 300  # an example, cut short


def test_an_index_of_many_children_stops_at_the_cap_and_records_it(db, crawl_env, tmp_path):
    children = 3000
    with SitemapSite() as site:
        site.documents["/index.xml"] = sitemap_index(
            [site.url(f"/child-{i}.xml") for i in range(children)]
        )
        for i in range(children):
            site.documents[f"/child-{i}.xml"] = urlset([])
        crawl(tmp_path, crawl_env, site.site_config("many", ["/index.xml"], max_sitemaps=7))
        fetched = sum(n for path, n in site.hits.items() if path.startswith("/child-"))
    assert fetched == 7
    [run] = db.crawl_runs.find()
    assert run["counters"]["skip/sitemap-cap"] == children - 7
    [row] = skip_rows(db, "sitemap-cap")
    assert row["count"] == children - 7 and row["url"].endswith("/index.xml")
    assert 0 < len(row["sample"]) <= 20
    assert "max_sitemaps (7 a crawl)" in row["detail"]
    # the index is read whole again next time: its children were not all dealt with
    assert db.feeds.find_one({"_id": row["url"]}).get("content_hash") is None


def test_a_big_sitemap_s_skipped_entries_are_stored_as_counts(db, crawl_env, tmp_path):
    entries = 20_000
    with SitemapSite() as site:
        site.documents["/big.xml"] = urlset([site.url(f"/news/item-{i}") for i in range(entries)])
        site.documents["/index.xml"] = sitemap_index([site.url("/big.xml")])
        crawl(
            tmp_path,
            crawl_env,
            site.site_config("big", ["/index.xml"], max_articles=3, max_entries=5000),
        )
        index = site.url("/index.xml")
    assert db.articles.count_documents({}) == 3
    [run] = db.crawl_runs.find()
    counters = run["counters"]
    assert counters["skip/limit"] == 5000 - 3
    assert counters["skip/entry-cap"] == entries - 5000
    [limit] = skip_rows(db, "limit")
    [capped] = skip_rows(db, "entry-cap")
    assert (limit["count"], capped["count"]) == (4997, 15_000)
    assert capped["sample"][0].endswith("/news/item-5000")
    # a handful of fetch-log lines, not one per entry
    assert db.fetches.count_documents({"run_id": run["_id"]}) < 20
    # the child left entries for later, so the index above it is read again next time
    assert db.feeds.find_one({"_id": index})["content_hash"] is None


def test_a_crawl_over_its_memory_limit_ends_error_with_the_reason(db, crawl_env, tmp_path):
    """Scrapy's MemoryUsage extension stops the crawl; the run says so in figures."""
    with SitemapSite() as site:
        site.documents["/s.xml"] = urlset([site.url("/news/one")])
        config = tmp_path / "sites.yaml"
        config.write_text(yaml.safe_dump({"sites": [site.site_config("heavy", ["/s.xml"])]}))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "news",
                "-a",
                "site=heavy",
                "-a",
                f"config={config}",
                "-s",
                "MEMUSAGE_LIMIT_MB=1",  # every process is over 1 MB: stopped at the first check
                "-s",
                "LOG_LEVEL=WARNING",
            ],
            cwd=REPO,
            env=dict(crawl_env, NEWSCRAWL_JOURNAL=str(tmp_path / "journal")),
            capture_output=True,
            text=True,
            timeout=240,
        )
    [run] = db.crawl_runs.find()
    assert run["outcome"] == "error", (run, result.stderr[-2000:])
    assert "memory limit exceeded" in run["error"] and "MEMUSAGE_LIMIT_MB" in run["error"]


def test_a_feed_past_its_limit_is_counted_too():
    items = "".join(
        f"<item><title>T{i}</title><link>https://a.test/news/{i}</link></item>" for i in range(3000)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()
    found = discovery.parse_feed(body, "https://a.test/feed", limit=250)
    assert (len(found.entries), found.dropped) == (250, 2750)
    assert found.dropped_sample[0] == "https://a.test/news/250"


def test_the_fetch_log_is_written_in_bounded_inserts(mongo_uri, db_name, db):
    """A crawl's final flush of 5,000 records (a big site's fetch log) is many small
    inserts, none big enough to time out; the records all land, once."""
    from pymongo import MongoClient, monitoring

    from crawler.crawl.ledger import FETCH_BATCH, RunLedger
    from tests.pipeline.test_nothing_lost import NOW

    class Inserts(monitoring.CommandListener):
        sizes: list[int] = []

        def started(self, event):
            if event.command_name == "insert":
                self.sizes.append(len(event.command.get("documents", [])))

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    listener = Inserts()
    client = MongoClient(mongo_uri, event_listeners=[listener], tz_aware=True)
    try:
        ledger = RunLedger(client[db_name], "big", "run-big", "manual", NOW)
        for i in range(5000):
            with ledger._pending_lock:  # what 5,000 records waiting for MongoDB look like
                ledger._pending.append(
                    {"url": f"https://big.test/{i}", "run_id": "run-big", "at": NOW}
                )
        ledger.flush(final=True)
    finally:
        client.close()
    assert max(listener.sizes) <= FETCH_BATCH and len(listener.sizes) == 5000 // FETCH_BATCH
    assert db.fetches.count_documents({"run_id": "run-big"}) == 5000
