"""Story clustering: which story (cluster of near-identical rewrites) does an article belong to?

Candidates come from an index that lives in MongoDB (`fingerprints.anchors`, a
multikey-indexed array), so every crawler process on every machine shares it
and nothing is scanned whole. Candidates are then verified by measured overlap.

Why sampled anchors and not MinHash LSH bands: a shortened wire copy is
*contained* in the long one, but its Jaccard similarity can be as low as 0.15
(engineering notes §4.2: LSH at t=0.5 missed 18 % of trims). Anchors are the
word 5-gram hashes that are 0 modulo ANCHOR_MODULUS (Broder's mod-m sampling):
the same shingle is sampled in every document that contains it, so a copy
holding 60 % of the wire text shares about 60 % of its anchors. Each text also
adds a bottom-k sketch of each of its first ledes (LEDE_ANCHORS smallest
shingles), so a copy that shares little more than the lede is still found.

Verification, tuned on 163 real pages of 31 events (bench/wire_set.py,
bench/clustering.py; all figures there):
- shingles leave quoted speech out: independent reports quote the same
  statement word for word, copies share the agency's own sentences;
- containment (shared / smaller set) of SAME_STORY_CONTAINMENT: real copies —
  write-thrus, regional edits, copies trimmed to a few paragraphs — share
  0.2 to 0.5 of their narrative shingles, real independent reports almost
  never more than 0.1;
- or a lede reworded in a few places (word-sequence ratio SAME_LEDE) with at
  least LEDE_MIN_CONTAINMENT in common: an agency's later take that kept the
  lede and rewrote the body.
On that set: precision 0.974, recall 0.966, against 1.000 / 0.462 for plain
containment at 0.5 and 0.939 / 0.922 for all-pairs containment at 0.2.

Shingles are taken within paragraphs, so reordered paragraphs keep theirs, and
from normalised text with repeated paragraphs already dropped (a lede printed
twice counts once).
"""

from __future__ import annotations

import difflib
import re
import time
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import UpdateOne
from pymongo.database import Database

from crawler import normalize
from crawler.lease import NamedLock
from crawler.store import insert_new

SHINGLE_WORDS = 5
ANCHOR_MODULUS = 12
MIN_PARAGRAPH_WORDS = 6
MIN_SHARED_ANCHORS = 1
LEDE_ANCHORS = 2
SAME_STORY_CONTAINMENT = 0.2
SAME_LEDE = 0.75  # a lede this close (word-sequence ratio) ...
LEDE_MIN_CONTAINMENT = 0.05  # ... and this much in common: a write-thru of the same copy
LEDE_WORDS = 12  # a paragraph of at least this many words can be a lede
LEDES_KEPT = 3
MAX_CANDIDATES = 50
MAX_POSTINGS = 100  # documents read per lookup, whatever happens
COMMON_ANCHOR_STORIES = 5  # an anchor in more stories than this is boilerplate or stock phrasing
PLACEMENT_LOCK = "story-index"
REDUNDANT_CONTAINMENT = 0.9  # a copy this close to an indexed one is not indexed itself
WIRE_MARK = re.compile(
    r"\((AP|CP|Reuters|AFP|dpa|UPI)\)\s*[-—–]|^\s*[A-Z][A-Z .'-]{2,}\s*[-—–]\s", re.M
)
WIRE_AGENCIES = re.compile(
    r"associated press|canadian press|reuters|agence france|\bap\b|\bafp\b", re.I
)

Doc = dict[str, Any]


def shingle_hashes(paragraphs: Sequence[str]) -> set[int]:
    """32-bit hashes of the word 5-grams of each paragraph's own narrative.

    Quoted speech is left out: independent reports of one event quote the same
    statement word for word ("Our thoughts and prayers are with all affected
    passengers..."), while copies of one wire story share the agency's own
    sentences. A text that is nearly all quotes keeps them (QUOTES_KEPT_BELOW).
    Short lines such as captions are skipped.
    """
    narrative = _shingles(_QUOTED.sub(" \n ", p) for p in paragraphs)
    if len(narrative) >= QUOTES_KEPT_BELOW:
        return narrative
    return _shingles(paragraphs)


