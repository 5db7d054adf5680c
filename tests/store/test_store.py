"""The store's promises: one version per real change, no duplicates or gaps under races,
idempotent retries, zstd-compressed raw pages."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone

from crawler.pipeline.processing import persist_batch
from crawler.store import ArticleStore, Page, connect, decompress_raw
from crawler.version.decide import Snapshot
from tests.helpers import members_of

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def body(n: int, extra: str = "") -> list[str]:
    return [
        f"Paragraph {i} of the council report says the budget grows by {i * 3} per cent{extra}."
        " Residents spoke for an hour about roads, water and the new library."
        for i in range(n)
    ]


def page(
    article_id: str,
    paragraphs: list[str],
    title: str = "Council passes budget",
    at=T0,
    raw=b"<html>x</html>",
) -> Page:
    return Page(
        article_id=article_id,
        url=f"https://example.test/{article_id}",
        site="example",
        fetched_at=at,
        snapshot=Snapshot.of(title, paragraphs),
        aliases=[f"example.test/{article_id}"],
        raw_html=raw,
    )


def test_first_fetch_creates_version_one_and_compressed_raw(db):
    store = ArticleStore(db)
    raw = b"<html><body>" + b"<p>hello world</p>" * 500 + b"</body></html>"
    result = store.save_snapshot(page("a1", body(4), raw=raw))
    assert (result.outcome, result.version) == ("new", 1)
    version = db.versions.find_one({"article_id": "a1"})
    assert version["raw"]["size"] == len(raw)
    assert len(version["raw"]["zstd"]) < len(raw) / 10
    assert decompress_raw(version["raw"]["zstd"]) == raw
    article = db.articles.find_one({"_id": "a1"})
    assert article["version_count"] == 1 and article["title"] == "Council passes budget"


def test_unchanged_and_cosmetic_fetches_make_no_version(db):
    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4)))
    assert (
        store.save_snapshot(page("a1", body(4), at=T0 + timedelta(hours=1))).outcome == "unchanged"
    )
    cosmetic = [p.replace("per cent", "per  cent").replace(".", " .") for p in body(4)]
    assert (
        store.save_snapshot(page("a1", cosmetic, at=T0 + timedelta(hours=2))).outcome == "cosmetic"
    )
    assert db.versions.count_documents({"article_id": "a1"}) == 1
    assert db.articles.find_one({"_id": "a1"})["last_seen"] == T0 + timedelta(hours=2)


def test_real_change_appends_version_with_diff(db):
    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4)))
    edited = body(4) + [
        "A late amendment added two million dollars for snow clearing on rural roads."
    ]
    result = store.save_snapshot(page("a1", edited, at=T0 + timedelta(hours=1)))
    assert (result.outcome, result.version) == ("changed", 2)
    v2 = db.versions.find_one({"article_id": "a1", "version": 2})
    assert "body_added" in v2["change"]["kinds"]
    assert "+A late amendment added two million dollars" in v2["change"]["diff"]


def test_flip_flop_does_not_pile_up_versions(db):
    store = ArticleStore(db)
    a, b = body(4), body(4, extra=" this year")
    outcomes = [
        store.save_snapshot(page("a1", text, at=T0 + timedelta(hours=i))).outcome
        for i, text in enumerate([a, b, a, b, a])
    ]
    assert outcomes == ["new", "changed", "reverted", "reverted", "reverted"]
    assert db.versions.count_documents({"article_id": "a1"}) == 2
    assert db.articles.find_one({"_id": "a1"})["current_version"] == 1


def test_retried_write_is_idempotent(db):
    store = ArticleStore(db)
    p = page("a1", body(4))
    store.save_snapshot(p)
    store.save_snapshot(p)
    assert db.versions.count_documents({}) == 1


def crash_after_inserting_version_two(db) -> ArticleStore:
    """A writer that inserted version 2 of a1 and died before updating the article."""
    from crawler.store.versions import version_doc
    from crawler.version.decide import decide

    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4)))
    edited = page("a1", body(5), at=T0 + timedelta(hours=1))
    decision = decide(Snapshot.of("Council passes budget", body(4)), edited.snapshot)
    db.versions.insert_one(version_doc(edited, 2, decision))
    return store


def test_crash_between_version_and_article_write_is_repaired(db):
    store = crash_after_inserting_version_two(db)
    edited = page("a1", body(5), at=T0 + timedelta(hours=1))
    result = store.save_snapshot(page("a1", body(5), at=T0 + timedelta(hours=2)))
    assert result.outcome == "unchanged"
    article = db.articles.find_one({"_id": "a1"})
    assert article["version_count"] == 2 and article["content_hash"] == edited.snapshot.content_hash


def run_racers(target, arg_lists: list[tuple]) -> list[list[str]]:
    """Run writers in separate processes at once; each puts its list of outcomes on a queue."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=target, args=(*args, queue)) for args in arg_lists]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    return results


