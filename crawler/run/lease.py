"""One crawl per site at a time, across the service and manual runs: a lease in MongoDB.

The lease document `leases/{_id: site}` names its holder and expires unless
renewed, so a holder that dies (killed, machine lost) frees the site after
LEASE_TTL without anyone cleaning up.

Time from the database: whether a lease has expired, and when a taken or renewed
lease expires, is judged by the MongoDB server's clock (`server_now`), never the
caller's: a crawl process whose clock runs minutes ahead would otherwise take a
live lease (and stop its crawl as lease-lost), or find other hosts' running
crawls abandoned. Why `hello`'s localTime and not `$$NOW` in the queries: the
embedded server (secantusdb) evaluates `$$NOW` in update pipelines but not inside
`$expr` in a query filter (there it matched an unexpired lease as expired, so a
second holder took it); one read of the server's time, then plain comparisons,
works on both. While MongoDB is out of reach a holder counts its own lease's time
on its monotonic clock, from the last renewal the server confirmed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from crawler import env
from crawler.clock import Clock
from crawler.store.leases import holder_is_dead, server_now
from crawler.types import Doc

LEASE_TTL = timedelta(seconds=90)
RENEW_EVERY_S = 20.0


class LeaseHeld(Exception):
    """Another crawl of this site is running; the message says where."""


class SiteLease:
    """The site's lease, renewed every RENEW_EVERY_S while held.

    A lease is lost when a renewal finds another holder (it expired and was taken)
    or when renewals have failed until its expiry: `on_lost` is then called once,
    from the renewal thread, with the reason, and the crawl must stop, since
    another crawl of the site may start at any moment.

    `clock` (the caller's) is not consulted for expiry: see the module. `monotonic`
    measures the lease's time while the server cannot be asked (tests step it).
    """

    def __init__(
        self,
        db: Database[Doc],
        site: str,
        run_id: str,
        *,
        clock: Clock,
        ttl: timedelta = LEASE_TTL,
        on_lost: Callable[[str], None] | None = None,
        renew_every_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.db = db
        self.leases = db.leases
        self.site = site
        self.run_id = run_id
        self.ttl = ttl
        self.on_lost = on_lost
        self.clock = clock
        self.renew_every_s = renew_every_s or float(
            env.get("NEWSCRAWL_LEASE_RENEW_S") or RENEW_EVERY_S
        )
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.expires_at: datetime | None = None
        self.monotonic = monotonic
        self.confirmed_at: float | None = None  # monotonic time of the last confirmed take/renewal
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the site's lease, or raise LeaseHeld naming the crawl that holds it."""
        try:
            self._take()
        except LeaseHeld:
            current = self.leases.find_one({"_id": self.site}) or {}
            if not holder_is_dead(current):
                raise
            # its holder died on this machine without releasing: no need to wait for expiry
            self.leases.delete_one({"_id": self.site, "holder": current.get("holder")})
            self._take()
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lease-{self.site}", daemon=True
        )
        self._thread.start()

    def _take(self) -> None:
        asked = self.monotonic()
        now = server_now(self.db)
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
            self.confirmed_at = asked
        except DuplicateKeyError:
            current = self.leases.find_one({"_id": self.site}) or {}
            raise LeaseHeld(
                f"site {self.site!r} is already being crawled (run {current.get('run_id')}, "
                f"pid {current.get('pid')} on {current.get('host')}, lease until {current.get('expires_at')})"
            ) from None

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_every_s):
            if not self.renew():
                return

    def renew(self) -> bool:
        """Extend the lease; False (and on_lost called) once it is lost."""
        if self.lost:
            return False
        asked = self.monotonic()
        try:
            now = server_now(self.db)
            result = self.leases.update_one(
                {"_id": self.site, "holder": self.holder, "expires_at": {"$gt": now}},
                {"$set": {"expires_at": now + self.ttl}},
            )
        except PyMongoError as exc:
            held_s = asked - self.confirmed_at if self.confirmed_at is not None else None
            if held_s is not None and held_s < self.ttl.total_seconds():
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
        self.confirmed_at = asked
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
