"""One crawl per site at a time, across the service and manual runs: a lease in MongoDB.

The lease document `leases/{_id: site}` names its holder and expires unless
renewed, so a holder that dies (killed, machine lost) frees the site after
LEASE_TTL without anyone cleaning up.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from crawler.clock import utcnow

LEASE_TTL = timedelta(seconds=90)
RENEW_EVERY_S = 20.0

Doc = dict[str, Any]


class LeaseHeld(Exception):
    """Another crawl of this site is running; the message says where."""


class SiteLease:
    """The site's lease, renewed every RENEW_EVERY_S while held.

    A lease is lost when a renewal finds another holder (it expired and was taken)
    or when renewals have failed until its expiry: `on_lost` is then called once,
    from the renewal thread, with the reason, and the crawl must stop, since
    another crawl of the site may start at any moment.
    """

    def __init__(
        self,
        db: Database[Doc],
        site: str,
        run_id: str,
        ttl: timedelta = LEASE_TTL,
        on_lost: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        renew_every_s: float | None = None,
    ):
        self.leases = db.leases
        self.site = site
        self.run_id = run_id
        self.ttl = ttl
        self.on_lost = on_lost
        self.clock = clock
        self.renew_every_s = renew_every_s or float(
            os.environ.get("NEWSCRAWL_LEASE_RENEW_S", RENEW_EVERY_S)
        )
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.expires_at: datetime | None = None
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, now: datetime | None = None) -> None:
        now = now or self.clock()
        try:
            self._take(now)
        except LeaseHeld:
            current = self.leases.find_one({"_id": self.site}) or {}
            if not holder_is_dead(current):
                raise
            # its holder died on this machine without releasing: no need to wait for expiry
            self.leases.delete_one({"_id": self.site, "holder": current.get("holder")})
            self._take(now)
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lease-{self.site}", daemon=True
        )
        self._thread.start()

    def _take(self, now: datetime) -> None:
        fields: Doc = {
            "holder": self.holder,
            "run_id": self.run_id,
            "acquired_at": now,
            "expires_at": now + self.ttl,
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        try:
            self.leases.find_one_and_update(
                {"_id": self.site, "$or": [{"expires_at": {"$lte": now}}, {"holder": self.holder}]},
                {"$set": fields},
                upsert=True,
            )
            self.expires_at = fields["expires_at"]
        except DuplicateKeyError:
            current = self.leases.find_one({"_id": self.site}) or {}
            raise LeaseHeld(
                f"site {self.site!r} is already being crawled (run {current.get('run_id')}, "
                f"pid {current.get('pid')} on {current.get('host')}, lease until {current.get('expires_at')})"
            ) from None

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_every_s):
            if not self.renew(self.clock()):
                return

    def renew(self, now: datetime) -> bool:
        """Extend the lease; False (and on_lost called) once it is lost."""
        if self.lost:
            return False
        try:
            result = self.leases.update_one(
                {"_id": self.site, "holder": self.holder, "expires_at": {"$gt": now}},
                {"$set": {"expires_at": now + self.ttl}},
            )
        except PyMongoError as exc:
            if self.expires_at is not None and now < self.expires_at:
                return True  # MongoDB is away; the lease still holds until it expires
            return self._lose(
                f"lease expired while MongoDB was unreachable ({exc.__class__.__name__})"
            )
        if result.matched_count == 0:
            current = self.leases.find_one({"_id": self.site}) or {}
            return self._lose(
                f"lease of {self.site!r} lost: now held by run {current.get('run_id')}"
                if current
                else f"lease of {self.site!r} lost: it expired and was removed"
            )
        self.expires_at = now + self.ttl
        return True

    def _lose(self, reason: str) -> bool:
        self.lost = reason
        if self.on_lost is not None:
            self.on_lost(reason)
        return False

    def release(self) -> None:
        self._stop.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            self.leases.delete_one({"_id": self.site, "holder": self.holder})
        except PyMongoError:
            pass  # expires on its own

    def __enter__(self) -> SiteLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_is_dead(lease: Doc) -> bool:
    """A lease held by a process of this machine that no longer exists."""
    pid = lease.get("pid")
    if lease.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    from crawler.embedded import pid_alive

    return not pid_alive(pid)


def running_crawls(db: Database[Doc], now: datetime | None = None) -> dict[str, Doc]:
    """Sites with a live lease: unexpired and not held by a dead process of this machine."""
    now = now or utcnow()
    leases = db.leases.find({"expires_at": {"$gt": now}})
    return {doc["_id"]: doc for doc in leases if not holder_is_dead(doc)}