def _race_writer(uri: str, db_name: str, worker: int, rounds: int, queue) -> None:
    db = connect(uri, db_name)
    store = ArticleStore(db)
    outcomes = []
    for r in range(rounds):
        for art in range(3):
            # All workers write the same sequence of contents, so they collide constantly.
            text = body(3, extra=f" (revision {r})")
            res = store.save_snapshot(page(f"race{art}", text, at=T0 + timedelta(minutes=r)))
            outcomes.append(res.outcome)
    queue.put(outcomes)


def test_concurrent_writers_never_duplicate_or_skip_versions(db, mongo_uri):
    results = run_racers(_race_writer, [(mongo_uri, db.name, w, 6) for w in range(4)])
    for art in range(3):
        numbers = sorted(v["version"] for v in db.versions.find({"article_id": f"race{art}"}))
        assert numbers == list(range(1, len(numbers) + 1)), numbers
        hashes = [v["content_hash"] for v in db.versions.find({"article_id": f"race{art}"})]
        assert len(hashes) == len(set(hashes)) == 6
        article = db.articles.find_one({"_id": f"race{art}"})
        assert article["version_count"] == 6
    made = sum(o in ("new", "changed") for outcomes in results for o in outcomes)
    assert made == 18  # exactly one writer created each of the 6 versions of the 3 articles


# -- batched writes: the same promises ------------------------------------------------------


def test_a_batch_stores_like_one_page_at_a_time(db):
    store = ArticleStore(db)
    later = T0 + timedelta(hours=1)
    batch = [
        page("a1", body(4)),
        page("b1", body(3)),
        page("a1", body(5), at=later),  # the same article again, changed, in the same batch
        page("b1", body(3), at=later),  # and an unchanged repeat
    ]
    results = store.save_snapshots(batch)
    assert [(r.outcome, r.version) for r in results] == [
        ("new", 1),
        ("new", 1),
        ("changed", 2),
        ("unchanged", 1),
    ]
    assert sorted(v["version"] for v in db.versions.find({"article_id": "a1"})) == [1, 2]
    article = db.articles.find_one({"_id": "a1"})
    assert article["version_count"] == 2 and article["text"].count("Paragraph") == 5


def test_a_new_article_from_a_batch_is_the_document_a_single_write_makes(db):
    """Batches insert new articles (cheaper than the single path's upsert): same document."""
    store = ArticleStore(db)
    store.save_snapshot(page("alone", body(3)))
    store.save_snapshots([page("batched", body(3)), page("other", body(2))])

    def comparable(article_id: str) -> dict:
        doc = db.articles.find_one({"_id": article_id})
        assert doc is not None
        return {k: v for k, v in doc.items() if k not in ("_id", "url", "aliases", "story_id")}

    assert comparable("batched") == comparable("alone")
    assert db.articles.find_one({"_id": "batched"})["aliases"] == ["example.test/batched"]


def test_a_batch_whose_new_article_another_writer_completed_meanwhile_keeps_one_article(db):
    store = ArticleStore(db)

    def place(indexes: list[int]) -> dict[str, str]:
        # between our version insert and our article insert, another writer meets the
        # same page, finds version 1 without its article and repairs it
        assert ArticleStore(db).save_snapshot(page("raced", body(3))).outcome == "unchanged"
        return {"raced": "story-1", "calm": "story-2"}

    results = store.save_snapshots([page("raced", body(3)), page("calm", body(2))], place=place)
    assert [r.outcome for r in results] == ["new", "new"]
    assert db.versions.count_documents({"article_id": "raced"}) == 1
    raced = db.articles.find_one({"_id": "raced"})
    assert raced["version_count"] == 1 and db.articles.count_documents({}) == 2
    assert db.articles.find_one({"_id": "calm"})["story_id"] == "story-2"


