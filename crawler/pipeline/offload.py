"""The crawl's doorway to MongoDB: blocking store calls run off the reactor thread.

Scrapy runs every callback on one event loop; a synchronous pymongo call made
there stops all fetching until it returns, and during an outage that is the
driver's server-selection timeout (seconds) per call. Every call a crawl makes
to the store from the loop goes through `StoreCalls` instead: it runs in a
small pool of threads of its own and the loop awaits it.

Why threads and not pymongo's AsyncMongoClient: every stage (article store,
story index, site chrome, ledger, lease, repair, journal replay) is plain
synchronous pymongo that the command line, the service, the replay and the
tests call directly. An async client would split each of them in two. The
crawl's own calls are few (a handful per source, one per hundred feed entries,
one per fetch-log batch) and article writes already run in the batch writer's
thread, so one doorway is all the loop needs.

Why its own pool, not Twisted's: Scrapy resolves host names in the reactor's
thread pool, and store calls stuck in an outage must not starve DNS.

A breaker keeps an outage cheap: after a call fails with a connection error
the store counts as down for `backoff`, and best-effort calls made meanwhile
return their default at once, without waiting for a timeout each. Article
pages are not best effort: the pipeline journals them (crawler.pipeline.journal).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pymongo.errors import ConnectionFailure, PyMongoError

from crawler.clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")
STORE_THREADS = 4
OUTAGE_BACKOFF = timedelta(seconds=20)


class StoreCalls:
    """Runs blocking store calls in threads for an event loop, with an outage breaker."""

    def __init__(
        self,
        clock: Clock,
        threads: int = STORE_THREADS,
        backoff: timedelta = OUTAGE_BACKOFF,
    ):
        self.backoff = backoff
        self.clock = clock
        self.down_until: datetime | None = None
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="newscrawl-store")
        self._background: set[Future[Any]] = set()
        self._lock = threading.Lock()

    # -- the breaker ------------------------------------------------------------------

    def is_down(self) -> bool:
        return self.down_until is not None and self.clock() < self.down_until

    def mark_down(self) -> None:
        self.down_until = self.clock() + self.backoff

    def mark_up(self) -> None:
        self.down_until = None

    # -- calls ------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """The call's result; its exception is raised (a connection error trips the breaker)."""
        future = self._submit(fn, *args, **kwargs)
        return await asyncio.wrap_future(future)

    async def best_effort(
        self, fn: Callable[..., T], *args: Any, default: Any = None, **kwargs: Any
    ) -> T | Any:
        """Bookkeeping that must not stop the crawl: `default` while MongoDB is away."""
        if self.is_down():
            return default
        try:
            return await self.run(fn, *args, **kwargs)
        except PyMongoError as exc:
            log.warning("MongoDB unavailable for %s: %s", _name(fn), exc.__class__.__name__)
            return default

    def later(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Best-effort bookkeeping the loop need not wait for: started now, awaited by drain();
        skipped (False) while MongoDB is away, logged when it fails."""
        if self.is_down():
            return False
        future = self._submit(fn, *args, **kwargs)
        with self._lock:
            self._background.add(future)
        future.add_done_callback(self._later_done)
        return True

    def _later_done(self, future: Future[Any]) -> None:
        with self._lock:
            self._background.discard(future)
        exc = future.exception()
        if exc is not None:
            log.warning("MongoDB unavailable for a background call: %s", exc.__class__.__name__)

    def _submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        def call() -> T:
            try:
                result = fn(*args, **kwargs)
            except ConnectionFailure:
                self.mark_down()
                raise
            return result

        return self._executor.submit(call)

    async def drain(self) -> None:
        """Wait for the calls later() started."""
        with self._lock:
            pending = list(self._background)
        for future in pending:
            try:
                await asyncio.wrap_future(future)
            except Exception:  # logged by _later_done
                pass

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
