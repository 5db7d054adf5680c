"""Story membership: one `story_members` document per member, a bounded summary in `stories`.

A wire story carried by a thousand sites and updated for days must not grow
one document toward MongoDB's 16 MB limit, nor rewrite a growing array at each
join. So each member is its own document (`_id` = the article id, so an
article is a member of at most one story, by the unique index alone), and the
story keeps what stays small: size, sites, first and last seen, the
originating copy and a capped sample of its first members. A join costs the
same whatever the story's size: one insert per member and one update of the
summary, with no read of the other members.

What a member changed is measured against the originating copy at the time it
joined (`changes_against`). When a better origin arrives (a wire-datelined or
earlier copy) the members measured against another origin are re-measured
CHANGES_REFRESH at a time, at this join and the next ones
(`changes_pending` until all are done), so no join reads every member's text.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pymongo import UpdateOne
from pymongo.database import Database

from crawler.store.writes import insert_new
from crawler.stories.agency import FROM_TEXT, UNKNOWN, story_attribution
from crawler.stories.changes import local_changes, member_entry, origin_rank
from crawler.stories.placement import Assignment, Member
from crawler.types import Doc

Texts = dict[str, tuple[str, list[str]]]

SAMPLE_SIZE = 20  # members kept in the story document, the first to join
CHANGES_REFRESH = 200  # members re-measured per join after the origin changed
ORIGIN_RETRIES = 10
ORIGIN_KEYS = (
    "article_id",
    "site",
    "url",
    "title",
    "published",
    "label",
    "wire_dateline",
    "agency",
    "joined_at",
)


def record_joins(
    db: Database[Doc], joining: list[Member], assignments: dict[str, Assignment], now: datetime
) -> dict[str, bool]:
    """Make each article a member of its assigned story; per article, whether this call
    added it (False: it was a member already, a retried batch).

    A batch costs the same few round trips whatever its stories and their sizes:
    one read of the stories, one of the origin texts not in the batch, one insert
    of the members, one bulk update of the summaries. Only a change of origin, a
    story founded by a concurrent writer first, or a retried batch costs more.
    """
    by_story: dict[str, list[Doc]] = {}
    texts: Texts = {}
    for member in joining:
        assignment = assignments[member.article_id]
        entry = member_entry(member, assignment.similarity, now)
        entry.update(_id=member.article_id, story_id=assignment.story_id)
        by_story.setdefault(assignment.story_id, []).append(entry)
        texts[member.article_id] = (member.title, member.paragraphs)
    stories = {doc["_id"]: doc for doc in db.stories.find({"_id": {"$in": sorted(by_story)}})}
    origins = {
        story_id: min(_with_origin(stories.get(story_id), entries), key=origin_rank)
        for story_id, entries in by_story.items()
    }
    _texts(db, [o["article_id"] for o in origins.values()], texts)
    entries = [e for story_entries in by_story.values() for e in story_entries]
    for entry in entries:
        origin = origins[entry["story_id"]]
        origin_text = texts.get(origin["article_id"])
        if origin_text is not None:
            entry["changes"] = local_changes(origin_text, texts[entry["article_id"]])
            entry["changes_against"] = origin["article_id"]
    refused = {entries[i]["_id"] for i in insert_new(db.story_members, entries)}
    new = {
        story_id: [e for e in story_entries if e["_id"] not in refused]
        for story_id, story_entries in by_story.items()
    }
    founded = _summarise(db, {sid: group for sid, group in new.items() if group}, stories, now)
    for story_id, story_entries in by_story.items():
        story = stories.get(story_id)
        if any(e["_id"] in refused for e in story_entries):  # a retried batch: see _recount
            _recount(db, story_id, [e for e in story_entries if e["_id"] in refused], now)
        pending = bool((story or {}).get("changes_pending"))
        best = min(new[story_id], key=origin_rank) if new[story_id] else None
        current = (story or {}).get("origin")
        contested = story is None and story_id not in founded  # a concurrent writer founded it
        if best is not None and (
            contested or (current and origin_rank(best) < origin_rank(current))
        ):
            pending = settle_origin(db, story_id, best) or pending
        if pending:
            refresh_changes(db, story_id, texts)
    return {e["_id"]: e["_id"] not in refused for e in entries}


def _with_origin(story: Doc | None, entries: list[Doc]) -> list[Doc]:
    origin = (story or {}).get("origin")
    return [origin, *entries] if origin else entries


def _summarise(
    db: Database[Doc], new: dict[str, list[Doc]], stories: dict[str, Doc], now: datetime
) -> set[str]:
    """One bulk update of the summaries whatever the stories' sizes; upserts, so joins
    racing a story's founding land in it too. The stories this call created.

    Each story counts its members' agencies (`agencies`) and photo credits' agencies
    (`photo_agencies`) and names one (`agency`, with `agency_from`: the kind of evidence,
    crawler.stories.agency.story_attribution) from what was read before this batch plus
    the batch (counts and sites): a join racing this one is counted in, and named at the
    story's next join."""
    if not new:
        return set()
    updates = []
    for story_id, entries in new.items():
        first = min(entries, key=origin_rank)
        sample = [{k: e.get(k) for k in ("article_id", "site", "url", "title")} for e in entries]
        story = stories.get(story_id) or {}
        batch = agency_tally(entries, "agency")
        photo_batch = agency_tally(entries, "photo_agency")
        counts = Counter(story.get("agencies") or {})
        counts.update(batch)
        photo_counts = Counter(story.get("photo_agencies") or {})
        photo_counts.update(photo_batch)
        sites = set(story.get("sites") or []) | {e["site"] for e in entries}
        origin = story.get("origin") or min(entries, key=origin_rank)
        agency, agency_from = story_attribution(origin, counts, photo_counts, len(sites))
        updates.append(
            UpdateOne(
                {"_id": story_id},
                {
                    "$setOnInsert": _founding(first, now),
                    "$inc": {
                        "size": len(entries),
                        **{f"agencies.{name}": n for name, n in sorted(batch.items())},
                        **{f"photo_agencies.{a}": n for a, n in sorted(photo_batch.items())},
                    },
                    "$set": {"agency": agency, "agency_from": agency_from},
                    "$addToSet": {"sites": {"$each": sorted({e["site"] for e in entries})}},
                    "$max": {"last_joined": now},
                    "$min": {
                        "first_published": min(
                            e.get("published") or e["joined_at"] for e in entries
                        )
                    },
                    "$push": {"sample": {"$each": sample, "$slice": SAMPLE_SIZE}},
                },
                upsert=True,
            )
        )
    result = db.stories.bulk_write(updates, ordered=False)
    story_ids = list(new)
    return {story_ids[i] for i in result.upserted_ids or {}}


