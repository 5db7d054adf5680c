"""Windowed sorted reads (crawler.store.reads) give exactly the plain sort's answer.

They exist for the embedded store's sake (it orders in memory, not by index), so
what a user relies on is that the newest runs and the biggest stories come out
the same as `find(q).sort(...).limit(n)` would give them, whatever the data's
spread in time or size, and whatever the clock says.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from crawler.cli.inspect import first_members, run_rows, story_rows
from crawler.store import ensure_indexes
from crawler.store.reads import BIG_STORIES, first_sorted, last_run, newest

START = datetime(2026, 9, 1, tzinfo=timezone.utc)


def _runs(db, rng: random.Random) -> None:
    docs = []
    for i in range(900):
        # mostly every few minutes over 60 days; some runs days apart; some sites rare
        minutes = rng.choice([rng.randrange(86_400), rng.randrange(600)])
        at = START + timedelta(minutes=minutes, microseconds=i)  # no ties: their order is free
        docs.append(
            {
                "_id": f"r{i:04d}",
                "site": rng.choice(["busy", "busy", "busy", "weekly", "rare"])
                if i % 300
                else "once",
                "started_at": at,
                "finished_at": at + timedelta(minutes=3) if rng.random() < 0.9 else None,
            }
        )
    docs.append({"_id": "no-start", "site": "busy"})  # a record without the sort field
    db.crawl_runs.insert_many(docs)


def _plain(db, query, limit):
    return [d["_id"] for d in db.crawl_runs.find(query).sort("started_at", -1).limit(limit)]


@pytest.mark.parametrize("days_after", [-400, 0, 1, 30, 400])
def test_newest_runs_are_the_plain_sorts_whatever_the_clock_says(db, days_after):
    ensure_indexes(db)
    _runs(db, random.Random(7))
    now = START + timedelta(days=60 + days_after)
    for query in (
        {},
        {"site": "busy"},
        {"site": "rare", "finished_at": {"$ne": None}},
        {"site": "once"},
        {"site": "nobody"},
        {"site": "busy", "started_at": {"$lt": START + timedelta(days=20)}},  # the $and path
    ):
        for limit in (1, 3, 20, 2000):
            got = [d["_id"] for d in newest(db.crawl_runs, query, "started_at", limit, now)]
            assert got == _plain(db, query, limit), (query, limit)


def test_biggest_stories_are_the_plain_sorts_with_ties_and_filters(db):
    ensure_indexes(db)
    rng = random.Random(11)
    sizes = (
        [1] * 400
        + [rng.randrange(2, 9) for _ in range(60)]
        + [rng.randrange(9, 200) for _ in range(15)]
    )
    db.stories.insert_many(
        {
            "_id": f"s{i:04d}",
            "size": size,
            "sites": [f"site{j}" for j in range(min(size, 4))],
            "last_joined": START + timedelta(minutes=rng.randrange(5000), microseconds=i),
            "merged_into": None,
        }
        for i, size in enumerate(sizes)
    )
    biggest = [("size", -1), ("last_joined", -1)]
    for query in ({"merged_into": None}, {"sites": "site3"}, {"size": {"$lt": 5}}):
        for limit in (1, 5, 20, 100, 1000):
            plain = [d["_id"] for d in db.stories.find(query).sort(biggest).limit(limit)]
            got = [d["_id"] for d in first_sorted(db.stories, query, biggest, limit, BIG_STORIES)]
            assert got == plain, (query, limit)
    # the command's own rows, as `newscrawl stories` prints them
    rows = story_rows(db, limit=20)
    plain = list(db.stories.find({"merged_into": None}).sort(biggest).limit(20))
    assert [r["story_id"] for r in rows] == [d["_id"] for d in plain]


def test_newscrawl_runs_lists_the_newest_runs_first(db):
    ensure_indexes(db)
    _runs(db, random.Random(3))
    assert [r["_id"] for r in run_rows(db, limit=20)] == _plain(db, {}, 20)
    assert [r["_id"] for r in run_rows(db, site="weekly", limit=5)] == _plain(
        db, {"site": "weekly"}, 5
    )


@pytest.mark.parametrize("days_after", [-400, 0, 30, 400])
def test_the_last_finished_run_is_the_plain_queries(db, days_after):
    """What the metrics and `newscrawl status` show for a site: its newest finished run,
    also when the newest runs are still open (the test is applied to what is read)."""
    ensure_indexes(db)
    _runs(db, random.Random(5))
    # the busiest site's 40 newest runs are still open
    for doc in db.crawl_runs.find({"site": "busy"}).sort("started_at", -1).limit(40):
        db.crawl_runs.update_one({"_id": doc["_id"]}, {"$set": {"finished_at": None}})
    now = START + timedelta(days=60 + days_after)
    for site in ("busy", "weekly", "rare", "once", "nobody"):
        plain = _plain(db, {"site": site, "finished_at": {"$ne": None}}, 1)
        got = last_run(db, site, now)
        assert ([got["_id"]] if got else []) == plain, site


def test_a_run_queued_on_a_node_is_not_the_last_run(db):
    """`newscrawl status` and the metrics agree: the last run is the newest that ended, not a
    Scrapyd job still queued (outcome "queued") or a crawl running now."""
    db.crawl_runs.insert_many(
        [
            {
                "_id": "ended",
                "site": "a",
                "started_at": START,
                "finished_at": START,
                "outcome": "ok",
            },
            {
                "_id": "queued",
                "site": "a",
                "started_at": START + timedelta(hours=1),
                "outcome": "queued",
            },
            {
                "_id": "running",
                "site": "a",
                "started_at": START + timedelta(hours=2),
                "outcome": "running",
            },
        ]
    )
    assert last_run(db, "a", START + timedelta(days=1))["_id"] == "ended"
    assert last_run(db, "b", START) is None


def test_a_big_story_s_first_members_are_the_plain_sorts(db):
    """`newscrawl stories --json` lists a story's first members in joining order, a
    5,000-copy story's as a 3-copy one's, also members recorded without a joining time."""
    ensure_indexes(db)
    rng = random.Random(9)
    for story_id, size in (("big", 600), ("small", 3), ("late", 120)):
        created = START + timedelta(days=rng.randrange(30))
        db.stories.insert_one({"_id": story_id, "size": size, "created_at": created})
        members = []
        for i in range(size):
            joined = created + timedelta(
                minutes=rng.choice([rng.randrange(90), rng.randrange(20_000)])
            )
            member = {"_id": f"{story_id}{i:04d}", "story_id": story_id, "joined_at": joined}
            if story_id == "late":  # its copies joined days later; a few without a time
                member["joined_at"] = joined + timedelta(days=3) if i % 40 else None
            members.append(member)
        db.story_members.insert_many(members)
    for story in db.stories.find():
        for limit in (1, 2, 50, 100, 1000):
            plain = (
                db.story_members.find({"story_id": story["_id"]}).sort("joined_at", 1).limit(limit)
            )
            got = first_members(db, story, limit)
            assert [m["_id"] for m in got] == [m["_id"] for m in plain], (story["_id"], limit)
