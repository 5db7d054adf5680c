"""Story clustering: which story (cluster of near-identical rewrites) does an article belong to?

Candidates come from an index that lives in MongoDB (`fingerprints.anchors`, a
multikey-indexed array), so every crawler process on every machine shares it
and nothing is scanned whole. Candidates are then verified by measured overlap.

Why sampled anchors and not MinHash LSH bands: a shortened wire copy is
*contained* in the long one, but its Jaccard similarity can be as low as 0.15
(engineering notes §4.2: LSH at t=0.5 missed 18 % of trims). Anchors are the
word 5-gram hashes that are 0 modulo ANCHOR_MODULUS (Broder's mod-m sampling):
the same shingle is sampled in every document that contains it, so a copy
holding 60 % of the wire text shares about 60 % of its anchors. Overlap is then
measured on the full shingle sets as containment (shared / smaller set), which
a trim, a local intro or page chrome barely moves, while independently written
articles about the same event share almost no 5-grams.

Shingles are taken within paragraphs, so reordered paragraphs keep theirs, and
from normalised text with repeated paragraphs already dropped (a lede printed
twice counts once).
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from crawler import normalize

SHINGLE_WORDS = 5
ANCHOR_MODULUS = 8
MIN_PARAGRAPH_WORDS = 6
MIN_SHARED_ANCHORS = 2
SAME_STORY_CONTAINMENT = 0.5
MAX_CANDIDATES = 50
MAX_POSTINGS = 2000  # documents read per lookup, whatever happens
COMMON_ANCHOR_STORIES = 20  # an anchor in more stories than this is boilerplate or stock phrasing
WIRE_MARK = re.compile(
    r"\((AP|CP|Reuters|AFP|dpa|UPI)\)\s*[-—–]|^\s*[A-Z][A-Z .'-]{2,}\s*[-—–]\s", re.M
)
WIRE_AGENCIES = re.compile(
    r"associated press|canadian press|reuters|agence france|\bap\b|\bafp\b", re.I
)

Doc = dict[str, Any]


def shingle_hashes(paragraphs: Sequence[str]) -> set[int]:
    """32-bit hashes of the word 5-grams of each paragraph (short lines such as captions skipped)."""
    hashes: set[int] = set()
    for paragraph in paragraphs:
        tokens = normalize.words(paragraph)
        if len(tokens) < MIN_PARAGRAPH_WORDS:
            continue
        if len(tokens) < SHINGLE_WORDS:
            hashes.add(zlib.crc32(" ".join(tokens).encode()))
            continue
        for i in range(len(tokens) - SHINGLE_WORDS + 1):
            hashes.add(zlib.crc32(" ".join(tokens[i : i + SHINGLE_WORDS]).encode()))
    return hashes


def anchors_of(hashes: Iterable[int]) -> list[int]:
    anchors = sorted(h for h in hashes if h % ANCHOR_MODULUS == 0)
    return anchors or sorted(hashes)[:4]  # very short texts: a few shingles stand in


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


@dataclass
class Assignment:
    story_id: str
    similarity: float
    joined: bool  # True: an existing story; False: a new one


class StoryIndex:
    """The shared near-duplicate index and the `stories` collection."""

    def __init__(self, db: Database[Doc]):
        self.db = db
        self.fingerprints = db.fingerprints
        self.stories = db.stories

    def assign(self, member: Member, now: datetime) -> Assignment:
        """Index the article and put it in the story of its verified near-duplicates, or a new one."""
        hashes = shingle_hashes(member.paragraphs)
        body = normalize.body_hash(member.paragraphs)
        previous = self.fingerprints.find_one({"_id": member.article_id}, {"story_id": 1})
        anchors = anchors_of(hashes)
        self.fingerprints.update_one(
            {"_id": member.article_id},
            {
                "$set": {
                    "site": member.site,
                    "anchors": anchors,
                    "shingles": pack(hashes),
                    "size": len(hashes),
                    "body_hash": body,
                    "updated_at": now,
                },
                "$setOnInsert": {"created_at": now},
            },
            upsert=True,
        )
        if previous and previous.get("story_id"):
            return Assignment(previous["story_id"], 1.0, True)  # an edit never moves an article
        matches = self._verified_matches(member.article_id, hashes, anchors, body)
        story_id, similarity = self._choose_story(member.article_id, matches)
        self.fingerprints.update_one({"_id": member.article_id}, {"$set": {"story_id": story_id}})
        if previous is None:
            self._count_anchors(anchors, story_id)
        joined = self._join(story_id, member, similarity, now)
        return Assignment(story_id, similarity, joined)

    def _verified_matches(
        self, article_id: str, hashes: set[int], anchors: list[int], body: str
    ) -> list[tuple[float, Doc]]:
        if not hashes:
            return []
        need = MIN_SHARED_ANCHORS if len(anchors) >= 2 * MIN_SHARED_ANCHORS else 1
        mine = set(anchors)
        rare = self._rare(anchors)
        projection = {"story_id": 1, "anchors": 1, "body_hash": 1}
        # Plain indexed queries: some MongoDB-compatible servers fall back to a
        # collection scan for $or or an aggregation $match over a multikey index.
        found = {doc["_id"]: doc for doc in self.fingerprints.find({"body_hash": body}, projection)}
        if rare:
            cursor = self.fingerprints.find({"anchors": {"$in": rare}}, projection).limit(
                MAX_POSTINGS
            )
            for doc in cursor:
                found.setdefault(doc["_id"], doc)
        found.pop(article_id, None)
        exact = [doc for doc in found.values() if doc.get("body_hash") == body]
        shared = sorted(
            (
                (len(mine.intersection(doc.get("anchors", []))), doc)
                for doc in found.values()
                if doc not in exact
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        to_verify = [doc for count, doc in shared[:MAX_CANDIDATES] if count >= need]
        matches: list[tuple[float, Doc]] = [(1.0, doc) for doc in exact]
        if to_verify:
            ids = [doc["_id"] for doc in to_verify]
            stories = {doc["_id"]: doc.get("story_id") for doc in to_verify}
            for doc in self.fingerprints.find({"_id": {"$in": ids}}, {"shingles": 1}):
                score = containment(hashes, unpack(doc["shingles"]))
                if score >= SAME_STORY_CONTAINMENT:
                    matches.append(
                        (score, {"_id": doc["_id"], "story_id": stories.get(doc["_id"])})
                    )
        return matches

    def _count_anchors(self, anchors: list[int], story_id: str) -> None:
        """In how many stories each anchor occurs (`anchor_counts.n`).

        Counted per story, not per document: the anchors of a wire story carried by
        forty sites stay rare (one story), while stock phrases and page furniture
        found across many stories become common and are no longer looked up.
        """
        if not anchors:
            return
        pairs = self.db.anchor_stories.bulk_write(
            [
                UpdateOne({"_id": f"{a}:{story_id}"}, {"$setOnInsert": {"a": a}}, upsert=True)
                for a in anchors
            ],
            ordered=False,
        )
        fresh = [anchors[i] for i in pairs.upserted_ids or {}]
        if fresh:
            self.db.anchor_counts.bulk_write(
                [UpdateOne({"_id": a}, {"$inc": {"n": 1}}, upsert=True) for a in fresh],
                ordered=False,
            )

    def _rare(self, anchors: list[int]) -> list[int]:
        """The anchors worth looking up: a phrase printed under every article finds every article."""
        common = {
            doc["_id"]
            for doc in self.db.anchor_counts.find(
                {"_id": {"$in": anchors}, "n": {"$gt": COMMON_ANCHOR_STORIES}}, {"_id": 1}
            )
        }
        return [a for a in anchors if a not in common]

    def _choose_story(self, article_id: str, matches: list[tuple[float, Doc]]) -> tuple[str, float]:
        """Deterministic under races: the smallest existing story id, else the smallest article id.

        Two copies indexed at the same moment both see each other without a story
        and both pick min(their ids), so they still end up together.
        """
        if not matches:
            return article_id, 1.0
        best = max(score for score, _ in matches)
        with_story = [c["story_id"] for _, c in matches if c.get("story_id")]
        if with_story:
            return min(with_story), best
        return min([article_id] + [c["_id"] for _, c in matches]), best

    def _join(self, story_id: str, member: Member, similarity: float, now: datetime) -> bool:
        wire = is_wire_copy(member.paragraphs, member.authors)
        entry = {
            "article_id": member.article_id,
            "site": member.site,
            "url": member.url,
            "title": member.title,
            "similarity": round(similarity, 3),
            "joined_at": now,
            "published": member.published,
            "wire_dateline": wire,
        }
        if member.label is not None:
            entry["label"] = member.label
        try:
            self.stories.update_one(
                {"_id": story_id},
                {"$setOnInsert": {"created_at": now, "members": [], "sites": [], "size": 0}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # created by a concurrent writer between our check and insert
        result = self.stories.update_one(
            {"_id": story_id, "members.article_id": {"$ne": member.article_id}},
            {
                "$push": {"members": entry},
                "$addToSet": {"sites": member.site},
                "$inc": {"size": 1},
                "$set": {"last_joined": now},
            },
        )
        self.db.articles.update_one({"_id": member.article_id}, {"$set": {"story_id": story_id}})
        self._refresh_origin(story_id, member)
        return result.modified_count == 1 and story_id != member.article_id

    def _refresh_origin(self, story_id: str, newcomer: Member) -> None:
        """The originating copy: a wire-datelined copy first, then the earliest published."""
        story = self.stories.find_one({"_id": story_id})
        if not story or not story.get("members"):
            return
        members = story["members"]

        def rank(m: Doc) -> tuple[int, Any, Any]:
            published = m.get("published") or m.get("joined_at")
            return (0 if m.get("wire_dateline") else 1, published, m["joined_at"])

        origin = min(members, key=rank)
        texts = self._texts([m["article_id"] for m in members], newcomer)
        origin_text = texts.get(origin["article_id"])
        update: Doc = {
            "origin": {
                k: origin.get(k)
                for k in ("article_id", "site", "url", "title", "published", "label")
            },
            "title": origin.get("title"),
            "first_published": min((m.get("published") or m["joined_at"]) for m in members),
        }
        if origin_text is not None:
            for index, member in enumerate(members):
                text = texts.get(member["article_id"])
                if text is not None:
                    update[f"members.{index}.changes"] = local_changes(origin_text, text)
        self.stories.update_one({"_id": story_id}, {"$set": update})

    def _texts(self, article_ids: list[str], newcomer: Member) -> dict[str, tuple[str, list[str]]]:
        texts = {newcomer.article_id: (newcomer.title, newcomer.paragraphs)}
        others = [a for a in article_ids if a != newcomer.article_id]
        if others:
            for doc in self.db.articles.find({"_id": {"$in": others}}, {"title": 1, "text": 1}):
                texts[doc["_id"]] = (doc.get("title", ""), doc.get("text", "").split("\n"))
        return texts


def local_changes(origin: tuple[str, list[str]], copy: tuple[str, list[str]]) -> Doc:
    """What a site changed compared with the originating copy, paragraph by paragraph."""
    origin_title, origin_paras = origin
    title, paras = copy
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
