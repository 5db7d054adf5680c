"""The crawl ledger: why each URL was fetched or skipped, per-source state, and crawl runs.

Every branch a crawl takes is counted under a name (`fetch/new`, `skip/robots`,
`source/not-modified`, …) in Scrapy's own stats collector, `crawler.stats`, as
`newscrawl/<name>` beside Scrapy's `downloader/*` and `robotstxt/*` (outside a crawl,
in a collector of Scrapy's own class: `outside_stats`); the fetch log is written to MongoDB in batches,
and the run document, written when the crawl ends, carries the counters
(`counters`, without the prefix) and Scrapy's numbers (`scrapy_stats`): the
summary users read with `newscrawl runs`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import bson
from bson import ObjectId
from bson.errors import InvalidDocument
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import PyMongoError

from crawler.crawl.figures import SUMMARY_KEYS
from crawler.store.reads import in_batches
from crawler.store.writes import insert_new
from crawler.types import Doc

if TYPE_CHECKING:  # Scrapy is imported when a collector is made, not by every reader of runs
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

log = logging.getLogger(__name__)

FETCH_BATCH = 200  # fetch records per insert (and per journal line)
SKIP_SAMPLE = 20  # URLs kept as examples in a line of skipped entries
UNCONDITIONAL_CHECK_EVERY = timedelta(hours=24)

# Outcomes of an article page that reached the store (a version, or a recorded fetch).
STORED_OUTCOMES = {"new", "changed", "unchanged", "cosmetic", "reverted", "degraded"}
# The accounting of article pages: every page the spider hands to the pipeline
# ends in exactly one of stored / error / spooled, or the run is not "ok".
ARTICLE_FETCHED = "article/fetched"
ARTICLE_STORED = "article/stored"
ARTICLE_ERROR = "article/error"
ARTICLE_SPOOLED = "article/spooled"
PIPELINE_MISSING = "pipeline-missing"  # the spider's close reason when nothing could be stored
JOURNAL_UNWRITABLE = "journal/unwritable"  # pages or records neither stored nor journalled
MEMORY_EXCEEDED = "memusage_exceeded"  # Scrapy's MemoryUsage closed the crawl (MEMUSAGE_LIMIT_MB)
MAX_PENDING_FETCHES = 100_000  # held in memory while MongoDB is away, then spilled


def new_run_id(site: str, now: datetime) -> str:
    return f"{site}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


STATS_PREFIX = "newscrawl/"


def outside_stats() -> StatsCollector:
    """Scrapy's own stats collector, for what is counted before a crawl's collector exists
    (Scrapy makes the spider, and so its ledger, before it makes `crawler.stats`) or outside
    any crawl (tests, tools). Its constructor reads one thing of its crawler, the
    STATS_DUMP setting: it is given a crawler's settings and no spider, not a Crawler
    (making one re-installs Scrapy's root log handler with default settings mid-crawl)."""
    from scrapy.settings import Settings
    from scrapy.statscollectors import StatsCollector

    crawler = SimpleNamespace(settings=Settings({"STATS_DUMP": False}), spider=None)
    return StatsCollector(cast("Crawler", crawler))


class RunLedger:
    """Counters and fetch records of one crawl of one site."""

    def __init__(
        self,
        db: Database[Doc],
        site: str,
        run_id: str,
        trigger: str,
        now: datetime,
        spill: Any = None,
        stats: StatsCollector | None = None,
    ):
        self.db = db
        self.site = site
        self.run_id = run_id
        self.trigger = trigger
        self.started_at = now
        # the crawl's Scrapy stats once it has them (use_stats); Scrapy's collector until then
        self.stats: StatsCollector = stats or outside_stats()
        self._pending: list[Doc] = []
        self._pending_lock = threading.Lock()  # records come from the loop, flushes from threads
        self._flush_queued = False
        # how a full batch of fetch records is written: inline by default; a crawl hands
        # it to a thread (crawler.pipeline.offload.StoreCalls.later), off Scrapy's event loop
        self.flush_with: Callable[..., bool] | None = None
        # where fetch records and the run's end go when MongoDB cannot take them:
        # a crawler.pipeline.journal.Journal (records are replayed with the pages)
        self.spill = spill
        # the site's configured sources and how each last ended (crawler.run.outcomes)
        self.watched: frozenset[str] = frozenset()
        self.source_last: dict[str, tuple[str, str]] = {}

    def watch_sources(self, urls: list[str]) -> None:
        """Remember how each of these (the configured sources) ends: a crawl whose every
        source failed is judged `failed` (crawler.run.outcomes)."""
        self.watched = frozenset(urls)

    def use_stats(self, stats: StatsCollector) -> None:
        """Count in a crawl's Scrapy stats from now on (what was counted before moves too)."""
        for key, value in self.stats.get_stats().items():
            stats.inc_value(key, value)
        self.stats = stats

    def count(self, key: str, n: int = 1) -> None:
        self.stats.inc_value(STATS_PREFIX + key, n)

    @property
    def counters(self) -> Counter[str]:
        """This crawl's counters, by their names without the stats prefix."""
        return Counter(
            {
                key[len(STATS_PREFIX) :]: int(value)
                for key, value in self.stats.get_stats().items()
                if key.startswith(STATS_PREFIX) and isinstance(value, int)
            }
        )

    def scrapy_numbers(self) -> Doc:
        """Scrapy's own numeric stats (downloader/*, robotstxt/*, …), stored with the run."""
        return {
            key.replace(".", "_").lstrip("$"): value
            for key, value in sorted(self.stats.get_stats().items())
            if not key.startswith(STATS_PREFIX)
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        }

    def start(self) -> None:
        """Create the run record (idempotent: the runner and the spider may both call it).

        A run a dispatcher queued on a Scrapyd node (crawler.service.dispatch) already has a
        record, naming its node and job: it becomes `running` here, in the job."""
        here = {"host": socket.gethostname(), "pid": os.getpid()}
        self.db.crawl_runs.update_one(
            {"_id": self.run_id},
            {
                "$setOnInsert": {
                    "site": self.site,
                    "trigger": self.trigger,
                    "started_at": self.started_at,
                    "finished_at": None,
                    "outcome": "running",
                    "counters": {},
                    **here,
                }
            },
            upsert=True,
        )
        self.db.crawl_runs.update_one(
            {"_id": self.run_id, "outcome": "queued"},
            {"$set": {"outcome": "running", "started_at": self.started_at, **here}},
        )

    def _identity(self) -> Doc:
        return {"site": self.site, "trigger": self.trigger, "started_at": self.started_at}

    def record(self, url: str, at: datetime, reason: str, outcome: str, **details: Any) -> None:
        """One line of the fetch log. `outcome` is new/unchanged/cosmetic/changed/degraded/
        reverted/error/skipped/not-modified; `reason` says why it was fetched or skipped."""
        if url in self.watched:
            self.source_last[url] = (outcome, str(details.get("detail") or ""))
        self.count(_summary_key(outcome))
        self.count(
            f"{'skip' if outcome == 'skipped' else 'fetch'}/{reason if outcome == 'skipped' else outcome}"
        )
        if outcome not in ("skipped",):
            self.count("pages")
        doc = {
            "_id": ObjectId(),  # fixed here, so a retried insert cannot store the line twice
            "url": url,
            "site": self.site,
            "run_id": self.run_id,
            "at": at,
            "reason": reason,
            "outcome": outcome,
        }
        doc.update({k: v for k, v in details.items() if v is not None})
        with self._pending_lock:
            self._pending.append(doc)
            full = len(self._pending) >= FETCH_BATCH and not self._flush_queued
            if full and self.flush_with is not None:
                self._flush_queued = True
        if not full:
            return
        if self.flush_with is None:
            self.flush()
        elif not self.flush_with(self._queued_flush):
            self._flush_queued = False  # not started (MongoDB away): the next full batch tries

    def _queued_flush(self) -> None:
        try:
            self.flush()
        finally:
            self._flush_queued = False

    def record_skipped(
        self,
        source: str,
        at: datetime,
        reason: str,
        count: int,
        sample: list[str],
        **details: Any,
    ) -> None:
        """Entries of one source skipped for one reason, as one line of the fetch log:
        `count` of them, `sample` (a few URLs) as examples. A 50,000-entry sitemap costs
        a line per reason, not 50,000; the run's counters still count every entry."""
        if count <= 0:
            return
        self.count("skipped", count)
        self.count(f"skip/{reason}", count)
        doc = {
            "_id": ObjectId(),
            "url": source,
            "site": self.site,
            "run_id": self.run_id,
            "at": at,
            "reason": reason,
            "outcome": "skipped",
            "source": source,
            "count": count,
            "sample": sample[:SKIP_SAMPLE],
        }
        doc.update({k: v for k, v in details.items() if v is not None})
        with self._pending_lock:
            self._pending.append(doc)

    def flush(self, final: bool = False) -> None:
        """Write the pending fetch records, FETCH_BATCH at a time so no single insert is
        big enough to time out. While MongoDB is away they are kept and tried again at
        the next flush; at the end of the run (`final`) or past MAX_PENDING_FETCHES they
        go to the journal, which replays them on the next start."""
        with self._pending_lock:
            batch, self._pending = self._pending, []
        while batch:
            chunk = batch[:FETCH_BATCH]
            try:
                self._insert(chunk)
            except PyMongoError as exc:
                self._keep_or_spill(batch, final, exc)
                return
            batch = batch[FETCH_BATCH:]

    def _insert(self, chunk: list[Doc]) -> None:
        try:
            insert_new(self.db.fetches, chunk)  # refused ids: written by an earlier try
        except (InvalidDocument, OverflowError):  # a value BSON cannot hold: say it in text
            insert_new(self.db.fetches, [_encodable(doc) for doc in chunk])

    def _keep_or_spill(self, batch: list[Doc], final: bool, exc: Exception) -> None:
        with self._pending_lock:
            self._pending = batch + self._pending
            spill = final or len(self._pending) >= MAX_PENDING_FETCHES
            if spill:
                batch, self._pending = self._pending, []
        if spill:
            self._spill(batch, exc)
        else:
            log.warning("fetch log: %d records wait for MongoDB (%s)", len(batch), exc)

    def _spill(self, records: list[Doc], exc: Exception) -> None:
        """Records MongoDB did not take, to the journal, FETCH_BATCH to a line (so a replay
        writes them in bounded steps too). When the journal cannot take them either
        (a full or unwritable disk), the URLs are named in the error log and counted
        under `journal/unwritable`: the run cannot end `ok`."""
        if self.spill is None:
            log.error("MongoDB unavailable (%s): %d fetch records lost", exc, len(records))
            return
        journalled = 0
        for chunk in in_batches(records, FETCH_BATCH):
            try:
                self.spill.append_records("fetches", chunk)
                journalled += len(chunk)
            except OSError as error:
                self.count(JOURNAL_UNWRITABLE, len(chunk))
                log.error(
                    "MongoDB unavailable and the journal cannot be written (%s): "
                    "%d fetch records lost: %s",
                    error,
                    len(chunk),
                    " ".join(str(doc.get("url"))[:300] for doc in chunk),
                )
        if journalled:
            log.warning("MongoDB unavailable: %d fetch records journalled", journalled)

    def article_counts(self) -> dict[str, int]:
        """Article pages handed to the pipeline, and how each ended."""
        keys = (ARTICLE_FETCHED, ARTICLE_STORED, ARTICLE_ERROR, ARTICLE_SPOOLED)
        counters = self.counters
        return {key.split("/", 1)[1]: int(counters.get(key, 0)) for key in keys}

    def unaccounted_pages(self) -> int:
        """Fetched article pages that ended in no store outcome, error or journal entry."""
        counts = self.article_counts()
        return counts["fetched"] - counts["stored"] - counts["error"] - counts["spooled"]

    def summary(self) -> dict[str, int]:
        """The run's figures (crawler.crawl.figures), as `crawl_runs.summary` keeps them."""
        counters = self.counters
        return {key: int(counters.get(key, 0)) for key in SUMMARY_KEYS}

    def finish(
        self,
        outcome: str,
        now: datetime,
        error: str | None = None,
        stages: dict[str, float] | None = None,
        extra: Doc | None = None,
    ) -> Doc:
        """Record the run's end; journalled for the next start when MongoDB is away."""
        self.flush(final=True)
        fields = {
            "finished_at": now,
            "outcome": outcome,
            "summary": self.summary(),
            "counters": dict(sorted(self.counters.items())),
            "scrapy_stats": self.scrapy_numbers(),
            "duration_s": round((now - self.started_at).total_seconds(), 3),
        }
        if error:
            fields["error"] = error
        if stages:
            fields["stages"] = stages
        fields.update(extra or {})
        try:
            # upserted: a crawl closed before its start was recorded (Scrapy's memory check
            # runs as the engine starts) still leaves its run on record
            self.db.crawl_runs.update_one(
                {"_id": self.run_id},
                {"$set": fields, "$setOnInsert": self._identity()},
                upsert=True,
            )
        except PyMongoError:
            if self.spill is None:
                raise
            self.spill.append_records("run", [{"_id": self.run_id, **fields}])
            log.warning("MongoDB unavailable: the end of run %s is journalled", self.run_id)
        return fields


def memory_exceeded_error(ledger: RunLedger) -> str:
    """Why a crawl Scrapy's MemoryUsage extension stopped is an error, in figures."""
    peak = ledger.stats.get_value("memusage/max") or 0
    return (
        f"memory limit exceeded: the crawl process reached {peak / 2**20:.0f} MB, over "
        "MEMUSAGE_LIMIT_MB (crawler/settings.py); the crawl was stopped"
    )


def _encodable(doc: Doc) -> Doc:
    """The fetch record with every value BSON cannot store replaced by its repr."""
    try:
        bson.encode(doc)
        return doc
    except (InvalidDocument, OverflowError):
        pass
    clean: Doc = {}
    for key, value in doc.items():
        try:
            bson.encode({"v": value})
            clean[key] = value
        except (InvalidDocument, OverflowError):
            clean[key] = repr(value)[:500]
    return clean


def _summary_key(outcome: str) -> str:
    return {"error": "errors", "not-modified": "unchanged"}.get(outcome, outcome)


@dataclass
class SourceState:
    """What we remember of a feed, sitemap or listing between crawls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    validators_trusted: bool = True
    last_unconditional: datetime | None = None
    last_fetched: datetime | None = None

    def conditional_headers(self, now: datetime, force: bool = False) -> dict[str, str]:
        """Validators to send, or none when they cannot be trusted or a full check is due."""
        if force or not self.validators_trusted:
            return {}
        if (
            self.last_unconditional is None
            or now - self.last_unconditional >= UNCONDITIONAL_CHECK_EVERY
        ):
            return {}
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class SourceStates:
    """The `feeds` collection: one document per feed, sitemap or listing URL."""

    def __init__(self, db: Database[Doc]):
        self.feeds = db.feeds

    def load(self, url: str) -> SourceState:
        return self._state(url, self.feeds.find_one({"_id": url}) or {})

    def load_many(self, urls: list[str]) -> dict[str, SourceState]:
        """The remembered state of each of these sources, in one query."""
        if not urls:
            return {}
        docs = {doc["_id"]: doc for doc in self.feeds.find({"_id": {"$in": sorted(set(urls))}})}
        return {url: self._state(url, docs.get(url, {})) for url in urls}

    @staticmethod
    def _state(url: str, doc: Doc) -> SourceState:
        return SourceState(
            url=url,
            etag=doc.get("etag"),
            last_modified=doc.get("last_modified"),
            content_hash=doc.get("content_hash"),
            validators_trusted=doc.get("validators_trusted", True),
            last_unconditional=doc.get("last_unconditional"),
            last_fetched=doc.get("last_fetched"),
        )

    def not_modified(self, url: str, now: datetime) -> None:
        self.feeds.update_one(
            {"_id": url}, {"$set": {"last_checked": now, "last_status": 304, "failures": 0}}
        )

    def fetched(
        self,
        url: str,
        site: str,
        kind: str,
        now: datetime,
        previous: SourceState,
        etag: str | None,
        last_modified: str | None,
        content_hash: str,
        conditional: bool,
        complete: bool = True,
    ) -> bool:
        """Store a 200 response's validators; return False when they proved untrustworthy:
        same validators as last time, different content.

        `complete` false (some entries were left for a later crawl): record the fetch but
        no validators, content hash or last_fetched, so the next crawl reads it whole
        again instead of being told "not modified"."""
        same_validators = (etag or last_modified) and (etag, last_modified) == (
            previous.etag,
            previous.last_modified,
        )
        lied = bool(
            same_validators and previous.content_hash and previous.content_hash != content_hash
        )
        fields: Doc = {
            "site": site,
            "kind": kind,
            "etag": etag,
            "last_modified": last_modified,
            "content_hash": content_hash,
            "last_checked": now,
            "last_fetched": now,
            "last_status": 200,
            "failures": 0,
            "last_error": None,
        }
        if not conditional:
            fields["last_unconditional"] = now
        if not complete:
            fields.update(etag=None, last_modified=None, content_hash=None)
            del fields["last_fetched"]
        if lied:
            fields["validators_trusted"] = False
            fields["untrusted_since"] = now
            log.warning(
                "%s: validators unchanged but content changed; conditional GET disabled", url
            )
        self.feeds.update_one(
            {"_id": url}, {"$set": fields, "$setOnInsert": {"first_seen": now}}, upsert=True
        )
        return not lied

    def entries_seen(self, url: str, new_entries: int, total: int) -> None:
        self.feeds.update_one(
            {"_id": url}, {"$set": {"last_new_entries": new_entries, "last_entries": total}}
        )

    def failed(self, url: str, site: str, kind: str, now: datetime, error: str) -> None:
        self.feeds.find_one_and_update(
            {"_id": url},
            {
                "$set": {"site": site, "kind": kind, "last_checked": now, "last_error": error},
                "$inc": {"failures": 1},
                "$setOnInsert": {"first_seen": now},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
