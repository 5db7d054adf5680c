"""The shared near-duplicate index (`fingerprints`) and the `stories` collection, in MongoDB.

Candidates come from an index that lives in MongoDB (`fingerprints.anchors`, a
multikey-indexed array), so every crawler process on every machine shares it
and nothing is scanned whole; crawler.stories.placement verifies them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pymongo import UpdateOne
from pymongo.database import Database

from crawler.store.writes import insert_new
from crawler.stories.inflight import InFlight, Text
from crawler.stories.members import record_joins
from crawler.stories.merge import follow_merges, merge_stories
from crawler.stories.placement import (
    Assignment,
    Candidate,
    Member,
    SentenceSource,
    adds_nothing,
    bridged_stories,
    choose_story,
    verified_matches,
)
from crawler.stories.shingles import (
    anchors_of,
    is_gallery,
    ledes_of,
    pack,
    sentence_shingles,
    shingle_hashes,
    unpack,
)
from crawler.text import normalize
from crawler.types import Doc

MAX_POSTINGS = 100  # documents read per lookup, whatever happens
COMMON_ANCHOR_STORIES = 5  # an anchor in more stories than this is boilerplate or stock phrasing


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
        """Index the articles and put each in the story of its verified near-duplicates, or a new one.

        Members of one batch are placed in order, each seeing the ones before it,
        as if they had come one by one. No lock is held: the batch registers
        itself in flight (crawler.stories.inflight) and waits only for batches
        placing copies of the same stories, which would otherwise each found one.
        An article already in a story stays there (an edit never moves it). Each
        new fingerprint is written once, after the decision, with its story: on
        a store that re-indexes a document's whole anchor array on any update, a
        second write costs more than the first. A copy that bridges two stories
        merges them (crawler.stories.merge). With record_articles=False the
        caller writes `articles.story_id` itself (the pipeline puts it in the
        article's own update) and then calls `follow_merges` on the story ids,
        as this method does after its own writes.
        """
        for member in members:
            if member.hashes is None:
                member.hashes = shingle_hashes(member.paragraphs)
            if member.ledes is None:
                member.ledes = ledes_of(member.paragraphs)
            if member.gallery is None:
                member.gallery = is_gallery(member.paragraphs)
        ids = [m.article_id for m in members]
        previous = {
            doc["_id"]: doc.get("story_id")
            for doc in self.fingerprints.find({"_id": {"$in": ids}}, {"story_id": 1})
        }
        bodies = {m.article_id: m.body_hash or normalize.body_hash(m.paragraphs) for m in members}
        anchors = {
            m.article_id: anchors_of(m.hashes or set(), m.ledes or [], bool(m.gallery))
            for m in members
            if not previous.get(m.article_id)
        }
        in_flight = [
            Text(m, anchors[m.article_id], bodies[m.article_id])
            for m in members
            if m.hashes and not previous.get(m.article_id)
        ]
        with InFlight(self.db, in_flight, now):
            return self._place(members, previous, bodies, anchors, now, record_articles)

    def _place(
        self,
        members: list[Member],
        previous: dict[str, str | None],
        bodies: dict[str, str],
        anchors_by_id: dict[str, list[int]],
        now: datetime,
        record_articles: bool,
    ) -> list[Assignment]:
        assignments: dict[str, Assignment] = {}
        placed: dict[str, Candidate] = {}  # this batch's newcomers, visible to the later ones
        newcomers: list[Member] = []
        exact = self._exact_copies([bodies[m.article_id] for m in members if m.hashes])
        rejoining: list[Member] = []
        bridges: list[tuple[str, str]] = []
        sentences_of = self._sentence_reader({m.article_id: m.paragraphs for m in members})
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
                    member.article_id,
                    story,
                    member.hashes,
                    False,
                    [],
                    body,
                    member.ledes or [],
                    gallery=bool(member.gallery),
                )
                assignments[member.article_id] = Assignment(story, 1.0, False)
                newcomers.append(member)
                continue
            anchors = anchors_by_id[member.article_id]
            candidates = self._lookup(anchors, now)
            candidates.update(placed)
            self._gallery_story_sizes(candidates, assignments)
            matches = verified_matches(member, anchors, candidates, sentences_of)
            story_id, similarity = choose_story(member.article_id, matches)
            bridges += [(story_id, other) for other in bridged_stories(story_id, matches, member)]
            indexed = not adds_nothing(member, matches)
            placed[member.article_id] = Candidate(
                member.article_id,
                story_id,
                member.hashes or set(),
                indexed,
                anchors,
                body,
                member.ledes or [],
                gallery=bool(member.gallery),
            )
            if member.hashes:
                exact.setdefault(body, story_id)
            assignments[member.article_id] = Assignment(story_id, similarity, False)
            newcomers.append(member)
        # a story merged away since its fingerprints were read: write to the one it went into
        self._follow(assignments, placed)
        self._write_fingerprints(members, previous, placed, now)
        joining = newcomers + rejoining
        if joining:
            added = record_joins(self.db, joining, assignments, now)
            for member in newcomers:
                assignment = assignments[member.article_id]
                assignment.joined = (
                    added[member.article_id] and assignment.story_id != member.article_id
                )
        texts = {m.article_id: (m.title, m.paragraphs) for m in members}
        for story_id, other in bridges:
            merge_stories(self.db, story_id, other, now, texts)
        if bridges:
            self._follow(assignments, placed)
        # the article learns its story only once the story lists it: an article with a
        # story id is always a member (crawler.maintenance.verify checks it)
        if record_articles and joining:
            self.db.articles.bulk_write(
                [
                    UpdateOne(
                        {"_id": m.article_id},
                        {"$set": {"story_id": assignments[m.article_id].story_id}},
                    )
                    for m in joining
                ],
                ordered=False,
            )
            self._follow(assignments, placed)  # the second look: crawler.stories.merge
        return [assignments[m.article_id] for m in members]

    def _gallery_story_sizes(
        self, candidates: dict[str, Candidate], assignments: dict[str, Assignment]
    ) -> None:
        """The size of each gallery candidate's story: what it holds in `stories` plus what
        this batch has put in it so far (placement._glues). Galleries are few: most
        lookups read nothing here."""
        galleries = [c for c in candidates.values() if c.gallery and c.story_id]
        if not galleries:
            return
        ids = sorted({str(c.story_id) for c in galleries})
        stored = {
            doc["_id"]: int(doc.get("size") or 0)
            for doc in self.stories.find({"_id": {"$in": ids}}, {"size": 1})
        }
        batch: dict[str, int] = {}
        for assignment in assignments.values():
            batch[assignment.story_id] = batch.get(assignment.story_id, 0) + 1
        for candidate in galleries:
            story = str(candidate.story_id)
            candidate.story_size = stored.get(story, 0) + batch.get(story, 0)

    def _sentence_reader(self, batch: dict[str, list[str]]) -> SentenceSource:
        """A candidate's sentences, from this batch's texts or its stored article (read
        only for the few candidates that pass containment but not the sentence count),
        once per batch: each text's lookup makes new Candidate objects, and the pages of
        a batch that borrow from one copy would each read it again. An article deleted
        since, or without text, has no sentences (it then shares none)."""
        known: dict[str, list[set[int]]] = {}

        def sentences_of(candidate: Candidate) -> list[set[int]]:
            if candidate.sentences is None:
                if candidate.article_id not in known:
                    paragraphs = batch.get(candidate.article_id)
                    if paragraphs is None:
                        doc = self.db.articles.find_one({"_id": candidate.article_id}, {"text": 1})
                        paragraphs = str((doc or {}).get("text") or "").split("\n")
                    known[candidate.article_id] = sentence_shingles(paragraphs)
                candidate.sentences = known[candidate.article_id]
            return candidate.sentences

        return sentences_of

    def _follow(self, assignments: dict[str, Assignment], placed: dict[str, Candidate]) -> None:
        """Point assignments at the live story where theirs was merged into another."""
        followed = follow_merges(self.db, {a.story_id for a in assignments.values()})
        for assignment in assignments.values():
            assignment.story_id = followed.get(assignment.story_id, assignment.story_id)
        for candidate in placed.values():
            if candidate.story_id in followed:
                candidate.story_id = followed[candidate.story_id]

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
                "gallery": bool(member.gallery),
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
                {"anchors": {"$in": wanted}},
                {"story_id": 1, "shingles": 1, "ledes": 1, "gallery": 1, "anchors": 1},
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
                gallery=bool(doc.get("gallery")),
                anchors=list(doc.get("anchors") or []),
            )
            for doc in cursor
        }
        self.common.learn(_stories_per_anchor(set(wanted), found.values()), now)
        return found


def _stories_per_anchor(wanted: set[int], found: Iterable[Candidate]) -> dict[int, int]:
    stories: dict[int, set[str]] = {}
    for candidate in found:
        for anchor in wanted.intersection(candidate.hashes):
            stories.setdefault(anchor, set()).add(candidate.story_id or candidate.article_id)
    return {anchor: len(ids) for anchor, ids in stories.items()}
