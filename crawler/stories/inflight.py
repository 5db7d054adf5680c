"""Placement without a global lock: batches in flight see each other and wait only for their own story.

The race placement must survive: two crawls meet copies of one new wire story
at the same moment; each looks the story up before the other's fingerprint is
written, and each founds a story of its own. A global lock prevented that by
placing one batch at a time across every process and machine; it also made
every crawl wait for every other, whatever they were placing.

Instead each batch registers itself in `placements` before its lookups (its
texts' anchors, body hashes and shingles) and removes itself once its
fingerprints and stories are written. A batch first looks for registered
batches whose texts verify as the same story as one of its own
(crawler.stories.placement, the same test as placement itself) and waits:

- for a matching batch registered before it (smaller `_id`) until that batch is
  gone, marking itself `waiting` meanwhile;
- for a matching batch registered after it until that batch is gone or marks
  itself `waiting` (it will then wait for this one).

Registration comes before the query, so of two racing batches at least one
sees the other; the order of `_id`s decides which goes first, so they never
wait for each other. A batch that stops waiting clears its mark and looks again
before it goes on: a later batch that saw it marked went ahead on the promise
that it would wait. Batches of unrelated stories never wait at all.

A registration expires (`expires_at`, renewed on every poll while waiting) so a
crawl that died mid-batch holds nobody up for long; one whose process is gone on
this machine is ignored at once. Expiry is judged by the placing crawl's clock (the
`now` it places at, moved on by the time spent waiting), not this machine's wall clock:
a crawl run with a stepped or skewed clock sees the registrations of crawls that share
its clock as they are.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo.database import Database

from crawler.store.leases import holder_is_dead
from crawler.stories.placement import Candidate, Member, verified_matches
from crawler.stories.shingles import pack, unpack
from crawler.types import Doc

log = logging.getLogger(__name__)


EXPIRES_AFTER = timedelta(seconds=120)  # renewed while waiting; a batch takes milliseconds
WAIT_LIMIT_S = 60.0  # then go on anyway, with a warning (a story may split; verify reports it)


@dataclass
class Text:
    """One newcomer of a batch, as the others see it while it is in flight."""

    member: Member
    anchors: list[int]
    body_hash: str


class InFlight:
    """This process's registration of one batch in `placements`; a context manager."""

    def __init__(self, db: Database[Doc], texts: list[Text], now: datetime):
        self.placements = db.placements
        self.started_at, self.started = now, time.monotonic()
        self.texts = texts
        self.anchors = sorted({a for t in texts for a in t.anchors})
        self.bodies = sorted({t.body_hash for t in texts})
        self.id = ObjectId()
        self.waiting = False
        self.waited_s = 0.0

    def __enter__(self) -> InFlight:
        if self.texts:
            self.placements.insert_one(self._document())
            self.settle()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.texts:
            self.placements.delete_one({"_id": self.id})

    def _document(self) -> Doc:
        return {
            "_id": self.id,
            "anchors": self.anchors,
            "bodies": self.bodies,
            "texts": [
                {
                    "article_id": t.member.article_id,
                    "shingles": pack(t.member.hashes or set()),
                    "ledes": t.member.ledes or [],
                    "gallery": bool(t.member.gallery),
                    "body_hash": t.body_hash,
                }
                for t in self.texts
            ],
            "waiting": False,
            "expires_at": self.now() + EXPIRES_AFTER,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def now(self) -> datetime:
        """The placing crawl's time: its `now`, plus the seconds this batch has spent since."""
        return self.started_at + timedelta(seconds=time.monotonic() - self.started)

    def settle(self) -> None:
        """Return once no batch that places a copy of one of our stories must go first."""
        started = time.monotonic()
        pause = 0.005
        while True:
            blockers = self._blockers()
            if not blockers:
                if not self.waiting:
                    break
                self._mark(False)  # look once more, unmarked: see the module docstring
                continue
            if any(b < self.id for b in blockers) and not self.waiting:
                self._mark(True)
            self.waited_s = time.monotonic() - started
            if self.waited_s > WAIT_LIMIT_S:
                log.warning(
                    "placing %d texts: batches %s still in flight after %.0f s; going on",
                    len(self.texts),
                    ", ".join(str(b) for b in blockers),
                    self.waited_s,
                )
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
            self._renew()
        if self.waiting:
            self._mark(False)

    def _blockers(self) -> list[ObjectId]:
        """Batches in flight that place one of our stories and must go before us."""
        cursor = self.placements.find(
            {
                "_id": {"$ne": self.id},
                "expires_at": {"$gt": self.now()},
                "$or": [{"anchors": {"$in": self.anchors}}, {"bodies": {"$in": self.bodies}}],
            },
            {"texts": 1, "waiting": 1, "host": 1, "pid": 1},
        )
        blockers = []
        for other in cursor:
            if holder_is_dead(other):
                self.placements.delete_one({"_id": other["_id"]})
                continue
            if other["_id"] > self.id and other.get("waiting"):
                continue  # it waits for us (or will look again before it goes on)
            if self._same_story(other):
                blockers.append(other["_id"])
        return blockers

    def _same_story(self, other: Doc) -> bool:
        theirs = {
            t["article_id"]: Candidate(
                t["article_id"],
                None,
                unpack(t["shingles"]),
                ledes=list(t.get("ledes") or []),
                body_hash=t.get("body_hash", ""),
                gallery=bool(t.get("gallery")),
            )
            for t in other.get("texts", [])
        }
        bodies = {c.body_hash for c in theirs.values()}
        for text in self.texts:
            if text.body_hash in bodies or verified_matches(text.member, text.anchors, theirs):
                return True
        return False

    def _mark(self, waiting: bool) -> None:
        self.placements.update_one(
            {"_id": self.id},
            {"$set": {"waiting": waiting, "expires_at": self.now() + EXPIRES_AFTER}},
        )
        self.waiting = waiting

    def _renew(self) -> None:
        self.placements.update_one(
            {"_id": self.id}, {"$set": {"expires_at": self.now() + EXPIRES_AFTER}}
        )
