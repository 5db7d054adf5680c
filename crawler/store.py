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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import zstandard
from bson import Binary
from pymongo import ASCENDING, DESCENDING, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from crawler import revisit, urls
from crawler.clock import utcnow  # noqa: F401  (re-exported: the store's callers' clock)
from crawler.stages import StageClock
from crawler.versioning import CHANGED, NEW, REVERTED, Decision, Snapshot, decide

log = logging.getLogger(__name__)

FETCH_LOG_TTL = timedelta(days=30)
RAW_ZSTD_LEVEL = 3  # 0.9 ms a page; level 10 saves 10 % of the bytes for 4x the CPU
DUPLICATE_KEY = 11000
MAX_WRITE_ATTEMPTS = 8

Doc = dict[str, Any]


def connect(uri: str, db_name: str, timeout_ms: int = 5000) -> Database[Doc]:
    """A database handle with short timeouts, so an outage is noticed and retried, not hung on."""
    client: MongoClient[Doc] = MongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 6, 30000),
        tz_aware=True,
        appname="newscrawl",
    )
    return client[db_name]


COMMON_ANCHOR_TTL_S = 30 * 24 * 3600  # common anchors (crawler.clustering) are learned again


def ensure_indexes(db: Database[Doc]) -> None:
    """Create every index the schema relies on; safe to run at every start."""
    db.articles.create_index("aliases")  # informational: url_aliases resolves URLs
    db.url_aliases.create_index("article_id")
    db.articles.create_index([("site", ASCENDING), ("next_check_at", ASCENDING)])
    db.articles.create_index([("last_changed", DESCENDING)])
    db.articles.create_index("story_id")
    db.articles.create_index("stable_key")  # crawler.identity: the same article, renamed
    db.versions.create_index([("article_id", ASCENDING), ("version", ASCENDING)], unique=True)
    db.versions.create_index([("article_id", ASCENDING), ("content_hash", ASCENDING)], unique=True)
    db.versions.create_index([("fetched_at", DESCENDING)])
    db.stories.create_index([("size", DESCENDING), ("last_joined", DESCENDING)])
    db.stories.create_index("sites")
    db.fingerprints.create_index("anchors")
    db.fingerprints.create_index("body_hash")
    # crawler.clustering.CommonAnchors: what is common expires and is learned again
    if "since_1" in db.common_anchors.index_information():  # before it expired
        db.common_anchors.drop_index("since_1")
    db.common_anchors.create_index(
        "since", name="since_ttl", expireAfterSeconds=int(COMMON_ANCHOR_TTL_S)
    )
    db.fetches.create_index("at", expireAfterSeconds=int(FETCH_LOG_TTL.total_seconds()))
    db.fetches.create_index([("url", ASCENDING), ("at", DESCENDING)])
    db.fetches.create_index("run_id")
    db.feeds.create_index("site")
    db.site_chrome.create_index("site")  # crawler.chrome: one document per (site, line shape)
    db.crawl_runs.create_index([("site", ASCENDING), ("started_at", DESCENDING)])
    db.crawl_runs.create_index([("started_at", DESCENDING)])
    db.versions.create_index("run_id")  # the crash repair reads an interrupted run's versions
    backfill_url_aliases(db)


def backfill_url_aliases(db: Database[Doc]) -> int:
    """A database written before `url_aliases` existed: give each alias to the article that
    saw it first. Idempotent; runs only while `url_aliases` is empty."""
    if db.url_aliases.estimated_document_count() or not db.articles.estimated_document_count():
        return 0
    claimed = 0
    cursor = db.articles.find({}, {"aliases": 1, "first_seen": 1}).sort("first_seen", ASCENDING)
    for article in cursor:
        docs = [
            {"_id": alias, "article_id": article["_id"], "since": article.get("first_seen")}
            for alias in article.get("aliases", [])
        ]
        claimed += len(docs) - len(insert_new(db.url_aliases, docs))
    return claimed


def compress_raw(body: bytes) -> Binary:
    return Binary(zstandard.ZstdCompressor(level=RAW_ZSTD_LEVEL).compress(body))