def _shingles(paragraphs: Iterable[str]) -> set[int]:
    hashes: set[int] = set()
    for paragraph in paragraphs:
        for part in paragraph.split("\n"):
            tokens = normalize.words(part)
            if len(tokens) < MIN_PARAGRAPH_WORDS:
                continue
            for i in range(len(tokens) - SHINGLE_WORDS + 1):
                hashes.add(zlib.crc32(" ".join(tokens[i : i + SHINGLE_WORDS]).encode()))
    return hashes


_QUOTED = re.compile(r"“[^”]{0,2000}”|\"[^\"]{0,2000}\"|«[^»]{0,2000}»")
QUOTES_KEPT_BELOW = 20  # narrative shingles: fewer than this and the quotes count too


def ledes_of(paragraphs: Sequence[str]) -> list[str]:
    """The first substantive paragraphs, quotes left out: where a wire copy shows itself
    even when an agency's write-thru or a regional desk rewrote the rest."""
    found: list[str] = []
    for paragraph in paragraphs:
        tokens = normalize.words(_QUOTED.sub(" ", paragraph))
        if len(tokens) >= LEDE_WORDS:
            found.append(" ".join(tokens[:60]))
            if len(found) == LEDES_KEPT:
                break
    return found


def lede_similarity(mine: Sequence[str], theirs: Sequence[str], enough: float = 0.0) -> float:
    """Best word-sequence ratio between one text's first two ledes and the other's three.

    A 5-gram measure misses a lede reworded in a few places ("12-storey", "with a
    roar", "(local time)"); difflib's ratio over words does not. With `enough`,
    the answer only has to say whether some pair reaches it: difflib's cheap upper
    bounds skip the pairs that cannot, and the search stops at the first that
    does (most candidates share a phrase or two with a text, not its lede).
    """
    best = 0.0
    pairs = {
        (a, b)
        for first, second in ((mine, theirs), (theirs, mine))
        for a in first[:2]
        for b in second
    }
    for a, b in sorted(pairs):
        matcher = difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False)
        if matcher.real_quick_ratio() < enough or matcher.quick_ratio() < enough:
            continue
        best = max(best, matcher.ratio())
        if enough and best >= enough:
            break
    return best


def anchors_of(hashes: Iterable[int], ledes: Sequence[str] = ()) -> list[int]:
    """The shingles a text is looked up by: every one that is 0 modulo ANCHOR_MODULUS, and
    the LEDE_ANCHORS smallest of each of its first two ledes (a bottom-k sketch: two ledes
    that are nearly the same share most of them, however short the copy)."""
    pool = set(hashes)
    anchors = {h for h in pool if h % ANCHOR_MODULUS == 0}
    for lede in ledes:
        anchors.update(sorted(_shingles([lede]) & pool)[:LEDE_ANCHORS])
    return sorted(anchors) or sorted(pool)[:4]  # very short texts: a few shingles stand in


