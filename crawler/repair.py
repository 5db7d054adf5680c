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
from datetime import datetime
from typing import Any

from pymongo.database import Database

from crawler.discovery import parse_date
from crawler.store import ArticleStore
from crawler.stories import Member, StoryIndex

log = logging.getLogger(__name__)

Doc = dict[str, Any]
CHUNK = 200


@dataclass
class RepairReport:
    runs: int = 0
    articles_caught_up: int = 0
    articles_placed: int = 0


def repair_unfinished_runs(db: Database[Doc], now: datetime) -> RepairReport:
    """Repair the articles written by finished runs that did not end ok, once per run."""
    report = RepairReport()
    query = {"finished_at": {"$ne": None}, "outcome": {"$ne": "ok"}, "repaired_at": None}
    for run in list(db.crawl_runs.find(query, {"_id": 1})):
        ids = sorted(
            {v["article_id"] for v in db.versions.find({"run_id": run["_id"]}, {"article_id": 1})}
        )
        for start in range(0, len(ids), CHUNK):
            caught_up, placed = repair_articles(db, ids[start : start + CHUNK], now)
            report.articles_caught_up += caught_up
            report.articles_placed += placed
        db.crawl_runs.update_one({"_id": run["_id"]}, {"$set": {"repaired_at": now}})
        report.runs += 1
    if report.articles_caught_up or report.articles_placed:
        log.warning(
            "repaired %d articles left behind by interrupted crawls; placed %d in stories",
            report.articles_caught_up,
            report.articles_placed,
        )
    return report


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
