"""What a months-old store costs at every crawl start, metrics scrape and inspection command.

The service starts one crawl process per site per tick, and each begins with
`prepare_store` (indexes, journal replay, abandoned runs, crash repair, merges);
Prometheus scrapes the per-site gauges every 15 s; users list runs and stories.
On the embedded store (secantusdb) a query's cost is the documents it selects,
so any of these that selects by a condition no index answers grows with the
store for as long as the service runs.

This builds an embedded store on its service defaults with --articles articles
(each with a version, a URL alias, a story membership and a fetch-log line; two
copies per story), --runs crawl runs of 20 sites (one every 15 s, newest last)
and 20 big stories (5 of 5,000 copies, 15 of 1,000), then times each step as
the code runs it now (also each site's revisit queue, read by every crawl of the
site: about 1 article in 75 due), next to the query it replaced (written out here, run in
the same process on the same store, before the index or marker that replaced
it exists).

    python bench/store_growth.py [--articles 100000] [--runs 86400]

Loading takes about 1 s per 1,000 articles at first and slows to 3-5 s per
1,000 past 100k (the embedded store's checkpoints).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from crawler.cli.inspect import story_rows
from crawler.clock import utcnow
from crawler.maintenance.repair import LOOKED_MARKER
from crawler.run.runner import prepare_store
from crawler.service.metrics import ServiceMetrics
from crawler.store import ArticleStore, connect, ensure_indexes
from crawler.store.embedded import EmbeddedServer
from crawler.store.indexes import ALIASES_MARKER

SITES = [f"site{i}" for i in range(20)]
BATCH = 5000


def load(db: Any, articles: int, runs: int) -> None:
    now = utcnow()
    for start in range(0, articles, BATCH):
        docs: dict[str, list[dict[str, Any]]] = {
            name: []
            for name in (
                "articles",
                "versions",
                "url_aliases",
                "story_members",
                "stories",
                "fetches",
            )
        }
        for i in range(start, min(articles, start + BATCH)):
            article_id, site = f"a{i:09d}", SITES[i % len(SITES)]
            url = f"https://{site}.example/news/{i}"
            at = now - timedelta(minutes=(articles - i) * 0.5)
            story_id = f"a{i - i % 2:09d}"
            docs["articles"].append(
                {
                    "_id": article_id,
                    "url": url,
                    "aliases": [url],
                    "site": site,
                    "first_seen": at,
                    "last_changed": at,
                    # a few are due for a revisit now; the rest within the week
                    "next_check_at": now - timedelta(minutes=1)
                    if i % 75 == 0
                    else now + timedelta(hours=1 + i % 160),
                    "version_count": 1,
                    "story_id": story_id,
                    "text": "x" * 3000,
                }
            )
            run_id = f"r{i % runs}"
            docs["versions"].append(
                {"article_id": article_id, "version": 1, "content_hash": f"h{i}", "fetched_at": at}
                | {"run_id": run_id, "text": "x" * 3000}
            )
            docs["url_aliases"].append({"_id": url, "article_id": article_id, "since": at})
            docs["story_members"].append(
                {"_id": article_id, "story_id": story_id, "site": site, "joined_at": at}
            )
            if i % 2 == 0:
                docs["stories"].append(
                    {"_id": story_id, "size": 2, "sites": [site], "last_joined": at}
                    | {"created_at": at, "sample": []}
                )
            docs["fetches"].append({"url": url, "at": at, "status": 200, "run_id": run_id})
        for name, batch in docs.items():
            db[name].insert_many(batch, ordered=False)
    for start in range(0, runs, BATCH):
        db.crawl_runs.insert_many(
            [
                {
                    "_id": f"r{r}",
                    "site": SITES[r % len(SITES)],
                    "started_at": (at := now - timedelta(seconds=(runs - r) * 15)),
                    "finished_at": at + timedelta(seconds=30),
                    "outcome": "ok" if r % 50 else "error",
                    "repaired_at": None if r % 50 else at,
                }
                for r in range(start, min(runs, start + BATCH))
            ]
        )
    for k in range(20):
        story_id, size, created = f"big{k:03d}", 5000 if k < 5 else 1000, now - timedelta(days=k)
        db.stories.insert_one(
            {"_id": story_id, "size": size, "sites": SITES, "created_at": created}
            | {"last_joined": created + timedelta(hours=30), "sample": []}
        )
        db.story_members.insert_many(
            {"_id": f"{story_id}-{i}", "story_id": story_id, "site": SITES[i % len(SITES)]}
            | {"joined_at": created + timedelta(seconds=20 * i)}
            for i in range(size)
        )


def timed(func: Callable[[], Any], repeat: int = 3) -> float:
    """Best of `repeat`, in ms."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def replaced_queries(db: Any) -> dict[str, float]:
    """The queries the current code no longer makes, timed before their replacement exists."""
    now = utcnow()
    biggest = list(db.stories.find({}).sort([("size", -1), ("last_joined", -1)]).limit(20))

    def old_members() -> None:
        for story in biggest:
            list(db.story_members.find({"story_id": story["_id"]}).sort("joined_at", 1).limit(50))

    def old_scrape() -> None:
        for site in SITES:
            ended = {"site": site, "finished_at": {"$ne": None}}
            list(db.crawl_runs.find(ended).sort("started_at", -1).limit(1))
            db.crawl_runs.count_documents({"site": site, "finished_at": None})

    def old_revisit_queues() -> None:
        for site in SITES:
            due = {"site": site, "status": {"$ne": "gone"}, "next_check_at": {"$lte": now}}
            list(db.articles.find(due, {"url": 1}).sort("next_check_at", 1).limit(200))

    open_runs = {"outcome": "running", "started_at": {"$lt": now}}
    unrepaired = {"finished_at": {"$ne": None}, "outcome": {"$ne": "ok"}, "repaired_at": None}
    return {
        "alias backfill check (count)": timed(db.url_aliases.estimated_document_count),
        "abandoned runs (no outcome index)": timed(lambda: list(db.crawl_runs.find(open_runs))),
        "runs to repair (every run)": timed(lambda: list(db.crawl_runs.find(unrepaired))),
        "metrics scrape, 20 sites": timed(old_scrape),
        "first 50 members of 20 big stories": timed(old_members),
        "revisit queues of 20 sites": timed(old_revisit_queues),
    }


