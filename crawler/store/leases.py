"""Who holds which site now: the reads of the `leases` collection (taken and renewed by
crawler.run.lease). The one definition of "running now", shared by the run, the store's
checks, story placement and inspection."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

from pymongo.database import Database

from crawler.store.embedded import pid_alive
from crawler.types import Doc


def server_now(db: Database[Doc]) -> datetime:
    """The MongoDB server's time (its `hello` reply's localTime), timezone-aware UTC."""
    now = db.command("hello")["localTime"]
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def holder_is_dead(lease: Doc) -> bool:
    """A lease held by a process of this machine that no longer exists."""
    pid = lease.get("pid")
    if lease.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    return not pid_alive(pid)


def running_crawls(db: Database[Doc]) -> dict[str, Doc]:
    """Sites with a live lease: unexpired by the server's clock and not held by a dead
    process of this machine."""
    leases = db.leases.find({"expires_at": {"$gt": server_now(db)}})
    return {doc["_id"]: doc for doc in leases if not holder_is_dead(doc)}
