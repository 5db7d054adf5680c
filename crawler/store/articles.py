"""MongoDB persistence of articles and their immutable versions.

The `versions` collection is the source of truth; `articles` holds the current
state derived from it. Races and retries are made harmless by unique indexes,
not by locks (and filters avoid `$or`, which some MongoDB-compatible servers
answer with a collection scan even beside an `_id`):

- `{article_id, version}` unique: two writers can never both create version n;
  the loser re-reads and re-decides (often: "unchanged", the winner stored it).
- `{article_id, content_hash}` unique: the same content can never be stored
  twice, so a retried write is a no-op.
- the article document only moves forward (`version_count` guards each update),
  and a crash between the two writes is repaired by the next writer that
  collides with the orphan version.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pymongo import DESCENDING, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from crawler import urls
from crawler.stages import StageClock
from crawler.store.versions import (
    REPAIR,
    REVERT,
    TOUCH,
    CurrentView,
    Page,
    count_of,
    has_content,
    judge,
    state_from_version,
    version_doc,
)
from crawler.store.writes import bulk_ignoring_races, insert_new
from crawler.types import Doc
from crawler.version import revisit
from crawler.version.decide import CHANGED, DEGRADED, NEW, REVERTED, Decision

log = logging.getLogger(__name__)

MAX_WRITE_ATTEMPTS = 8
# a page that answers again after a 404/410 is back: revisited, no longer `gone`, and
# its run of missing answers starts again from nothing
BACK_FROM_GONE = {"status": "", "gone_status": "", "missing": ""}


@dataclass
class SaveResult:
    outcome: str
    article_id: str
    version: int | None
    decision: Decision
    # the article has versions but no story yet (an earlier write of it stopped between
    # its version and its story): the caller places it
    unplaced: bool = False


def _unplaced(article: Doc | None) -> bool:
    return article is not None and count_of(article) > 0 and not article.get("story_id")


class ArticleStore:
    """Reads and writes `articles` and `versions`; see the module docstring for the guarantees."""

    def __init__(self, db: Database[Doc], current_view: CurrentView | None = None):
        self.db = db
        self.current_view = current_view
        self.articles: Collection[Doc] = db.articles
        self.versions: Collection[Doc] = db.versions

    def alias_owners(self, keys: list[str]) -> dict[str, str]:
        """The article each of these URL keys belongs to (`url_aliases`), where one does."""
        if not keys:
            return {}
        cursor = self.db.url_aliases.find({"_id": {"$in": keys}}, {"article_id": 1})
        return {doc["_id"]: doc["article_id"] for doc in cursor}

    def find_by_url_key(self, key: str) -> Doc | None:
        """The one article a URL (any variant, see urls.url_key) belongs to."""
        owner = self.alias_owners([key]).get(key)
        return self.articles.find_one({"_id": owner}) if owner else None

    def known_by_url_keys(self, keys: list[str], projection: Doc) -> dict[str, Doc]:
        """The stored articles among `keys`, by key (two round trips on `_id` indexes)."""
        owners = self.alias_owners(keys)
        if not owners:
            return {}
        ids = sorted(set(owners.values()))
        docs = {doc["_id"]: doc for doc in self.articles.find({"_id": {"$in": ids}}, projection)}
        return {key: docs[owner] for key, owner in owners.items() if owner in docs}

    def save_snapshot(self, page: Page) -> SaveResult:
        """Record an unchanged fetch, or append version n+1 and move the article to it."""
        result = self._save_one(page)
        self._claim_aliases([page], [result])
        return result

    def _claim_aliases(self, pages: list[Page], results: list[SaveResult]) -> None:
        """Give each page's URL variants to its article, unless another article has them.

        `url_aliases` has the alias as `_id`, so one URL can never resolve to two
        articles: the first article to claim a variant keeps it (a later article
        whose redirect passes through that URL does not take it over). A variant
        another article owns is taken back out of this article's `aliases` list.
        """
        claims: dict[str, Doc] = {}
        for page, result in zip(pages, results, strict=True):
            if result.version:  # the article exists
                for alias in page.aliases:
                    claims.setdefault(
                        alias,
                        {"_id": alias, "article_id": page.article_id, "since": page.fetched_at},
                    )
        docs = list(claims.values())
        refused = [docs[i]["_id"] for i in insert_new(self.db.url_aliases, docs)]
        if not refused:
            return
        foreign: dict[str, list[str]] = {}
        for alias, owner in self.alias_owners(refused).items():
            mine = claims[alias]["article_id"]
            if owner != mine:
                foreign.setdefault(mine, []).append(alias)
        for article_id, aliases in foreign.items():
            log.info("%s: URL variants %s belong to another article", article_id, aliases)
            self.articles.update_one({"_id": article_id}, {"$pullAll": {"aliases": aliases}})

    def _save_one(self, page: Page) -> SaveResult:
        finished: Doc | None = None  # a version of this run that a repair just completed
        for _attempt in range(MAX_WRITE_ATTEMPTS):
            article = self.articles.find_one({"_id": page.article_id})
            hashes = self._known_hashes(page.article_id) if has_content(article) else {}
            verdict = judge(page, article, hashes, self.current_view)
            if verdict.action == REPAIR:
                finished = self._own(page, self.repair(page.article_id, verdict.number))
                continue
            decision = verdict.made
            if verdict.action == REVERT:
                return self._revert(page, article or {}, decision)
            if verdict.action == TOUCH:
                self._touch(page, decision.outcome, article)
                outcome = decision.outcome
                if finished is not None and finished["content_hash"] == page.snapshot.content_hash:
                    # our own earlier try stored this version and stopped before the article:
                    # this write finished it, so it is reported as the version it made
                    outcome = NEW if finished["version"] == 1 else CHANGED
                return SaveResult(
                    outcome, page.article_id, verdict.number, decision, _unplaced(article)
                )
            version = version_doc(page, verdict.number, decision)
            try:
                self.versions.insert_one(version)
            except DuplicateKeyError:
                finished = self._own(page, self.repair(page.article_id, count_of(article)))
                continue
            self._advance(page, version, decision)
            outcome = NEW if verdict.number == 1 else CHANGED
            return SaveResult(outcome, page.article_id, verdict.number, decision)
        raise RuntimeError(
            f"could not store {page.url}: {MAX_WRITE_ATTEMPTS} write conflicts in a row"
        )

    def save_snapshots(
        self,
        pages: list[Page],
        clock: StageClock | None = None,
        place: Callable[[list[int]], dict[str, str]] | None = None,
    ) -> list[SaveResult]:
        """save_snapshot for a batch, with the same guarantees and one result per page, in order.

        One read of the articles and of their version hashes, one insert of the new
        versions, one insert of the new articles and one bulk update of the others:
        on a store where each round trip costs a millisecond, that is most of the
        per-page cost gone. Whatever a batch cannot settle alone (the same article twice in it, a revert, a
        version number taken meanwhile by another writer, a half-finished earlier
        write) goes through save_snapshot afterwards, which re-reads and retries.

        `place`, when given, is called with the indexes of the pages that got a new
        version, after the versions are written and before the articles are: it
        returns each article's story, which then rides on the article's own update
        instead of costing a second write of the article.
        """
        clock = clock or StageClock()
        results: list[SaveResult | None] = [None] * len(pages)
        batched, later = _first_of_each_article(pages)
        with clock.timing("store"):
            ids = [pages[i].article_id for i in batched]
            articles = {doc["_id"]: doc for doc in self.articles.find({"_id": {"$in": ids}})}
            known = self._known_hashes_many([a for a in ids if has_content(articles.get(a))])
        inserts: list[tuple[int, Doc, Decision]] = []
        updates: list[UpdateOne] = []
        with clock.timing("version"):
            for i in batched:
                page, article = pages[i], articles.get(pages[i].article_id)
                verdict = judge(page, article, known.get(page.article_id, {}), self.current_view)
                if verdict.action in (REPAIR, REVERT):
                    later.append(i)  # settled one page at a time, re-reading (_save_one)
                elif verdict.action == TOUCH:
                    if article is not None:
                        updates.append(self._touch_op(page, verdict.made.outcome, article))
                    results[i] = SaveResult(
                        verdict.made.outcome,
                        page.article_id,
                        verdict.number,
                        verdict.made,
                        _unplaced(article),
                    )
                else:
                    version = version_doc(page, verdict.number, verdict.made)
                    inserts.append((i, version, verdict.made))
        with clock.timing("store"):
            collided = self._insert_versions([version for _, version, _ in inserts])
        stored = [(i, v, d) for i, v, d in inserts if v["_id"] not in collided]
        later += [i for i, v, _ in inserts if v["_id"] in collided]
        stories = place([i for i, _, _ in stored]) if place and stored else {}
        with clock.timing("store"):
            fresh: list[tuple[Doc, UpdateOne]] = []  # first version of an article not stored yet
            for i, version, decision in stored:
                page, story_id = pages[i], stories.get(pages[i].article_id)
                advance = self._advance_op(page, version, decision, story_id)
                if page.article_id in articles:
                    updates.append(advance)
                else:
                    fresh.append((self._new_article(page, version, decision, story_id), advance))
                outcome = NEW if version["version"] == 1 else CHANGED
                results[i] = SaveResult(outcome, page.article_id, version["version"], decision)
            # a plain insert costs the store less than an upsert; where another writer
            # created the article meanwhile, the guarded upsert decides as usual
            refused = insert_new(self.articles, [doc for doc, _ in fresh])
            updates += [fresh[k][1] for k in refused]
            bulk_ignoring_races(self.articles, updates)
            for i in sorted(later):
                results[i] = self._save_one(pages[i])
            done = [result for result in results if result is not None]
            self._claim_aliases(pages, done)
        return done

    def _insert_versions(self, versions: list[Doc]) -> set[str]:
        """Insert the new versions; the ids another writer got to first (a unique index said no)."""
        return {versions[i]["_id"] for i in insert_new(self.versions, versions)}

    def _known_hashes_many(self, article_ids: list[str]) -> dict[str, dict[str, int]]:
        known: dict[str, dict[str, int]] = {}
        if article_ids:
            projection = {"article_id": 1, "content_hash": 1, "version": 1, "_id": 0}
            for doc in self.versions.find({"article_id": {"$in": article_ids}}, projection):
                known.setdefault(doc["article_id"], {})[doc["content_hash"]] = doc["version"]
        return known

    def _known_hashes(self, article_id: str) -> dict[str, int]:
        """Content hash -> version number of every stored version of the article."""
        projection = {"content_hash": 1, "version": 1, "_id": 0}
        cursor = self.versions.find({"article_id": article_id}, projection)
        return {doc["content_hash"]: doc["version"] for doc in cursor}

    def _advance(self, page: Page, version: Doc, decision: Decision) -> None:
        bulk_ignoring_races(self.articles, [self._advance_op(page, version, decision)])

    def _advance_op(
        self, page: Page, version: Doc, decision: Decision, story_id: str | None = None
    ) -> UpdateOne:
        """Move the article to this version, unless a newer one already moved it on."""
        number = version["version"]
        guard = {
            "_id": page.article_id,
            "version_count": {"$not": {"$gte": number}},  # below n, or no version yet
        }
        update = {
            "$set": self._advanced_fields(page, version, decision, story_id),
            "$setOnInsert": {"first_seen": page.fetched_at},
            "$addToSet": {"aliases": {"$each": page.aliases}},
            "$unset": {**BACK_FROM_GONE, "degraded_fetches": ""},
        }
        return UpdateOne(guard, update, upsert=True)

    def _new_article(
        self, page: Page, version: Doc, decision: Decision, story_id: str | None
    ) -> Doc:
        """The article document _advance_op's upsert would create."""
        return {
            "_id": page.article_id,
            **self._advanced_fields(page, version, decision, story_id),
            "first_seen": page.fetched_at,
            "aliases": list(dict.fromkeys(page.aliases)),
        }

    def _advanced_fields(
        self, page: Page, version: Doc, decision: Decision, story_id: str | None
    ) -> Doc:
        number = version["version"]
        fields = state_from_version(version)
        fields.update(self._seen_fields(page, decision.outcome if number > 1 else NEW))
        fields["next_check_at"] = revisit.next_check(page.fetched_at, page.fetched_at, changed=True)
        fields["stable_key"] = urls.stable_key(page.url)
        if story_id is not None:
            fields["story_id"] = story_id
        return fields

    def _touch(self, page: Page, outcome: str, article: Doc | None) -> None:
        if article is None:
            return  # nothing stored yet (e.g. a degraded first fetch): the fetch log has it
        self.articles.bulk_write([self._touch_op(page, outcome, article)])

    def _touch_op(self, page: Page, outcome: str, article: Doc) -> UpdateOne:
        fields = self._seen_fields(page, outcome)
        last_changed = article.get("last_changed") or page.fetched_at
        unset = dict(BACK_FROM_GONE)
        if outcome == DEGRADED:
            # not the article (a wall, a cut body): looked at again soon, then less often
            # while the site keeps answering so (revisit.degraded_retry)
            streak = int(article.get("degraded_fetches", 0)) + 1
            fields["degraded_fetches"] = streak
            fields["next_check_at"] = page.fetched_at + revisit.degraded_retry(
                streak, page.fetched_at - last_changed
            )
        else:
            fields["next_check_at"] = revisit.next_check(
                page.fetched_at, last_changed, changed=False
            )
            unset["degraded_fetches"] = ""
        return UpdateOne(
            {"_id": page.article_id},
            {
                "$set": fields,
                "$addToSet": {"aliases": {"$each": page.aliases}},
                "$unset": unset,
            },
        )

    def _seen_fields(self, page: Page, outcome: str) -> Doc:
        return {
            "last_seen": page.fetched_at,
            "last_fetched": page.fetched_at,
            "last_outcome": outcome,
        }

    def _revert(self, page: Page, article: Doc, decision: Decision) -> SaveResult:
        """Point the article back at the earlier version with this content; add nothing."""
        earlier = self.versions.find_one(
            {"article_id": page.article_id, "content_hash": page.snapshot.content_hash},
            {"raw": 0},
        )
        assert earlier is not None
        fields = {
            "title": earlier["title"],
            "text": earlier["text"],
            "content_hash": earlier["content_hash"],
            "loose_hash": earlier["loose_hash"],
            "current_version": earlier["version"],
            **self._seen_fields(page, REVERTED),
        }
        self.articles.update_one(
            {"_id": page.article_id, "version_count": article.get("version_count")},
            {"$set": fields},
        )
        return SaveResult(REVERTED, page.article_id, earlier["version"], decision)

    @staticmethod
    def _own(page: Page, version: Doc | None) -> Doc | None:
        """The repaired version, if this crawl run wrote it (a retry of our own write)."""
        if version is not None and page.run_id and version.get("run_id") == page.run_id:
            return version
        return None

    def repair(self, article_id: str, believed_count: int | None = None) -> Doc | None:
        """Catch the article up with its newest version, if a writer stopped between the two.

        Returns that version when the article was behind. The article's story is not
        restored here: a story id on an article means its story lists it, and a writer
        that stopped may have indexed the article without finishing the story, so the
        article is left without one (SaveResult.unplaced) and placed again.
        """
        if believed_count is None:
            believed_count = count_of(
                self.articles.find_one({"_id": article_id}, {"version_count": 1})
            )
        top = self.versions.find_one(
            {"article_id": article_id}, {"raw": 0}, sort=[("version", DESCENDING)]
        )
        if top is None or top["version"] <= believed_count:
            return None
        fields = state_from_version(top)
        guard = {
            "_id": article_id,
            "version_count": {"$not": {"$gte": top["version"]}},
        }
        with contextlib.suppress(DuplicateKeyError):
            self.articles.update_one(
                guard,
                {"$set": fields, "$setOnInsert": {"first_seen": top["fetched_at"], "aliases": []}},
                upsert=True,
            )
        return top

    # -- reading ---------------------------------------------------------------------------

    def due_for_revisit(
        self, site: str, now: datetime, limit: int, everything: bool = False
    ) -> list[Doc]:
        """The site's articles whose revisit is due, the longest overdue first.

        Gone articles leave the queue (mark_gone unsets their `next_check_at`); ones
        marked gone before it did are taken out when met here. The status is tested
        here, not in the query: with it, the embedded server read every article of the
        site (15k articles, 200 due: 454 ms against 10 ms)."""
        projection = {"url": 1, "aliases": 1}
        if everything:
            query: Doc = {"site": site, "status": {"$ne": "gone"}}
            return list(self.articles.find(query, projection).sort("next_check_at", 1).limit(limit))
        due = {"site": site, "next_check_at": {"$lte": now}}
        while True:
            cursor = self.articles.find(due, {**projection, "status": 1}).sort("next_check_at", 1)
            docs = list(cursor.limit(limit))
            gone = [doc["_id"] for doc in docs if doc.get("status") == "gone"]
            if not gone:
                return [{k: v for k, v in doc.items() if k != "status"} for doc in docs]
            self.articles.update_many(
                {"_id": {"$in": gone}, "status": "gone"}, {"$unset": {"next_check_at": ""}}
            )

    def mark_url_gone(self, url_key: str, status: int, now: datetime) -> bool:
        """The article at this URL answered 404/410 (see mark_gone): is it gone now?"""
        article = self.find_by_url_key(url_key)
        return article is not None and self.mark_gone(article["_id"], status, now)

    def mark_gone(self, article_id: str, status: int, now: datetime) -> bool:
        """Count a 404/410 answer; retire the article only on repeated ones spread over time.

        Until revisit.retired says so (3 answers over at least 2 days) the article
        stays in the revisit queue, looked at again after a growing back-off
        (revisit.missing_retry); `missing` keeps the run of answers, and any
        answered fetch removes it. Returns whether the article is now gone.
        """
        for _attempt in range(MAX_WRITE_ATTEMPTS):
            article = self.articles.find_one({"_id": article_id}, {"missing": 1, "status": 1})
            if article is None or article.get("status") == "gone":
                return article is not None
            before = article.get("missing")
            answers = int((before or {}).get("answers", 0)) + 1
            since = (before or {}).get("since") or now
            missing = {"since": since, "answers": answers, "last_at": now, "status": status}
            if revisit.retired(answers, since, now):
                update: Doc = {
                    "$set": {
                        "status": "gone",
                        "gone_status": status,
                        "last_seen": now,
                        "missing": missing,
                    },
                    "$unset": {"next_check_at": ""},  # out of the revisit queue's index range
                }
            else:
                retry = now + revisit.missing_retry(answers)
                update = {"$set": {"missing": missing, "next_check_at": retry}}
            # guarded by the run of answers read: two writers never count one answer twice
            guard: Doc = {"_id": article_id, "missing.answers": answers - 1}
            if before is None:
                guard = {"_id": article_id, "missing": {"$exists": False}}
            if self.articles.update_one(guard, update).matched_count:
                return "status" in update["$set"]
        log.warning("%s: could not count its %s answer (write conflicts)", article_id, status)
        return False


def _first_of_each_article(pages: list[Page]) -> tuple[list[int], list[int]]:
    """Indexes of the first page of each article, and of the repeats (stored after, one by one)."""
    seen: set[str] = set()
    first: list[int] = []
    repeats: list[int] = []
    for i, page in enumerate(pages):
        (repeats if page.article_id in seen else first).append(i)
        seen.add(page.article_id)
    return first, repeats