def test_a_retried_batch_adds_nothing(db):
    store = ArticleStore(db)
    batch = [page(f"a{i}", body(3 + i)) for i in range(5)]
    store.save_snapshots(batch)
    again = store.save_snapshots(batch)
    assert {r.outcome for r in again} == {"unchanged"}
    assert db.versions.count_documents({}) == 5


def test_a_batch_repairs_an_article_left_behind_by_a_crashed_writer(db):
    crash_after_inserting_version_two(db)
    # it was indexed in story s1, then died before the story listed it
    db.fingerprints.insert_one({"_id": "a1", "story_id": "s1"})
    results = persist_batch(
        db, [page("a1", body(5), at=T0 + timedelta(hours=2)), page("b", body(2))], T0
    )
    assert [r.outcome for r in results] == ["unchanged", "new"]
    repaired = db.articles.find_one({"_id": "a1"})
    assert repaired["version_count"] == 2 and repaired["story_id"] == "s1"
    story = db.stories.find_one({"_id": "s1"})
    assert [m["article_id"] for m in members_of(db, "s1")] == ["a1"] and story["size"] == 1


def _batch_race_writer(uri: str, db_name: str, rounds: int, queue) -> None:
    db = connect(uri, db_name)
    store = ArticleStore(db)
    outcomes = []
    for r in range(rounds):
        batch = [
            page(f"race{art}", body(3, extra=f" (revision {r})"), at=T0 + timedelta(minutes=r))
            for art in range(3)
        ]
        outcomes += [res.outcome for res in store.save_snapshots(batch)]
    queue.put(outcomes)


def test_concurrent_batch_writers_never_duplicate_or_skip_versions(db, mongo_uri):
    results = run_racers(_batch_race_writer, [(mongo_uri, db.name, 5)] * 3)
    for art in range(3):
        numbers = sorted(v["version"] for v in db.versions.find({"article_id": f"race{art}"}))
        assert numbers == [1, 2, 3, 4, 5]
        assert db.articles.find_one({"_id": f"race{art}"})["version_count"] == 5
    made = sum(o in ("new", "changed") for outcomes in results for o in outcomes)
    assert made == 15  # each of the 5 versions of the 3 articles made by exactly one writer


def test_revisits_fall_due_as_the_clock_advances_and_slow_down_once_the_article_settles(db):
    """Revisit planning takes `now`: the test advances a clock instead of waiting."""
    from crawler.clock import SteppedClock
    from crawler.version.revisit import MIN_INTERVAL

    clock = SteppedClock(T0)
    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4), at=clock()))
    due = lambda: [a["_id"] for a in store.due_for_revisit("example", clock(), 10)]  # noqa: E731
    assert due() == []  # just stored: not yet
    clock.advance(MIN_INTERVAL)
    assert due() == ["a1"]  # a fresh article is looked at again after MIN_INTERVAL
    clock.advance(timedelta(days=2))
    store.save_snapshot(page("a1", body(4), at=clock()))  # unchanged two days on
    clock.advance(MIN_INTERVAL)
    assert due() == []  # settled articles are revisited less often (a quarter of their age)
    clock.advance(timedelta(hours=12))
    assert due() == ["a1"]


def _run(db, run_id: str, started, finished=None, outcome: str = "running") -> None:
    db.crawl_runs.update_one(
        {"_id": run_id},
        {
            "$set": {
                "site": "example",
                "started_at": started,
                "finished_at": finished,
                "outcome": outcome,
            }
        },
        upsert=True,
    )


