"""Nothing is lost silently: each way a page could vanish between fetch and store, closed.

These call the plain-Python stages directly against the test MongoDB; the
end-to-end versions (real crawls from another directory, a stolen lease, a
private host name) are in test_crawl_anywhere.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from pymongo.errors import AutoReconnect
from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.clock import SteppedClock, utcnow
from crawler.config import Site
from crawler.crawl.discovery import Entry
from crawler.crawl.frontier import CrawlPlan
from crawler.crawl.ledger import RunLedger, SourceState, SourceStates
from crawler.crawl.middleware import PrivateAddressGuardMiddleware, PrivateAddressRefused
from crawler.maintenance.verify import verify
from crawler.pipeline import journal
from crawler.pipeline.context import RunContext
from crawler.pipeline.item_pipeline import StorePipeline
from crawler.pipeline.journal import Journal
from crawler.pipeline.processing import FetchedPage, Outcome
from crawler.pipeline.workers import ExtractionPool
from crawler.run.lease import SiteLease
from crawler.run.outcomes import CrawlFacts, judge
from crawler.run.runner import replay_journal
from crawler.store import ArticleStore, connect, ensure_indexes
from tests.store.test_store import T0, body, page

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def article_html(title: str, paragraphs: list[str]) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body><header>Regions | Login</header>"
        f"<article><h1>{title}</h1>{paras}</article><footer>© Gazette</footer></body></html>"
    ).encode()


def fetched(url: str = "https://example.test/news/budget", status: int = 200) -> FetchedPage:
    return FetchedPage(
        site="example",
        url=url,
        final_url=url,
        body=article_html("Council passes budget", body(6)),
        fetched_at=NOW,
        status=status,
        run_id="example-run-1",
        allowed_domains=["example.test"],
    )


SITE = Site(
    name="example",
    url="https://example.test/",
    feeds=["https://example.test/feed"],
    allowed_domains=["example.test"],
)


def run_for(db, tmp_path) -> RunContext:
    """A crawl's run context, as the spider makes it: what the pipeline works through."""
    clock = SteppedClock(NOW)
    spool = Journal(tmp_path / "journal")
    return RunContext.start(SITE, "example-run-1", "manual", NOW, clock, db, journal=spool)


def pipeline_for(run: RunContext) -> StorePipeline:
    pipeline = StorePipeline()
    pipeline.run = run
    pipeline.pool = ExtractionPool(0)  # extraction in the test's process
    pipeline.writer.linger_s = 0.0
    return pipeline


# -- a store error on a one-page batch ---------------------------------------------------


def test_a_store_error_on_a_lone_page_is_recorded_for_its_url(db, tmp_path):
    run = run_for(db, tmp_path)
    pipeline = pipeline_for(run)
    # 2**70 does not fit BSON's 8-byte ints: the store itself refuses the page
    bad = fetched(status=2**70)
    result = asyncio.run(pipeline.handle_page(run, bad))
    assert result is None
    run.ledger.flush()
    rows = list(db.fetches.find({"url": bad.url}))
    assert [r["outcome"] for r in rows] == ["error"]
    assert "could not store" in rows[0]["detail"]
    assert run.ledger.article_counts()["error"] == 1
    assert db.versions.count_documents({}) == 0


def test_every_page_ends_as_exactly_one_fetch_record_and_the_counts_add_up(db, tmp_path):
    run = run_for(db, tmp_path)
    pipeline = pipeline_for(run)
    good = [fetched(f"https://example.test/news/{i}") for i in range(3)]
    for i, page_ in enumerate(good):
        page_.body = article_html(f"Story {i}", body(4 + i, extra=f" in ward {i}"))
    broken = fetched("https://example.test/news/broken")
    broken.body = b"\x00\x01\x02 not a page"
    refused = fetched("https://example.test/news/refused", status=2**70)

    async def crawl() -> None:
        for page_ in [*good, broken, refused]:
            run.ledger.count("article/fetched")
            await pipeline.handle_page(run, page_)

    asyncio.run(crawl())
    run.ledger.flush()
    counts = run.ledger.article_counts()
    assert counts == {"fetched": 5, "stored": 3, "error": 2, "spooled": 0}
    assert run.ledger.unaccounted_pages() == 0
    rows = list(db.fetches.find({"run_id": "example-run-1"}))
    assert len(rows) == 5 and len({r["url"] for r in rows}) == 5