def decompress_raw(blob: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(blob)


@dataclass
class Page:
    """One fetched and extracted article page, ready to be stored."""

    article_id: str
    url: str
    site: str
    fetched_at: datetime
    snapshot: Snapshot
    aliases: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    language: str | None = None
    raw_html: bytes = b""
    raw_zstd: bytes | None = None  # compressed by the extraction worker; else at write time
    raw_size: int | None = None  # len(raw_html) when the worker kept only the compressed bytes
    shingles: set[int] | None = None  # the story index's shingles, computed by the worker
    body_hash: str | None = None  # and its exact-copy key (normalize.body_hash)
    http: dict[str, Any] = field(default_factory=dict)
    extractor: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None


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
    return article is not None and _count(article) > 0 and not article.get("story_id")


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
            current = _current_snapshot(article, self.current_view)
            known: dict[str, int] = self._known_hashes(page.article_id) if current else {}
            if known and max(known.values()) > _count(article):
                finished = self._own(page, self.repair(page.article_id, _count(article)))
                continue
            decision = decide(current, page.snapshot, frozenset(known))
            if decision.outcome == REVERTED:
                return self._revert(page, article or {}, decision)
            if not decision.makes_version:
                self._touch(page, decision.outcome, article)
                outcome = decision.outcome
                if finished is not None and finished["content_hash"] == page.snapshot.content_hash:
                    # our own earlier try stored this version and stopped before the article:
                    # this write finished it, so it is reported as the version it made
                    outcome = NEW if finished["version"] == 1 else CHANGED
                return SaveResult(
                    outcome, page.article_id, _count(article), decision, _unplaced(article)
                )
            number = _count(article) + 1
            version = self._version_doc(page, number, decision)
            try:
                self.versions.insert_one(version)
            except DuplicateKeyError:
                finished = self._own(page, self.repair(page.article_id, _count(article)))
                continue
            self._advance(page, version, decision)
            outcome = NEW if number == 1 else CHANGED
            return SaveResult(outcome, page.article_id, number, decision)
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
            known = self._known_hashes_many(
                [a for a in ids if _current_snapshot(articles.get(a)) is not None]
            )
        inserts: list[tuple[int, Doc, Decision]] = []
        updates: list[UpdateOne] = []
        with clock.timing("version"):
            for i in batched:
                page, article = pages[i], articles.get(pages[i].article_id)
                current = _current_snapshot(article, self.current_view)
                hashes = known.get(page.article_id, {}) if current else {}
                if hashes and max(hashes.values()) > _count(article):
                    later.append(i)  # a writer died between its two writes: repair first
                    continue
                decision = decide(current, page.snapshot, frozenset(hashes))
                if decision.outcome == REVERTED:
                    later.append(i)
                elif not decision.makes_version:
                    if article is not None:
                        updates.append(self._touch_op(page, decision.outcome, article))
                    results[i] = SaveResult(
                        decision.outcome,
                        page.article_id,
                        _count(article),
                        decision,
                        _unplaced(article),
                    )
                else:
                    number = _count(article) + 1
                    inserts.append((i, self._version_doc(page, number, decision), decision))
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
            _bulk_ignoring_races(self.articles, updates)
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

    def _version_doc(self, page: Page, number: int, decision: Decision) -> Doc:
        snap = page.snapshot
        change: Doc = {"kinds": decision.change_kinds or ["first"], "summary": decision.reason}
        if number > 1:
            change.update(previous_version=number - 1, diff=decision.diff, stats=decision.stats)
        return {
            "_id": f"{page.article_id}:{number}",
            "article_id": page.article_id,
            "version": number,
            "url": page.url,
            "site": page.site,
            "fetched_at": page.fetched_at,
            "title": snap.title,
            "text": snap.text,
            "authors": page.authors,
            "published": page.published,
            "modified": page.modified,
            "language": page.language,
            "content_hash": snap.content_hash,
            "loose_hash": snap.loose_hash,
            "word_count": snap.word_count,
            "change": change,
            "raw": {
                "zstd": Binary(page.raw_zstd)
                if page.raw_zstd is not None
                else compress_raw(page.raw_html),
                "size": page.raw_size if page.raw_size is not None else len(page.raw_html),
            },
            "http": page.http,
            "extractor": page.extractor,
            "run_id": page.run_id,
        }

    def _advance(self, page: Page, version: Doc, decision: Decision) -> None:
        _bulk_ignoring_races(self.articles, [self._advance_op(page, version, decision)])

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
        fields = _state_from_version(version)
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
        fields["next_check_at"] = revisit.next_check(
            page.fetched_at, article.get("last_changed") or page.fetched_at, changed=False
        )
        return UpdateOne(
            {"_id": page.article_id},
            {"$set": fields, "$addToSet": {"aliases": {"$each": page.aliases}}},
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
            believed_count = _count(
                self.articles.find_one({"_id": article_id}, {"version_count": 1})
            )
        top = self.versions.find_one(
            {"article_id": article_id}, {"raw": 0}, sort=[("version", DESCENDING)]
        )
        if top is None or top["version"] <= believed_count:
            return None
        fields = _state_from_version(top)
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

    def history(self, article_id: str) -> list[Doc]:
        return list(
            self.versions.find({"article_id": article_id}, {"raw": 0}).sort("version", ASCENDING)
        )

    def version(self, article_id: str, number: int | None = None) -> Doc | None:
        if number is None:
            return self.versions.find_one(
                {"article_id": article_id}, sort=[("version", DESCENDING)]
            )
        return self.versions.find_one({"article_id": article_id, "version": number})

    def due_for_revisit(
        self, site: str, now: datetime, limit: int, everything: bool = False
    ) -> list[Doc]:
        query: Doc = {"site": site, "status": {"$ne": "gone"}}
        if not everything:
            query["next_check_at"] = {"$lte": now}
        cursor = self.articles.find(query, {"url": 1, "aliases": 1}).sort("next_check_at", 1)
        return list(cursor.limit(limit))

    def mark_url_gone(self, url_key: str, status: int, now: datetime) -> None:
        """The article at this URL answered 404/410: it is no longer revisited."""
        article = self.find_by_url_key(url_key)
        if article:
            self.mark_gone(article["_id"], status, now)

    def mark_gone(self, article_id: str, status: int, now: datetime) -> None:
        self.articles.update_one(
            {"_id": article_id},
            {"$set": {"status": "gone", "gone_status": status, "last_seen": now}},
        )


def insert_new(collection: Collection[Doc], docs: list[Doc]) -> list[int]:
    """Insert what is new; the positions a unique index refused (already there, or a race lost).

    Any other write error is raised: only a duplicate key means "someone else did it".
    """
    if not docs:
        return []
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        return _duplicate_key_positions(exc)
    return []


def _duplicate_key_positions(exc: BulkWriteError) -> list[int]:
    """The positions a unique index refused; re-raised when anything else went wrong."""
    errors = exc.details.get("writeErrors", [])
    if any(error.get("code") != DUPLICATE_KEY for error in errors):
        raise exc
    return [error["index"] for error in errors]


def _first_of_each_article(pages: list[Page]) -> tuple[list[int], list[int]]:
    """Indexes of the first page of each article, and of the repeats (stored after, one by one)."""
    seen: set[str] = set()
    first: list[int] = []
    repeats: list[int] = []
    for i, page in enumerate(pages):
        (repeats if page.article_id in seen else first).append(i)
        seen.add(page.article_id)
    return first, repeats


def _bulk_ignoring_races(collection: Collection[Doc], updates: list[UpdateOne]) -> None:
    """Apply guarded article updates; a duplicate-key refusal means a newer version won the race.

    The guard ({version_count < n}) does not match an article already moved on,
    so the upsert tries to insert its _id again and the unique _id says no: our
    version stays in history, the article keeps the newer one.
    """
    if not updates:
        return
    try:
        collection.bulk_write(updates, ordered=False)
    except BulkWriteError as exc:
        _duplicate_key_positions(exc)


def _state_from_version(version: Doc) -> Doc:
    """The article fields that mirror its newest version (articles is derived from versions)."""
    fields = {key: version.get(key) for key in _MIRRORED_FIELDS}
    fields.update(
        version_count=version["version"],
        current_version=version["version"],
        last_changed=version["fetched_at"],
    )
    return fields


_MIRRORED_FIELDS = (
    "url",
    "site",
    "title",
    "text",
    "content_hash",
    "loose_hash",
    "authors",
    "published",
    "modified",
    "language",
)


def _count(article: Doc | None) -> int:
    return int(article.get("version_count", 0)) if article else 0


CurrentView = Callable[[str, tuple[str, ...]], tuple[str, ...]]  # (site, paragraphs) -> paragraphs


def _current_snapshot(article: Doc | None, view: CurrentView | None = None) -> Snapshot | None:
    """The article's newest version as the new fetch is compared with it.

    `view` takes out of the stored text what is now known not to be the article
    (its site's chrome, learned after the version was stored).
    """
    if not article or not article.get("content_hash"):
        return None
    paragraphs = tuple(article.get("text", "").split("\n"))
    seen = view(article.get("site", ""), paragraphs) if view else paragraphs
    if len(seen) != len(paragraphs):
        return Snapshot.of(article.get("title", ""), seen)
    return Snapshot(
        title=article.get("title", ""),
        paragraphs=paragraphs,
        content_hash=article["content_hash"],
        loose_hash=article.get("loose_hash", ""),
    )


def database_name() -> str:
    import os

    return os.environ.get("CRAWLER_DB") or "news"


def open_database(uri: str | None = None) -> Database[Doc]:
    """The database named by CRAWLER_DB on the server named by MONGODB_URI."""
    import os

    target = uri or os.environ.get("MONGODB_URI")
    if not target:
        raise RuntimeError(
            "MONGODB_URI is not set (the newscrawl command starts an embedded server for you)"
        )
    timeout_ms = int(os.environ.get("CRAWLER_MONGO_TIMEOUT_MS", "5000"))
    return connect(target, database_name(), timeout_ms=timeout_ms)