def test_each_run_that_ended_badly_is_repaired_once_however_long_it_was_open(db):
    """A crawl start repairs what runs that did not end ok left half-written: also a run that
    was still open through earlier starts (a week-long crawl) or whose end was recorded late
    (replayed from the journal with its old time), and never the same run twice."""
    from dataclasses import replace

    from crawler.maintenance.repair import repair_unfinished_runs
    from crawler.store import ensure_indexes
    from crawler.store.versions import version_doc
    from crawler.version.decide import decide

    ensure_indexes(db)
    _run(db, "ok", T0 - timedelta(hours=2), T0 - timedelta(hours=1), "ok")
    _run(db, "failed", T0 - timedelta(hours=2), T0 - timedelta(hours=1), "error")
    _run(db, "week-long", T0 - timedelta(days=7))
    assert repair_unfinished_runs(db, T0).runs == 1
    assert db.crawl_runs.find_one({"_id": "failed"})["repaired_at"] is not None
    assert repair_unfinished_runs(db, T0 + timedelta(hours=1)).runs == 0

    # the week-long run wrote version 2 of a1 and died before updating the article
    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4)))
    edited = replace(page("a1", body(5), at=T0 + timedelta(hours=2)), run_id="week-long")
    decision = decide(Snapshot.of("Council passes budget", body(4)), edited.snapshot)
    db.versions.insert_one(version_doc(edited, 2, decision))
    _run(db, "week-long", T0 - timedelta(days=7), T0 + timedelta(hours=2), "interrupted")
    report = repair_unfinished_runs(db, T0 + timedelta(hours=3))
    assert report.runs == 1 and report.articles_caught_up == 1
    assert db.articles.find_one({"_id": "a1"})["version_count"] == 2

    # a run that started before that look, whose end reached the store only after it
    _run(db, "journalled", T0 + timedelta(minutes=170), T0 + timedelta(minutes=175), "error")
    assert repair_unfinished_runs(db, T0 + timedelta(hours=4)).runs == 1
    assert repair_unfinished_runs(db, T0 + timedelta(hours=5)).runs == 0
    assert db.crawl_runs.find_one({"_id": "ok"}).get("repaired_at") is None


def test_a_store_written_before_url_aliases_gets_them_once(db):
    """Articles stored before `url_aliases` existed are found by any of their URLs after the
    next start; the backfill is not repeated (it would take aliases away from the articles
    that own them now)."""
    from crawler.store import ensure_indexes

    db.meta.delete_many({})  # a store no start of this version has looked at
    db.articles.insert_many(
        [
            {
                "_id": "old",
                "aliases": ["example.test/old", "example.test/renamed"],
                "first_seen": T0,
            },
            {
                "_id": "older",
                "aliases": ["example.test/renamed"],
                "first_seen": T0 - timedelta(days=1),
            },
        ]
    )
    ensure_indexes(db)
    owners = {a["_id"]: a["article_id"] for a in db.url_aliases.find()}
    assert owners == {"example.test/old": "old", "example.test/renamed": "older"}
    db.url_aliases.delete_many({})  # had it looked again, it would fill them again
    ensure_indexes(db)
    assert db.url_aliases.count_documents({}) == 0


def test_a_gone_article_leaves_the_revisit_queue(db):
    """An article that answered 404/410 is not revisited, and does not stay in the queue that
    every crawl of its site reads: neither one marked now nor one marked gone by an older
    version, which kept its place in the queue."""
    store = ArticleStore(db)
    for article_id in ("live", "gone-now", "gone-before"):
        store.save_snapshot(page(article_id, body(3)))
    for day in range(3):  # retired after 3 answers over 2 days (tests/version/test_gone.py)
        store.mark_url_gone("example.test/gone-now", 410, T0 + timedelta(days=day))
    later = T0 + timedelta(days=30)
    in_queue = {"site": "example", "next_check_at": {"$lte": later}}
    assert sorted(a["_id"] for a in db.articles.find(in_queue)) == ["gone-before", "live"]
    for limit in (1, 10):  # the one gone before is the longest overdue: it comes first
        db.articles.update_one(
            {"_id": "gone-before"}, {"$set": {"status": "gone", "next_check_at": T0}}
        )
        assert [a["_id"] for a in store.due_for_revisit("example", later, limit)] == ["live"]
        assert [a["_id"] for a in db.articles.find(in_queue)] == ["live"]
    assert [a["_id"] for a in store.due_for_revisit("example", T0, 10, everything=True)] == ["live"]


def test_a_gone_article_that_answers_again_is_revisited_again(db):
    """A 404 that was temporary: the next successful fetch (the feed announced an update)
    puts the article back in the revisit queue, whether its text changed or not."""
    store = ArticleStore(db)
    for article_id in ("same", "edited"):
        store.save_snapshot(page(article_id, body(3)))
        store.mark_url_gone(f"example.test/{article_id}", 404, T0)
    back = T0 + timedelta(days=2)
    store.save_snapshot(page("same", body(3), at=back))
    store.save_snapshot(page("edited", body(4), at=back))
    due = store.due_for_revisit("example", back + timedelta(days=30), 10)
    assert sorted(a["_id"] for a in due) == ["edited", "same"]
    assert db.articles.count_documents({"status": "gone"}) == 0