def test_a_run_that_fetched_pages_but_recorded_none_is_an_error(db):
    ledger = RunLedger(db, "example", "run-x", "manual", NOW)
    ledger.count("article/fetched", 12)  # what a crawl without the item pipeline looks like

    def judged(reason: str, lease_lost: str | None = None) -> tuple[str, str | None]:
        counts = ledger.article_counts()
        facts = CrawlFacts(
            reason,
            lease_lost,
            fetched=counts["fetched"],
            unaccounted=ledger.unaccounted_pages(),
            spooled=counts["spooled"],
            responses=12,
        )
        verdict = judge(facts)
        return verdict.outcome, verdict.error

    outcome, error = judged("finished")
    assert outcome == "error" and "12 of 12 fetched article pages" in (error or "")
    outcome, error = judged("pipeline-missing")
    assert outcome == "error" and "pipeline" in (error or "")
    ledger.count("article/spooled", 12)
    assert judged("finished")[0] == "spooled"
    assert judged("finished", lease_lost="lease lost: held by r2")[0] == "lease-lost"


def test_fetch_records_wait_for_mongodb_and_go_to_the_journal_at_the_end(tmp_path, mongo_uri):
    # a database on a port nobody listens on: every write fails as when MongoDB is down
    dead = connect("mongodb://127.0.0.1:9/", "nowhere", timeout_ms=200)
    spool = Journal(tmp_path / "journal")
    ledger = RunLedger(dead, "example", "run-down", "manual", NOW, spill=spool)
    ledger.record("https://example.test/a", NOW, "new", "spooled")
    ledger.flush()  # fails: kept in memory
    ledger.finish("spooled", NOW, "MongoDB away")  # fails: fetch rows and run end journalled
    lines = [json.loads(line) for line in spool.path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["fetches", "run"]
    live = connect(mongo_uri, "t_fetch_spill")
    try:
        ensure_indexes(live)
        live.crawl_runs.insert_one({"_id": "run-down", "outcome": "running"})
        report = journal.replay(
            lambda p: None, _records_into(live), tmp_path / "journal", clock=utcnow
        )
        assert report.records == 2
        assert live.fetches.find_one({"url": "https://example.test/a"})["outcome"] == "spooled"
        assert live.crawl_runs.find_one({"_id": "run-down"})["outcome"] == "spooled"
    finally:
        live.client.drop_database("t_fetch_spill")


def _records_into(db):
    def handle(kind: str, docs: list[dict]) -> None:
        if kind == "fetches":
            db.fetches.insert_many(docs)
        else:
            for doc in docs:
                db.crawl_runs.update_one({"_id": doc["_id"]}, {"$set": doc})

    return handle


# -- a batch retried after a transient error -------------------------------------------


def test_a_batch_retried_after_a_transient_error_leaves_no_article_out_of_its_story(
    db, tmp_path, monkeypatch
):
    from crawler.stories import index as story_index

    record_joins = story_index.record_joins
    failures = []

    def flaky(*args, **kwargs):
        if not failures:  # the connection drops after the fingerprints, before the stories
            failures.append(1)
            raise AutoReconnect("connection reset by peer")
        return record_joins(*args, **kwargs)

    monkeypatch.setattr(story_index, "record_joins", flaky)
    monkeypatch.setattr(journal.time, "sleep", lambda s: None)
    pipeline = pipeline_for(run_for(db, tmp_path))
    lone = page("wire-1", body(6))
    lone.run_id = "example-run-1"
    [result] = pipeline._write([lone])
    assert failures == [1]
    assert isinstance(result, Outcome) and result.outcome == "new"
    article = db.articles.find_one({"_id": "wire-1"})
    listed = [m["story_id"] for m in db.story_members.find({"_id": "wire-1"})]
    assert listed == [article["story_id"]]
    assert verify(db, NOW) == []


# -- new articles have their own budget --------------------------------------------------


def test_due_revisits_do_not_spend_the_new_article_budget():
    plan = CrawlPlan(max_age=timedelta(days=3), max_articles=2)
    for i in range(5):  # five known articles are due for a revisit
        assert plan.claim(f"https://example.test/old/{i}", new=False)
    choices = [
        plan.choose(Entry(f"https://example.test/new/{i}"), None, NOW, ["example.test"])
        for i in range(3)
    ]
    for i, choice in enumerate(choices[:2]):
        assert choice.fetch and choice.reason == "new"
        plan.claim(f"https://example.test/new/{i}", new=True)
    assert plan.choose(Entry("https://example.test/new/9"), None, NOW, ["example.test"]).reason == (
        "limit"
    )


def test_a_source_with_entries_left_for_later_is_not_remembered_as_seen(db):
    sources = SourceStates(db)
    url = "https://example.test/feed"
    sources.fetched(
        url, "example", "feed", NOW, SourceState(url), '"v1"', None, "hash-1", False, complete=False
    )
    state = sources.load(url)
    assert state.content_hash is None and state.etag is None and state.last_fetched is None
    assert state.conditional_headers(NOW + timedelta(minutes=15)) == {}
    sources.fetched(url, "example", "feed", NOW, state, '"v1"', None, "hash-1", False)
    assert sources.load(url).content_hash == "hash-1"


# -- journal replay ----------------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_replay_killed_half_way_is_replayed_by_the_next_start(db, tmp_path, monkeypatch):
    folder = tmp_path / "journal"
    monkeypatch.setenv("NEWSCRAWL_JOURNAL", str(folder))
    Journal(folder).append(fetched(), "MongoDB away")
    [spooled] = folder.glob("journal-*.jsonl")
    # a process claimed it for replay and was killed before it finished
    spooled.rename(folder / f"{spooled.name.split('.')[0]}.replaying-{dead_pid()}")
    report = replay_journal(db, lambda: NOW)
    assert report.pages == 1
    assert db.articles.count_documents({}) == 1
    assert list(folder.iterdir()) == []


def test_replay_records_what_it_cannot_store_and_keeps_it(db, tmp_path, monkeypatch):
    folder = tmp_path / "journal"
    monkeypatch.setenv("NEWSCRAWL_JOURNAL", str(folder))
    spool = Journal(folder)
    unreadable = fetched("https://example.test/news/garbage")
    unreadable.body = b"\x89PNG\r\n\x1a\n binary, not an article"
    spool.append(unreadable, "MongoDB away")
    spool.append(fetched(), "MongoDB away")
    with open(spool.path, "a") as handle:
        handle.write('{"type": "page", "site": "exa')  # cut short by a kill during append
    report = replay_journal(db, lambda: NOW)
    assert (report.pages, report.failed, report.unreadable) == (1, 1, 1)
    error = db.fetches.find_one({"url": unreadable.url})
    assert error["outcome"] == "error" and error["reason"] == "journal"
    kept = list(folder.glob("failed-*.jsonl"))
    assert len(kept) == 1 and len(kept[0].read_text().splitlines()) == 2
    assert not list(folder.glob("journal-*"))  # nothing is replayed twice


# -- the lease ---------------------------------------------------------------------------


def test_a_lease_taken_over_by_another_crawl_is_lost(db):
    lost: list[str] = []
    lease = SiteLease(db, "example", "run-1", on_lost=lost.append, clock=lambda: T0)
    lease.acquire()
    try:
        assert lease.renew()
        # it expired while this crawl was stuck, and another crawl took the site
        db.leases.update_one({"_id": "example"}, {"$set": {"holder": "other", "run_id": "run-2"}})
        assert not lease.renew()
        assert lost and "run-2" in lost[0]
        assert not lease.renew() and len(lost) == 1
    finally:
        lease.release()


def test_a_lease_that_cannot_be_renewed_until_it_expires_is_lost(db):
    lost: list[str] = []
    held = [0.0]  # this process's monotonic clock, stepped
    lease = SiteLease(
        db,
        "example",
        "run-1",
        on_lost=lost.append,
        ttl=timedelta(seconds=90),
        clock=SteppedClock(NOW),
        monotonic=lambda: held[0],
    )
    lease.acquire()
    try:
        lease.db = connect("mongodb://127.0.0.1:9/", "nowhere", timeout_ms=200)
        lease.leases = lease.db.leases
        held[0] = 30.0
        assert lease.renew()  # MongoDB away, the lease still holds
        assert not lost
        held[0] = 91.0
        assert not lease.renew()
        assert lost and "expired" in lost[0]
    finally:
        lease.release()


# -- the private-address guard -----------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("::ffff:192.168.0.7", True),
        ("93.184.216.34", False),
    ],
)
def test_the_guard_judges_the_address_the_response_came_from(address, refused):
    site = Site(
        name="example",
        url="https://example.test/",
        feeds=["https://example.test/feed"],
        allowed_domains=["example.test"],
    )
    crawler = SimpleNamespace(spider=SimpleNamespace(site=site), stats=_Stats())
    guard = PrivateAddressGuardMiddleware(crawler)
    request = Request("https://example.test/news/budget")
    response = HtmlResponse(
        request.url,
        body=b"<html></html>",
        request=request,
        ip_address=ipaddress.ip_address(address),
    )
    if refused:
        with pytest.raises(PrivateAddressRefused):
            guard.process_response(request, response)
        crawler.spider.site = site.model_copy(update={"allow_private_addresses": True})
    assert guard.process_response(request, response) is response


