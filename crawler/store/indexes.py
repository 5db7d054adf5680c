"""Every index the schema relies on, created at each start (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from crawler.store.writes import insert_new
from crawler.types import Doc

FETCH_LOG_TTL = timedelta(days=30)
COMMON_ANCHOR_TTL_S = 30 * 24 * 3600  # common anchors (crawler.stories.index) are learned again
ALIASES_MARKER = "url_aliases-backfilled"  # meta: backfill_url_aliases has looked


def ensure_indexes(db: Database[Doc]) -> None:
    """Create every index the schema relies on; safe to run at every start."""
    db.articles.create_index("aliases")  # informational: url_aliases resolves URLs
    db.url_aliases.create_index("article_id")
    db.articles.create_index([("site", ASCENDING), ("next_check_at", ASCENDING)])
    db.articles.create_index([("last_changed", DESCENDING)])
    db.articles.create_index("story_id")
    db.articles.create_index("stable_key")  # crawler.pipeline.identity: the same article, renamed
    db.versions.create_index([("article_id", ASCENDING), ("version", ASCENDING)], unique=True)
    db.versions.create_index([("article_id", ASCENDING), ("content_hash", ASCENDING)], unique=True)
    db.versions.create_index([("fetched_at", DESCENDING)])
    db.stories.create_index([("size", DESCENDING), ("last_joined", DESCENDING)])
    db.stories.create_index("sites")
    db.stories.create_index("last_joined")  # newscrawl export: the stories joined in a window
    # crawler.stories.merge: merges still checked at crawl starts (few; most stories never merge)
    db.stories.create_index("recheck_until", sparse=True)
    # crawler.stories.members: one document per member, listed per story in joining order
    db.story_members.create_index([("story_id", ASCENDING), ("joined_at", ASCENDING)])
    db.story_members.create_index([("story_id", ASCENDING), ("changes_against", ASCENDING)])
    db.story_members.create_index("site")
    # crawler.stories.inflight's `placements` has no index on purpose: it holds one small
    # collection of the batches in flight (a few at a time), scanned faster than an index
    # of a batch's ~1,000 anchors is written and removed
    db.fingerprints.create_index("anchors")
    db.fingerprints.create_index("body_hash")
    # crawler.stories.index.CommonAnchors: what is common expires and is learned again
    if "since_1" in db.common_anchors.index_information():  # before it expired
        db.common_anchors.drop_index("since_1")
    db.common_anchors.create_index(
        "since", name="since_ttl", expireAfterSeconds=int(COMMON_ANCHOR_TTL_S)
    )
    db.fetches.create_index("at", expireAfterSeconds=int(FETCH_LOG_TTL.total_seconds()))
    db.fetches.create_index([("url", ASCENDING), ("at", DESCENDING)])
    db.fetches.create_index("run_id")
    db.feeds.create_index("site")
    db.site_chrome.create_index("site")  # crawler.text.chrome: one document per (site, line shape)
    db.crawl_runs.create_index([("site", ASCENDING), ("started_at", DESCENDING)])
    db.crawl_runs.create_index([("started_at", DESCENDING)])
    # runs left running, read at every crawl start and by verify: few among many
    db.crawl_runs.create_index("outcome")
    db.versions.create_index("run_id")  # the crash repair reads an interrupted run's versions
    # crawler.service.notify: the alerts due (sent and failed ones have no next_attempt_at)
    db.notifications.create_index("next_attempt_at", sparse=True)
    backfill_url_aliases(db)


def backfill_url_aliases(db: Database[Doc]) -> int:
    """A database written before `url_aliases` existed: give each alias to the article that
    saw it first. Idempotent; runs only while `url_aliases` is empty, and is looked at once:
    a marker in `meta` says it was (counting a collection is not free on the embedded
    store: 1.8 s at 300k aliases, at every crawl start)."""
    if db.meta.find_one({"_id": ALIASES_MARKER}):
        return 0
    claimed = 0
    if not db.url_aliases.estimated_document_count():
        claimed = _claim_aliases(db)
    db.meta.update_one({"_id": ALIASES_MARKER}, {"$set": {"done": True}}, upsert=True)
    return claimed


def _claim_aliases(db: Database[Doc]) -> int:
    claimed = 0
    cursor = db.articles.find({}, {"aliases": 1, "first_seen": 1}).sort("first_seen", ASCENDING)
    for article in cursor:
        docs = [
            {"_id": alias, "article_id": article["_id"], "since": article.get("first_seen")}
            for alias in article.get("aliases", [])
        ]
        claimed += len(docs) - len(insert_new(db.url_aliases, docs))
    return claimed