def agency_tally(entries: list[Doc], field: str) -> Counter[str]:
    """How many of the entries name each agency in `field` ("agency", "photo_agency"),
    UNKNOWN counted too: the `agencies` and `photo_agencies` counts of a story."""
    return Counter(entry.get(field) or UNKNOWN for entry in entries)


def _founding(first: Doc, now: datetime) -> Doc:
    """The fields a story gets when this join creates it."""
    return {
        "created_at": now,
        "origin": {k: first.get(k) for k in ORIGIN_KEYS},
        "title": first.get("title"),
    }


def _recount(db: Database[Doc], story_id: str, members: list[Doc], now: datetime) -> None:
    """Size from the members themselves; only on a retry, so a count per join is never paid."""
    first = min(members, key=origin_rank)
    db.stories.update_one(
        {"_id": story_id},
        {
            "$setOnInsert": {
                **_founding(first, now),
                "last_joined": now,
                "first_published": first.get("published") or first["joined_at"],
            },
            "$set": {"size": db.story_members.count_documents({"story_id": story_id})},
            "$addToSet": {"sites": {"$each": sorted({m["site"] for m in members})}},
        },
        upsert=True,
    )


def settle_origin(db: Database[Doc], story_id: str, best: Doc) -> bool:
    """Make `best` the story's origin unless a better one is there; True when it changed.

    Concurrent joins change the origin by compare-and-set on the origin's article id,
    retried, each with its own best: the story ends with the best of all of them.
    """
    for _ in range(ORIGIN_RETRIES):
        story = db.stories.find_one({"_id": story_id}, {"origin": 1})
        current = (story or {}).get("origin") or {}
        if current.get("article_id") == best["article_id"] or (
            current and origin_rank(current) <= origin_rank(best)
        ):
            return False
        swapped = db.stories.update_one(
            {"_id": story_id, "origin.article_id": current.get("article_id")},
            {
                "$set": {
                    "origin": {k: best.get(k) for k in ORIGIN_KEYS},
                    "title": best.get("title"),
                    "changes_pending": True,
                    # the origin's agency names the story when it is known (story_agency)
                    **(
                        {"agency": best["agency"], "agency_from": FROM_TEXT}
                        if best.get("agency", UNKNOWN) != UNKNOWN
                        else {}
                    ),
                }
            },
        )
        if swapped.modified_count:
            return True
    return False


def refresh_changes(db: Database[Doc], story_id: str, texts: Texts) -> None:
    story = db.stories.find_one({"_id": story_id}, {"origin": 1})
    origin_id = ((story or {}).get("origin") or {}).get("article_id")
    if origin_id is None:
        return
    stale = list(
        db.story_members.find(
            {"story_id": story_id, "changes_against": {"$ne": origin_id}}, {"_id": 1}
        ).limit(CHANGES_REFRESH)
    )
    _texts(db, [origin_id] + [m["_id"] for m in stale], texts)
    origin_text = texts.get(origin_id)
    if origin_text is None:
        return
    updates = [
        UpdateOne(
            {"_id": m["_id"], "story_id": story_id},
            {
                "$set": {
                    "changes": local_changes(origin_text, texts[m["_id"]]),
                    "changes_against": origin_id,
                }
            },
        )
        for m in stale
        if m["_id"] in texts
    ]
    if updates:
        db.story_members.bulk_write(updates, ordered=False)
    if len(stale) < CHANGES_REFRESH and len(updates) == len(stale):  # else: at a later join
        db.stories.update_one(
            {"_id": story_id, "origin.article_id": origin_id}, {"$set": {"changes_pending": False}}
        )


def _texts(db: Database[Doc], article_ids: list[str], known: Texts) -> Texts:
    """Title and paragraphs of the articles, read from `articles` where not known; adds to known."""
    missing = sorted({a for a in article_ids if a not in known})
    if missing:
        for doc in db.articles.find({"_id": {"$in": missing}}, {"title": 1, "text": 1}):
            known[doc["_id"]] = (doc.get("title", ""), doc.get("text", "").split("\n"))
    return known