class _Stats:
    def inc_value(self, key: str) -> None:
        pass


# -- aliases -----------------------------------------------------------------------------


def test_one_old_url_resolves_to_exactly_one_article(db):
    store = ArticleStore(db)
    first = page("a", body(4))
    first.aliases = ["example.test/a", "example.test/old-url"]
    store.save_snapshot(first)
    # a later article whose redirect chain passed through the same old URL
    second = page("b", body(5, extra=" elsewhere"), at=T0 + timedelta(hours=1))
    second.aliases = ["example.test/b", "example.test/old-url"]
    store.save_snapshots([second])
    assert store.find_by_url_key("example.test/old-url")["_id"] == "a"
    assert db.articles.count_documents({"aliases": "example.test/old-url"}) == 1
    assert store.find_by_url_key("example.test/b")["_id"] == "b"


# -- verify ------------------------------------------------------------------------------


def test_verify_lists_every_broken_invariant(db):
    from crawler.pipeline.processing import persist_batch

    persist_batch(db, [page("a", body(4)), page("b", body(6, extra=" in the north"))], T0)
    persist_batch(db, [page("a", body(5), at=T0 + timedelta(hours=1))], T0)
    assert verify(db, NOW) == []
    db.versions.delete_one({"_id": "a:1"})  # a gap
    db.articles.update_one({"_id": "b"}, {"$set": {"title": "Edited in place"}})
    b_story = db.story_members.find_one_and_delete({"_id": "b"})["story_id"]
    db.stories.update_one({"_id": b_story}, {"$inc": {"size": -1}})
    db.stories.insert_one({"_id": "ghost", "size": 1})
    db.story_members.insert_one({"_id": "nobody", "story_id": "ghost", "site": "x"})
    db.crawl_runs.insert_one({"_id": "run-z", "site": "example", "outcome": "running"})
    found = {(v.check, v.subject) for v in verify(db, NOW)}
    assert found == {
        ("versions", "a"),
        ("articles", "b"),
        ("stories", "b"),
        ("stories", "nobody"),
        ("runs", "run-z"),
    }