def containment(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def pack(hashes: set[int]) -> Binary:
    return Binary(zlib.compress(array("I", sorted(hashes)).tobytes(), 1))


def unpack(blob: bytes) -> set[int]:
    values = array("I")
    values.frombytes(zlib.decompress(blob))
    return set(values)


def is_wire_copy(paragraphs: Sequence[str], authors: Sequence[str]) -> bool:
    """Carries a wire dateline ("HALIFAX (CP) —") or a wire agency as byline."""
    lede = paragraphs[0] if paragraphs else ""
    return bool(WIRE_MARK.search(lede[:200])) or any(WIRE_AGENCIES.search(a) for a in authors)


@dataclass
class Member:
    article_id: str
    site: str
    url: str
    title: str
    paragraphs: list[str]
    published: datetime | None
    seen_at: datetime
    authors: list[str] = field(default_factory=list)
    label: str | None = None  # a caller's own id (the cluster command's input ids)
    hashes: set[int] | None = None  # shingle_hashes(paragraphs), when already computed
    body_hash: str | None = None  # normalize.body_hash(paragraphs), when already computed
    ledes: list[str] | None = None  # ledes_of(paragraphs), when already computed
    # placed before, but the story may not list it yet (a write that stopped half-way):
    # its indexed story is joined again (a no-op when it is listed) and recorded
    rejoin: bool = False


@dataclass
class Assignment:
    story_id: str
    similarity: float
    joined: bool  # True: an existing story; False: a new one


@dataclass
class _Candidate:
    article_id: str
    story_id: str | None
    hashes: set[int]
    indexed: bool = True
    anchors: list[int] = field(default_factory=list)
    body_hash: str = ""
    ledes: list[str] = field(default_factory=list)


class CommonAnchors:
    """Anchors seen in more than COMMON_ANCHOR_STORIES stories: page furniture and stock phrases.

    They are learned from lookups (an anchor that returned copies of that many
    stories) and kept in MongoDB (`common_anchors`), so every process shares
    them. Each index object keeps its own copy (nothing lives at module or class
    level, so what a lookup finds depends on the database, not on what ran
    before in the process) and every REFRESH_S reads the ones learned since,
    with a margin for clocks that disagree. They expire 30 days after they were
    learned (a TTL index, crawler.store.COMMON_ANCHOR_TTL_S): an anchor that is still common is learned
    again at its next lookup, so the list stays as long as what is common now.
    Only the lookup uses them: verification always compares the full shingle sets.
    """

    REFRESH_S = 60.0
    CLOCK_MARGIN = timedelta(minutes=10)

    def __init__(self, db: Database[Doc]):
        self.collection = db.common_anchors
        self._loaded_at = 0.0
        self._newest: datetime | None = None
        self._anchors: set[int] = set()

    def known(self) -> set[int]:
        if time.monotonic() - self._loaded_at > self.REFRESH_S:
            query = {"since": {"$gte": self._newest - self.CLOCK_MARGIN}} if self._newest else {}
            for doc in self.collection.find(query, {"since": 1}).sort("_id", 1):
                self._anchors.add(int(doc["_id"]))
                if self._newest is None or doc["since"] > self._newest:
                    self._newest = doc["since"]
            self._loaded_at = time.monotonic()
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
        self.known().update(common)


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
        placed: dict[str, _Candidate] = {}  # this batch's newcomers, visible to the later ones
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
                placed[member.article_id] = _Candidate(
                    member.article_id, story, member.hashes, False, [], body, member.ledes or []
                )
                assignments[member.article_id] = Assignment(story, 1.0, False)
                newcomers.append(member)
                continue
            anchors = anchors_of(member.hashes or set(), member.ledes or [])
            candidates = self._lookup(anchors, now)
            candidates.update(placed)
            matches = _verified_matches(member, anchors, candidates)
            story_id, similarity = _choose_story(member.article_id, matches)
            indexed = not _adds_nothing(member, matches)
            placed[member.article_id] = _Candidate(
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
        placed: dict[str, _Candidate],
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

    def _lookup(self, anchors: list[int], now: datetime) -> dict[str, _Candidate]:
        """Every indexed document sharing a rare anchor with this one.

        One query per document, not one for a whole batch: a server checks each
        document it returns against the whole `$in` list, so the cost grows with
        documents returned x anchors per document x values asked for (secantusdb
        took 3 s to return 200 documents for 200 values).
        """
        common = self.common.known()
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
            doc["_id"]: _Candidate(
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
            entry = _entry(member, assignment.similarity, now)
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
                origin = min(story.get("members", []) + entries, key=_origin_rank)
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
            origin = min(entries, key=_origin_rank)
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
                    **_origin_fields(origin, entries),
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
                "$set": {"last_joined": now, **_origin_fields(origin, members)},
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


def _verified_matches(
    member: Member, anchors: list[int], candidates: dict[str, _Candidate]
) -> list[tuple[float, _Candidate]]:
    """Candidates sharing enough anchors, verified by containment over the full shingle sets."""
    hashes = member.hashes or set()
    if not hashes:
        return []
    need = MIN_SHARED_ANCHORS if len(anchors) >= 2 * MIN_SHARED_ANCHORS else 1
    mine = set(anchors)
    shared = sorted(
        (
            (len(mine & c.hashes), c)
            for c in candidates.values()
            if c.article_id != member.article_id
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )
    matches = []
    for count, candidate in shared[:MAX_CANDIDATES]:
        if count < need:
            break
        score = containment(hashes, candidate.hashes)
        if score >= SAME_STORY_CONTAINMENT or (
            score >= LEDE_MIN_CONTAINMENT
            and lede_similarity(member.ledes or [], candidate.ledes, SAME_LEDE) >= SAME_LEDE
        ):
            matches.append((score, candidate))
    return matches


def _adds_nothing(member: Member, matches: list[tuple[float, _Candidate]]) -> bool:
    """Nearly all of this copy is in an indexed copy at least as long: no need to index it too."""
    hashes = member.hashes or set()
    return any(
        c.indexed and score >= REDUNDANT_CONTAINMENT and len(hashes) <= len(c.hashes)
        for score, c in matches
    )


def _choose_story(article_id: str, matches: list[tuple[float, _Candidate]]) -> tuple[str, float]:
    """Deterministic: the smallest story id among the verified matches, else the smallest article id."""
    if not matches:
        return article_id, 1.0
    best = max(score for score, _ in matches)
    with_story = [c.story_id for _, c in matches if c.story_id]
    if with_story:
        return min(with_story), best
    return min([article_id] + [c.article_id for _, c in matches]), best


def _stories_per_anchor(wanted: set[int], found: Iterable[_Candidate]) -> dict[int, int]:
    stories: dict[int, set[str]] = {}
    for candidate in found:
        for anchor in wanted.intersection(candidate.hashes):
            stories.setdefault(anchor, set()).add(candidate.story_id or candidate.article_id)
    return {anchor: len(ids) for anchor, ids in stories.items()}


def _entry(member: Member, similarity: float, now: datetime) -> Doc:
    entry: Doc = {
        "article_id": member.article_id,
        "site": member.site,
        "url": member.url,
        "title": member.title,
        "similarity": round(similarity, 3),
        "joined_at": now,
        "published": member.published,
        "wire_dateline": is_wire_copy(member.paragraphs, member.authors),
    }
    if member.label is not None:
        entry["label"] = member.label
    return entry


def _origin_rank(member: Doc) -> tuple[int, Any, Any]:
    """The originating copy: a wire-datelined copy first, then the earliest published."""
    published = member.get("published") or member.get("joined_at")
    return (0 if member.get("wire_dateline") else 1, published, member["joined_at"])


def _origin_fields(origin: Doc, members: list[Doc]) -> Doc:
    return {
        "origin": {
            k: origin.get(k) for k in ("article_id", "site", "url", "title", "published", "label")
        },
        "title": origin.get("title"),
        "first_published": min((m.get("published") or m["joined_at"]) for m in members),
    }


def local_changes(origin: tuple[str, list[str]], copy: tuple[str, list[str]]) -> Doc:
    """What a site changed compared with the originating copy, paragraph by paragraph."""
    origin_title, origin_paras = origin
    title, paras = copy
    if list(paras) == list(origin_paras):  # an exact copy (the usual case): only the headline
        new_headline = normalize.loose_form(title) != normalize.loose_form(origin_title)
        return {
            "new_headline": new_headline,
            "headline": title if new_headline else None,
            "added_intro": False,
            "intro": [],
            "added_paragraphs": 0,
            "removed_paragraphs": 0,
            "reordered": False,
        }
    origin_keys = [_para_key(p) for p in origin_paras]
    copy_keys = [_para_key(p) for p in paras]
    origin_set, copy_set = set(origin_keys), set(copy_keys)
    leading_added = 0
    for key in copy_keys:
        if key in origin_set or _near_any(key, origin_keys):
            break
        leading_added += 1
    added = [
        p
        for p, k in zip(paras, copy_keys, strict=False)
        if k not in origin_set and not _near_any(k, origin_keys)
    ]
    removed = [k for k in origin_keys if k not in copy_set and not _near_any(k, copy_keys)]
    return {
        "new_headline": normalize.loose_form(title) != normalize.loose_form(origin_title),
        "headline": title
        if normalize.loose_form(title) != normalize.loose_form(origin_title)
        else None,
        "added_intro": leading_added > 0,
        "intro": paras[:leading_added] if leading_added else [],
        "added_paragraphs": len(added),
        "removed_paragraphs": len(removed),
        "reordered": _reordered(origin_keys, copy_keys),
    }


def _para_key(paragraph: str) -> str:
    return normalize.loose_form(paragraph)


def _near_any(key: str, others: list[str]) -> bool:
    """Same paragraph with small edits (a dropped dateline, glued words)."""
    words = set(key.split())
    if len(words) < 5:
        return False
    return any(len(words & set(o.split())) >= 0.8 * len(words) for o in others)


def _reordered(origin_keys: list[str], copy_keys: list[str]) -> bool:
    common = [k for k in copy_keys if k in set(origin_keys)]
    order = [origin_keys.index(k) for k in common]
    return order != sorted(order)
