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

from crawler.cli.inspect import run_rows, story_rows
from crawler.store import ensure_indexes
from crawler.store.reads import BIG_STORIES, first_sorted, newest

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
