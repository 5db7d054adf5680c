"""Two stories become one when a later copy bridges them.

Copies arrive in any order. A page carrying only the agency's lede and its
photo captions can found a story before the full copy arrives, and the two
share too little to be placed together (0.16 of the gallery's narrative
shingles on the real set of bench/wire_set.py); a later copy verifies against
both. Placing it in one of them leaves the story split for good: on that set,
recall 0.821 without merging, 0.863 with it, precision 1.000 either way.

A merge is decided by crawler.stories.placement.bridged_stories (a bridge
alone is not enough: a roundup page that carries two unrelated wire items
verifies against both). The larger story id goes into the smaller, as
placement chooses between stories, so merges never form a cycle.

What users see: the merged story's document stays, as a redirect
`{merged_into, merged_at, size: 0}`, so an id noted down still leads to the
story; its members, fingerprints and articles name the story it went into.

No lock: a crawl placing a copy into a story while another merges it away
follows `merged_into` before it writes (`follow_merges`) and looks again once
all its writes are done. Of the two, one sees the other: either the merger
marks the story before that second look (and the crawl moves its own writes),
or the merger's move comes after the crawl's writes (and moves them). Moving
is idempotent and sizes move by the members actually moved, so both may run.
A merge stopped between its mark and its move is finished at the next crawl's
start (`recheck_recent_merges`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from crawler.store.reads import in_batches
from crawler.stories.agency import story_attribution
from crawler.stories.members import (
    SAMPLE_SIZE,
    Texts,
    agency_tally,
    refresh_changes,
    settle_origin,
)
from crawler.types import Doc

log = logging.getLogger(__name__)


MAX_HOPS = 50  # a chain of merges longer than this is a bug, not a story
MERGE_RETRIES = 10
RECHECK = timedelta(days=1)  # a merge is moved again at crawl starts for this long


def resolve(db: Database[Doc], story_id: str) -> str:
    """The live story that `story_id` is, following `merged_into`."""
    for _ in range(MAX_HOPS):
        doc = db.stories.find_one({"_id": story_id}, {"merged_into": 1})
        target = (doc or {}).get("merged_into")
        if not target:
            return story_id
        story_id = target
    raise RuntimeError(f"story {story_id}: more than {MAX_HOPS} merges in a chain")


def merge_stories(
    db: Database[Doc], one: str, other: str, now: datetime, texts: Texts | None = None
) -> str:
    """Make the two stories one (the smaller id stays); the story both are now. `texts`:
    (title, paragraphs) of articles whose text may not be stored yet (the batch placed)."""
    for _ in range(MERGE_RETRIES):
        one, other = resolve(db, one), resolve(db, other)
        if one == other:
            return one
        winner, loser = min(one, other), max(one, other)
        try:
            marked = db.stories.update_one(
                {"_id": loser, "merged_into": None},
                {
                    "$set": {
                        "merged_into": winner,
                        "merged_at": now,
                        "recheck_until": now + RECHECK,
                    },
                    "$setOnInsert": {"size": 0},
                },
                upsert=True,  # a story whose founding write is still on its way
            )
        except DuplicateKeyError:  # merged into another meanwhile: follow it
            continue
        if marked.matched_count or marked.upserted_id is not None:
            _absorb_summary(db, loser, winner)
            moved = repoint(db, loser, winner, texts)
            log.info("story %s merged into %s (%d members moved)", loser, winner, moved)
            return winner
    raise RuntimeError(f"stories {one} and {other}: could not merge in {MERGE_RETRIES} tries")


def follow_merges(db: Database[Doc], story_ids: Iterable[str]) -> dict[str, str]:
    """Each of these stories that was merged, with the live story it went into; whatever
    of it is left behind (a concurrent crawl's writes) is moved there too."""
    merged = {
        doc["_id"]
        for doc in db.stories.find(
            {"_id": {"$in": sorted(set(story_ids))}, "merged_into": {"$ne": None}}, {"_id": 1}
        )
    }
    followed = {}
    for story_id in sorted(merged):
        target = resolve(db, story_id)
        repoint(db, story_id, target)
        followed[story_id] = target
    return followed


def repoint(db: Database[Doc], loser: str, target: str, texts: Texts | None = None) -> int:
    """Move what names `loser` to `target`: members (sizes move by the members moved),
    fingerprints, articles. Idempotent; the number of members this call moved."""
    # fingerprints are found through the members (same _id): `fingerprints.story_id` has
    # no index of its own, every placement would pay for it; one left behind by a write
    # that stopped half-way is followed like any merged story when it is read
    listed = list(
        db.story_members.find({"story_id": loser}, {"_id": 1, "agency": 1, "photo_agency": 1})
    )
    ids = [m["_id"] for m in listed]
    moved = 0
    for batch in in_batches(ids):
        some = {"_id": {"$in": list(batch)}, "story_id": loser}
        moved += db.story_members.update_many(some, {"$set": {"story_id": target}}).modified_count
        db.fingerprints.update_many(some, {"$set": {"story_id": target}})
    db.articles.update_many({"story_id": loser}, {"$set": {"story_id": target}})
    if moved:
        # as listed: a member moved by a concurrent run counts here too
        counts = _counts(listed)
        left = db.stories.find_one_and_update(
            {"_id": loser},
            {"$inc": {"size": -moved, **{k: -n for k, n in counts.items()}}},
            {"sites": 1},
        )
        joined = db.stories.find_one_and_update(
            {"_id": target},
            {
                "$inc": {"size": moved, **counts},
                "$addToSet": {"sites": {"$each": sorted((left or {}).get("sites") or [])}},
                "$set": {"changes_pending": True},  # measured against the other origin
            },
            {"origin": 1, "agencies": 1, "photo_agencies": 1, "sites": 1},
            return_document=ReturnDocument.AFTER,
        )
        if joined:
            agency, agency_from = story_attribution(
                joined.get("origin"),
                joined.get("agencies") or {},
                joined.get("photo_agencies") or {},
                len(joined.get("sites") or []),
            )
            db.stories.update_one(
                {"_id": target}, {"$set": {"agency": agency, "agency_from": agency_from}}
            )
        refresh_changes(db, target, dict(texts or {}))
    return moved


def _counts(members: list[Doc]) -> dict[str, int]:
    """The `$inc` of the members' text and photo agencies (`agencies.X`, `photo_agencies.X`)."""
    return {
        f"{key}.{name}": n
        for field, key in (("agency", "agencies"), ("photo_agency", "photo_agencies"))
        for name, n in agency_tally(members, field).items()
    }


def recheck_recent_merges(db: Database[Doc], now: datetime) -> int:
    """Move again what names a story merged in the last RECHECK (a merge stopped half-way,
    a crawl stopped before its second look); at every crawl start, `now` by the crawl's
    clock. Stories moved from."""
    recent = list(db.stories.find({"recheck_until": {"$gt": now}}, {"merged_into": 1}))
    for doc in recent:
        repoint(db, doc["_id"], resolve(db, doc["_id"]))
    return len(recent)


def _absorb_summary(db: Database[Doc], loser: str, winner: str) -> None:
    """The winner's summary takes the loser's: sites, first and last seen, sample, and its
    origin when that is the better one."""
    old = db.stories.find_one({"_id": loser}) or {}
    update: Doc = {
        "$addToSet": {"sites": {"$each": sorted(old.get("sites") or [])}},
        "$push": {"sample": {"$each": old.get("sample") or [], "$slice": SAMPLE_SIZE}},
    }
    if old.get("first_published"):
        update["$min"] = {"first_published": old["first_published"]}
    if old.get("last_joined"):
        update["$max"] = {"last_joined": old["last_joined"]}
    db.stories.update_one({"_id": winner}, update)
    if old.get("origin"):
        settle_origin(db, winner, old["origin"])
    db.stories.update_one({"_id": loser}, {"$set": {"sample": []}})
