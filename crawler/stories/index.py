"""The shared near-duplicate index (`fingerprints`) and the `stories` collection, in MongoDB.

Candidates come from an index that lives in MongoDB (`fingerprints.anchors`, a
multikey-indexed array), so every crawler process on every machine shares it
and nothing is scanned whole; crawler.stories.placement verifies them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from crawler import normalize
from crawler.lease import NamedLock
from crawler.store.writes import insert_new
from crawler.stories.changes import local_changes, member_entry, origin_fields, origin_rank
from crawler.stories.placement import (
    Assignment,
    Candidate,
    Member,
    adds_nothing,
    choose_story,
    verified_matches,
)
from crawler.stories.shingles import anchors_of, ledes_of, pack, shingle_hashes, unpack

MAX_POSTINGS = 100  # documents read per lookup, whatever happens
COMMON_ANCHOR_STORIES = 5  # an anchor in more stories than this is boilerplate or stock phrasing
PLACEMENT_LOCK = "story-index"

Doc = dict[str, Any]


class CommonAnchors:
    """Anchors seen in more than COMMON_ANCHOR_STORIES stories: page furniture and stock phrases.

    They are learned from lookups (an anchor that returned copies of that many
    stories) and kept in MongoDB (`common_anchors`), so every process shares
    them. Each index object keeps its own copy (nothing lives at module or class
    level, so what a lookup finds depends on the database, not on what ran
    before in the process) and every REFRESH reads the ones learned since,
    with a margin for clocks that disagree. They expire 30 days after they were
    learned (a TTL index, crawler.store.indexes.COMMON_ANCHOR_TTL_S): an anchor that is still common is learned
    again at its next lookup, so the list stays as long as what is common now.
    Only the lookup uses them: verification always compares the full shingle sets.
    """

    REFRESH = timedelta(seconds=60)
    CLOCK_MARGIN = timedelta(minutes=10)

    def __init__(self, db: Database[Doc]):
        self.collection = db.common_anchors
        self._loaded_at: datetime | None = None
        self._newest: datetime | None = None
        self._anchors: set[int] = set()

    def known(self, now: datetime) -> set[int]:
        """The common anchors, read again when REFRESH has passed since the last read at `now`
        (time is the caller's: tests advance it)."""
        if self._loaded_at is None or now - self._loaded_at > self.REFRESH:
            query = {"since": {"$gte": self._newest - self.CLOCK_MARGIN}} if self._newest else {}
            for doc in self.collection.find(query, {"since": 1}).sort("_id", 1):
                self._anchors.add(int(doc["_id"]))
                if self._newest is None or doc["since"] > self._newest:
                    self._newest = doc["since"]
            self._loaded_at = now
        return self._anchors

    def learn(self, counts: dict[int, int], now: datetime) -> None:
        common = {a: n for a, n in counts.items() if n > COMMON_ANCHOR_STORIES}
        if not common:
            return
        self.collection.bulk_write(
            [
                UpdateOne(
                    {"_id": a},
                    {"$max": {"stories": n}, "$setOnInsert": {"since": now}},
                    upsert=True,
                )
                for a, n in sorted(common.items())
            ],
            ordered=False,
        )
        self.known(now).update(common)


class StoryIndex:
    """The shared near-duplicate index (`fingerprints`) and the `stories` collection."""

    def __init__(self, db: Database[Doc]):
        self.db = db
        self.fingerprints = db.fingerprints
        self.stories = db.stories
        self.common = CommonAnchors(db)

    def assign(self, member: Member, now: datetime) -> Assignment:
        return self.assign_many([member], now)[0]

    def assign_many(
        self, members: list[Member], now: datetime, record_articles: bool = True
    ) -> list[Assignment]:
        """Place a batch, holding the story index's lock (see _assign_many)."""
        with NamedLock(self.db, PLACEMENT_LOCK):
            return self._assign_many(members, now, record_articles)

    def _assign_many(
        self, members: list[Member], now: datetime, record_articles: bool
    ) -> list[Assignment]:
        """Index the articles and put each in the story of its verified near-duplicates, or a new one.

        Members of one batch are placed in order, each seeing the ones before it,
        as if they had come one by one. Batches are placed one at a time across
        all processes (a lock in MongoDB, held for about a millisecond a page):
        the lookup happens before the fingerprint is written, so two copies
        placed at once would otherwise each found a story — which crawls of
        several sites running side by side did, at once, in the tests. An article already in a story stays there
        (an edit never moves it). Each new fingerprint is written once, after the
        decision, with its story: on a store that re-indexes a document's whole
        anchor array on any update, a second write costs more than the first.
        With record_articles=False the caller writes `articles.story_id` itself
        (the pipeline puts it in the article's own update).
        """
        for member in members:
            if member.hashes is None:
                member.hashes = shingle_hashes(member.paragraphs)
            if member.ledes is None:
                member.ledes = ledes_of(member.paragraphs)
        ids = [m.article_id for m in members]
        previous = {
            doc["_id"]: doc.get("story_id")
            for doc in self.fingerprints.find({"_id": {"$in": ids}}, {"story_id": 1})
        }
        assignments: dict[str, Assignment] = {}
        placed: dict[str, Candidate] = {}  # this batch's newcomers, visible to the later ones
        newcomers: list[Member] = []
        bodies = {m.article_id: m.body_hash or normalize.body_hash(m.paragraphs) for m in members}
        exact = self._exact_copies([bodies[m.article_id] for m in members if m.hashes])
        rejoining: list[Member] = []
        for member in members:
            if previous.get(member.article_id):
                story = str(previous[member.article_id])
                assignments[member.article_id] = Assignment(story, 1.0, True)
                if member.rejoin:
                    rejoining.append(member)
                continue
            body = bodies[member.article_id]
            if member.hashes and body in exact:  # an exact copy: its story, no lookup, no anchors
                story = exact[body]
                placed[member.article_id] = Candidate(
                    member.article_id, story, member.hashes, False, [], body, member.ledes or []
                )
                assignments[member.article_id] = Assignment(story, 1.0, False)
                newcomers.append(member)
                continue
            anchors = anchors_of(member.hashes or set(), member.ledes or [])
            candidates = self._lookup(anchors, now)
            candidates.update(placed)
            matches = verified_matches(member, anchors, candidates)
            story_id, similarity = choose_story(member.article_id, matches)
            indexed = not adds_nothing(member, matches)
            placed[member.article_id] = Candidate(
                member.article_id,
                story_id,
                member.hashes or set(),
                indexed,
                anchors,
                body,
                member.ledes or [],
            )
            if member.hashes:
                exact.setdefault(body, story_id)
            assignments[member.article_id] = Assignment(story_id, similarity, False)
            newcomers.append(member)
        self._write_fingerprints(members, previous, placed, now)
        self._record_stories(newcomers + rejoining, assignments, now)
        # the article learns its story only once the story lists it: an article with a
        # story id is always a member (crawler.verify checks it)
        if record_articles and (newcomers or rejoining):
            self.db.articles.bulk_write(
                [
                    UpdateOne(
                        {"_id": m.article_id},
                        {"$set": {"story_id": assignments[m.article_id].story_id}},
                    )
                    for m in newcomers + rejoining
                ],
                ordered=False,
            )
        return [assignments[m.article_id] for m in members]

    def _write_fingerprints(
        self,
        members: list[Member],
        previous: dict[str, str | None],
        placed: dict[str, Candidate],
        now: datetime,
    ) -> None:
        fresh: list[Doc] = []
        edits: list[UpdateOne] = []
        for member in members:
            hashes = member.hashes or set()
            fields: Doc = {
                "site": member.site,
                "shingles": pack(hashes),
                "size": len(hashes),
                "ledes": member.ledes or [],
            }
            placement = placed.get(member.article_id)
            if placement is None:  # an edit of an article already in a story
                edits.append(
                    UpdateOne({"_id": member.article_id}, {"$set": {**fields, "updated_at": now}})
                )
                continue
            fresh.append(
                {
                    "_id": member.article_id,
                    **fields,
                    "story_id": placement.story_id,
                    "body_hash": placement.body_hash,
                    # a copy within a few per cent of an indexed one finds nothing that one
                    # does not: a story carried by forty sites is looked up through its few
                    # distinct texts, not its forty copies
                    "anchors": placement.anchors if placement.indexed else [],
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if edits:
            self.fingerprints.bulk_write(edits, ordered=False)
        insert_new(self.fingerprints, fresh)  # refused: a retried batch, already indexed

    def _exact_copies(self, body_hashes: list[str]) -> dict[str, str]:
        """Story of each body hash already indexed: exact copies need no anchor lookup.

        One query for the whole batch on a plain (not multikey) index: cheap even
        where an anchor lookup is not.
        """
        if not body_hashes:
            return {}
        stories: dict[str, str] = {}
        cursor = self.fingerprints.find(
            {"body_hash": {"$in": sorted(set(body_hashes))}}, {"body_hash": 1, "story_id": 1}
        )
        for doc in cursor:
            if doc.get("story_id"):
                known = stories.get(doc["body_hash"])
                stories[doc["body_hash"]] = (
                    min(known, doc["story_id"]) if known else doc["story_id"]
                )
        return stories

    def _lookup(self, anchors: list[int], now: datetime) -> dict[str, Candidate]:
        """Every indexed document sharing a rare anchor with this one.

        One query per document, not one for a whole batch: a server checks each
        document it returns against the whole `$in` list, so the cost grows with
        documents returned x anchors per document x values asked for (secantusdb
        took 3 s to return 200 documents for 200 values).
        """
        common = self.common.known(now)
        wanted = [a for a in anchors if a not in common]
        if not wanted:
            return {}
        # sorted, so that which MAX_POSTINGS documents come back depends on the index's
        # contents alone, never on the order the server happens to store them in
        cursor = (
            self.fingerprints.find(
                {"anchors": {"$in": wanted}}, {"story_id": 1, "shingles": 1, "ledes": 1}
            )
            .sort("_id", 1)
            .limit(MAX_POSTINGS)
        )
        found = {
            doc["_id"]: Candidate(
                doc["_id"],
                doc.get("story_id"),
                unpack(doc["shingles"]),
                ledes=list(doc.get("ledes") or []),
            )
            for doc in cursor
        }
        self.common.learn(_stories_per_anchor(set(wanted), found.values()), now)
        return found

    def _record_stories(
        self, newcomers: list[Member], assignments: dict[str, Assignment], now: datetime
    ) -> None:
        """Write the batch's joins: one read of the stories, one insert of the new ones,
        one bulk update of the stories that grew, one read of the origin texts they need."""
        if not newcomers:
            return
        joins: dict[str, list[Doc]] = {}
        for member in newcomers:
            assignment = assignments[member.article_id]
            entry = member_entry(member, assignment.similarity, now)
            joins.setdefault(assignment.story_id, []).append(entry)
        texts = {m.article_id: (m.title, m.paragraphs) for m in newcomers}
        existing = {doc["_id"]: doc for doc in self.stories.find({"_id": {"$in": list(joins)}})}
        joined, raced = self._create_many(
            {sid: entries for sid, entries in joins.items() if sid not in existing}, texts, now
        )
        if raced:  # created by a concurrent writer first: joined like existing ones
            existing.update({doc["_id"]: doc for doc in self.stories.find({"_id": {"$in": raced}})})
        growing: dict[str, tuple[list[Doc], Doc]] = {}
        for story_id, story in existing.items():
            present = {m["article_id"] for m in story.get("members", [])}
            entries = [e for e in joins[story_id] if e["article_id"] not in present]
            if entries:
                origin = min(story.get("members", []) + entries, key=origin_rank)
                growing[story_id] = (entries, origin)
        self._texts([origin["article_id"] for _, origin in growing.values()], texts)
        joined.update(self._join_many(growing, existing, texts, now))
        for story_id, entries in joins.items():
            for entry in entries:
                assignments[entry["article_id"]].joined = (
                    entry["article_id"] in joined.get(story_id, [])
                    and story_id != entry["article_id"]
                )

    def _create_many(
        self, joins: dict[str, list[Doc]], texts: dict[str, tuple[str, list[str]]], now: datetime
    ) -> tuple[dict[str, list[str]], list[str]]:
        """Insert the new stories: the article ids joined per story, and the stories a
        concurrent writer created first."""
        stories = []
        for story_id, entries in joins.items():
            origin = min(entries, key=origin_rank)
            for entry in entries:
                entry["changes"] = local_changes(
                    texts[origin["article_id"]], texts[entry["article_id"]]
                )
            stories.append(
                {
                    "_id": story_id,
                    "created_at": now,
                    "last_joined": now,
                    "members": entries,
                    "sites": sorted({e["site"] for e in entries}),
                    "size": len(entries),
                    **origin_fields(origin, entries),
                }
            )
        raced = [stories[i]["_id"] for i in insert_new(self.stories, stories)]
        joined = {
            story["_id"]: [e["article_id"] for e in story["members"]]
            for story in stories
            if story["_id"] not in raced
        }
        return joined, raced

    def _join_many(
        self,
        growing: dict[str, tuple[list[Doc], Doc]],
        existing: dict[str, Doc],
        texts: dict[str, tuple[str, list[str]]],
        now: datetime,
    ) -> dict[str, list[str]]:
        """Add new members' entries to existing stories in one bulk write; the article ids
        added, per story.

        Each update is guarded against members already present. When any guard
        fails (a concurrent writer added one of them, which the placement lock
        makes rare) the stories of the batch are settled one entry at a time; the
        entries this bulk write did add are then not reported as joined (the flag
        only informs, the stories themselves are right either way).
        """
        updates = [
            self._join_op(story_id, existing[story_id], entries, origin, texts, now)
            for story_id, (entries, origin) in growing.items()
        ]
        if not updates:
            return {}
        result = self.stories.bulk_write(updates, ordered=False)
        if result.modified_count == len(updates):
            return {
                story_id: [e["article_id"] for e in entries]
                for story_id, (entries, _) in growing.items()
            }
        return {
            story_id: [e["article_id"] for e in entries if self._push_one(story_id, e, now)]
            for story_id, (entries, _) in growing.items()
        }

    def _join_op(
        self,
        story_id: str,
        story: Doc,
        entries: list[Doc],
        origin: Doc,
        texts: dict[str, tuple[str, list[str]]],
        now: datetime,
    ) -> UpdateOne:
        """The guarded update adding `entries` to the story. A new originating copy first
        rewrites what every earlier member changed against it (a write of its own)."""
        members = story.get("members", []) + entries
        if origin["article_id"] != (story.get("origin") or {}).get("article_id"):
            self._refresh_all_changes(story_id, story.get("members", []), origin, texts)
        origin_text = texts.get(origin["article_id"])
        if origin_text is not None:
            for entry in entries:
                entry["changes"] = local_changes(origin_text, texts[entry["article_id"]])
        return UpdateOne(
            {"_id": story_id, "members.article_id": {"$nin": [e["article_id"] for e in entries]}},
            {
                "$push": {"members": {"$each": entries}},
                "$addToSet": {"sites": {"$each": sorted({e["site"] for e in entries})}},
                "$inc": {"size": len(entries)},
                "$set": {"last_joined": now, **origin_fields(origin, members)},
            },
        )

    def _push_one(self, story_id: str, entry: Doc, now: datetime) -> bool:
        result = self.stories.update_one(
            {"_id": story_id, "members.article_id": {"$ne": entry["article_id"]}},
            {
                "$push": {"members": entry},
                "$addToSet": {"sites": entry["site"]},
                "$inc": {"size": 1},
                "$set": {"last_joined": now},
            },
        )
        return result.modified_count == 1

    def _refresh_all_changes(
        self,
        story_id: str,
        earlier: list[Doc],
        origin: Doc,
        known: dict[str, tuple[str, list[str]]],
    ) -> None:
        """A new originating copy: what every earlier member changed is measured against it."""
        texts = self._texts([m["article_id"] for m in earlier] + [origin["article_id"]], known)
        origin_text = texts.get(origin["article_id"])
        if origin_text is None:
            return
        update = {
            f"members.{i}.changes": local_changes(origin_text, texts[m["article_id"]])
            for i, m in enumerate(earlier)
            if m["article_id"] in texts
        }
        if update:
            self.stories.update_one({"_id": story_id}, {"$set": update})

    def _texts(
        self, article_ids: list[str], known: dict[str, tuple[str, list[str]]]
    ) -> dict[str, tuple[str, list[str]]]:
        """Title and paragraphs of the articles, read from `articles` where not known; adds to known."""
        missing = sorted({a for a in article_ids if a not in known})
        if missing:
            for doc in self.db.articles.find({"_id": {"$in": missing}}, {"title": 1, "text": 1}):
                known[doc["_id"]] = (doc.get("title", ""), doc.get("text", "").split("\n"))
        return known


def _stories_per_anchor(wanted: set[int], found: Iterable[Candidate]) -> dict[int, int]:
    stories: dict[int, set[str]] = {}
    for candidate in found:
        for anchor in wanted.intersection(candidate.hashes):
            stories.setdefault(anchor, set()).add(candidate.story_id or candidate.article_id)
    return {anchor: len(ids) for anchor, ids in stories.items()}
