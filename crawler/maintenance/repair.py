"""Finish what crashed crawls left half-written, at the start of every crawl process.

A crawl killed (or failed) between two writes of one page leaves a version the
article does not reflect yet, or an article indexed for a story that does not
list it. The store repairs such an article when it next writes it; this pass
does it without waiting for that, for every article a run that did not end
`ok` wrote a version of (`versions.run_id` is indexed), and marks the run
repaired so it is looked at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.database import Database

from crawler.store import ArticleStore
from crawler.store.reads import in_batches
from crawler.stories import Member, StoryIndex
from crawler.text.dates import parse_date
from crawler.types import Doc

log = logging.getLogger(__name__)

CHUNK = 200
LOOKED_MARKER = "repair"  # meta: where the next look for runs to repair starts
CLOCK_SKEW = timedelta(hours=1)


@dataclass
class RepairReport:
    runs: int = 0
    articles_caught_up: int = 0
    articles_placed: int = 0


def repair_unfinished_runs(db: Database[Doc], now: datetime) -> RepairReport:
    """Repair the articles written by finished runs that did not end ok, once per run."""
    report = RepairReport()
    to_repair, still_open = _runs_since_last_look(db)
    for run in to_repair:
        ids = sorted(
            {v["article_id"] for v in db.versions.find({"run_id": run["_id"]}, {"article_id": 1})}
        )
        for chunk in in_batches(ids, CHUNK):
            caught_up, placed = repair_articles(db, list(chunk), now)
            report.articles_caught_up += caught_up
            report.articles_placed += placed
        db.crawl_runs.update_one({"_id": run["_id"]}, {"$set": {"repaired_at": now}})
        report.runs += 1
    # the next look starts at the oldest run still open, or at this one
    mark = min([now, *still_open])
    db.meta.update_one({"_id": LOOKED_MARKER}, {"$max": {"runs_started_since": mark}}, upsert=True)
    if report.articles_caught_up or report.articles_placed:
        log.warning(
            "repaired %d articles left behind by interrupted crawls; placed %d in stories",
            report.articles_caught_up,
            report.articles_placed,
        )
    return report


def _runs_since_last_look(db: Database[Doc]) -> tuple[list[Doc], list[datetime]]:
    """The runs to repair, and when the runs still open started.

    Reads only the runs started since the oldest one the last look saw still open
    (`started_at` is indexed), less CLOCK_SKEW for runs recorded by another machine's
    clock: every crawl start looks, so that is a few minutes of runs, where the whole
    collection (1.2 s at 86k runs on the embedded store, at every crawl start) would
    grow for as long as the service runs. The first look reads every run."""
    mark = (db.meta.find_one({"_id": LOOKED_MARKER}) or {}).get("runs_started_since")
    query = {} if mark is None else {"started_at": {"$gte": mark - CLOCK_SKEW}}
    fields = {"started_at": 1, "finished_at": 1, "outcome": 1, "repaired_at": 1}
    to_repair, still_open = [], []
    for run in db.crawl_runs.find(query, fields):
        if run.get("finished_at") is None:
            if run.get("started_at"):
                still_open.append(run["started_at"])
        elif run.get("outcome") != "ok" and run.get("repaired_at") is None:
            to_repair.append(run)
    return to_repair, still_open


def repair_articles(db: Database[Doc], article_ids: list[str], now: datetime) -> tuple[int, int]:
    """Catch each article up with its newest version and place the ones without a story."""
    store = ArticleStore(db)
    caught_up = sum(store.repair(article_id) is not None for article_id in article_ids)
    projection = {"title": 1, "text": 1, "site": 1, "url": 1, "published": 1, "authors": 1}
    unplaced = list(
        db.articles.find(
            {"_id": {"$in": article_ids}, "version_count": {"$gte": 1}, "story_id": None},
            {**projection, "last_changed": 1},
        )
    )
    if unplaced:
        StoryIndex(db).assign_many([_member(doc, now) for doc in unplaced], now)
    return caught_up, len(unplaced)


def _member(article: Doc, now: datetime) -> Member:
    published = article.get("published")
    return Member(
        article_id=article["_id"],
        site=article.get("site", ""),
        url=article.get("url", ""),
        title=article.get("title", ""),
        paragraphs=(article.get("text") or "").split("\n"),
        published=parse_date(published) if published else None,
        seen_at=article.get("last_changed") or now,
        authors=article.get("authors") or [],
        rejoin=True,
    )
