"""Schema 1 → 2: story members out of the `stories` document into `story_members`.

Schema 1 (before December 2026) kept every member, with what it changed, in a
`members` array of its story and placed stories under a global `story-index`
lock. `newscrawl migrate` runs this by hand; every crawl runs it before its first
batch (crawler.run.runner.prepare_store), where it costs one read once done.

Idempotent and safe to stop at any point: members are inserted by `_id` (a rerun
inserts nothing twice) and the story's `members` array is removed only after
its members are in place, so a rerun finishes what a stopped one began.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pymongo.database import Database

from crawler.store.writes import insert_new
from crawler.stories.members import ORIGIN_KEYS, SAMPLE_SIZE
from crawler.types import Doc

log = logging.getLogger(__name__)


SCHEMA_VERSION = 2
OLD_LOCK = "story-index"


@dataclass
class Migration:
    stories: int = 0
    members: int = 0
    already: bool = False


def schema_version(db: Database[Doc]) -> int:
    doc = db.meta.find_one({"_id": "schema"}) or {}
    return int(doc.get("version", 1))


def migrate(db: Database[Doc], now: datetime) -> Migration:
    """Bring the database to SCHEMA_VERSION; what it moved."""
    done = Migration(already=schema_version(db) >= SCHEMA_VERSION)
    for story in db.stories.find({"members": {"$exists": True}}):
        done.members += _move_members(db, story)
        done.stories += 1
    db.locks.delete_one({"_id": OLD_LOCK})
    db.meta.update_one(
        {"_id": "schema"},
        {"$max": {"version": SCHEMA_VERSION}, "$set": {"migrated_at": now}},
        upsert=True,
    )
    if done.stories:
        log.info("migrated %d stories (%d members) to story_members", done.stories, done.members)
    return done


def migrate_if_needed(db: Database[Doc], now: datetime) -> Migration | None:
    """One read when the database is already current."""
    if schema_version(db) >= SCHEMA_VERSION:
        return None
    return migrate(db, now)


def _move_members(db: Database[Doc], story: Doc) -> int:
    members: list[Doc] = story.get("members") or []
    origin = story.get("origin") or {}
    by_id = {m["article_id"]: m for m in members}
    docs = [
        {
            **m,
            "_id": m["article_id"],
            "story_id": story["_id"],
            # schema 1 kept every member's changes measured against the current origin
            "changes_against": origin.get("article_id") if "changes" in m else None,
        }
        for m in members
    ]
    refused = insert_new(db.story_members, docs)
    first = members[:SAMPLE_SIZE]  # schema 1 appended members as they joined
    origin_member = by_id.get(origin.get("article_id"), {})
    db.stories.update_one(
        {"_id": story["_id"]},
        {
            "$set": {
                "origin": {k: origin.get(k, origin_member.get(k)) for k in ORIGIN_KEYS},
                "sample": [
                    {k: m.get(k) for k in ("article_id", "site", "url", "title")} for m in first
                ],
                "size": db.story_members.count_documents({"story_id": story["_id"]}),
                "sites": sorted({m["site"] for m in members}),
            },
            "$unset": {"members": ""},
        },
    )
    return len(docs) - len(refused)