def current_code(db: Any) -> dict[str, float]:
    metrics = ServiceMetrics(db, lambda: SITES)
    return {
        "crawl start (prepare_store)": timed(lambda: prepare_store(db, utcnow)),
        "metrics scrape, 20 sites": timed(metrics.render),
        "newscrawl stories (20 stories, 50 members)": timed(lambda: story_rows(db)),
        "revisit queues of 20 sites": timed(
            lambda: [ArticleStore(db).due_for_revisit(site, utcnow(), 200) for site in SITES]
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=86_400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp, EmbeddedServer(tmp) as server:
        db = connect(server.uri, "bench_growth", timeout_ms=600_000)
        ensure_indexes(db)
        started = time.perf_counter()
        load(db, args.articles, args.runs)
        # as a store written before this change: no `outcome` index, no markers
        db.crawl_runs.drop_index("outcome_1")
        db.meta.delete_many({"_id": {"$in": [ALIASES_MARKER, LOOKED_MARKER]}})
        print(
            f"store: {args.articles:,} articles, {args.runs:,} crawl runs, 20 big stories "
            f"(loaded in {time.perf_counter() - started:.0f} s)"
        )
        before = replaced_queries(db)
        first_start = timed(
            lambda: prepare_store(db, utcnow), repeat=1
        )  # creates the index, marker
        now = current_code(db)
    print("replaced queries, as the code made them before (ms):")
    for name, ms in before.items():
        print(f"  {name:45s} {ms:9.1f}")
    print("each crawl start paid the first three; the first start now pays them once:")
    print(f"  {'first crawl start after the upgrade':45s} {first_start:9.1f}")
    print("as the code runs now (ms):")
    for name, ms in now.items():
        print(f"  {name:45s} {ms:9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
