"""Extraction off the crawling process: a pool of worker processes, and group-committed writes.

Why processes: extraction is CPU-bound Python (lxml trees, trafilatura's
heuristics), so threads would share one core under the GIL, and the fetching
loop needs CPU too. Workers are spawned, never forked from the crawling
process, whose threads (Twisted's, pymongo's monitors) must not be copied
mid-flight; and each watches its parent, so a crawl that is killed (the
service's time limit, an OOM kill) leaves no worker behind.

Why group commit: on a store where every round trip costs about a
millisecond, writing pages one at a time spends more than extraction does.
Pages that come back from the workers while a batch is being written wait and
go together in the next one. Pages also linger a moment (`linger_s`, like
Kafka's linger.ms) before an idle writer sends them, so that a crawl whose
pages trickle in at the extraction rate still writes batches of a dozen or
more: measured on secantusdb, a batch costs about eleven round trips whatever
its size, and without the linger batches held two pages on average.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from crawler import env

T = TypeVar("T")
R = TypeVar("R")

_pool_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_users = 0
_pool_workers = 0
PARENT_CHECK_S = 2.0


def default_workers() -> int:
    """One worker per core: the crawling process mostly waits on the network and the store."""
    configured = env.get("NEWSCRAWL_EXTRACT_WORKERS")
    if configured is not None:
        return max(0, int(configured))
    return os.cpu_count() or 1


def _start_worker(parent: int) -> None:
    import crawler.pipeline.processing  # noqa: F401  (trafilatura and lxml loaded once per worker)

    def watch_parent() -> None:
        while True:
            time.sleep(PARENT_CHECK_S)
            if os.getppid() != parent:  # the crawl died and we were handed to init
                os._exit(0)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()


def acquire_pool(workers: int) -> ProcessPoolExecutor | None:
    """The process's shared extraction pool (one for all the crawls it runs); None: in-process."""
    global _pool, _pool_users, _pool_workers
    if workers <= 0:
        return None
    with _pool_lock:
        if _pool is None:
            _pool, _pool_workers = _new_pool(workers), workers
        _pool_users += 1
        return _pool


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )


def release_pool() -> None:
    global _pool, _pool_users
    with _pool_lock:
        _pool_users = max(0, _pool_users - 1)
        if _pool_users == 0 and _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


def replace_broken_pool(broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
    """A worker died (killed, out of memory): later pages get a fresh pool."""
    global _pool
    with _pool_lock:
        if _pool is broken or _pool is None:
            _pool = _new_pool(_pool_workers or default_workers() or 1)
        return _pool


async def run_in_pool(pool: ProcessPoolExecutor | None, fn: Callable[[T], R], arg: T) -> R:
    if pool is None:
        return fn(arg)
    future: Future[R] = pool.submit(fn, arg)
    return await asyncio.wrap_future(future)


class BatchWriter(Generic[T, R]):
    """Group commit: submit() one item, get its result once the batch holding it is written.

    `write_batch` runs in a thread (it blocks on the database) and returns one
    result per item, in order; if it raises, every item of that batch gets the
    exception. One batch is written at a time. A batch is sent when it is full,
    or `linger_s` after its oldest item arrived, whichever comes first.
    """

    def __init__(
        self,
        write_batch: Callable[[list[T]], list[R]],
        max_batch: int = 64,
        linger_s: float = 0.0,
    ):
        self.write_batch = write_batch
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._pending: list[tuple[T, asyncio.Future[R], float]] = []  # item, result, arrival
        self._full = asyncio.Event()
        self._writing = False

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future, loop.time()))
        if len(self._pending) >= self.max_batch:
            self._full.set()
        if not self._writing:
            self._writing = True
            asyncio.ensure_future(self._drain())
        return await future

    async def _linger(self) -> None:
        """Wait for the batch to fill, at most until its oldest item has waited linger_s."""
        if self.linger_s <= 0 or len(self._pending) >= self.max_batch:
            return
        remaining = self._pending[0][2] + self.linger_s - asyncio.get_running_loop().time()
        if remaining <= 0:
            return
        self._full.clear()
        try:
            await asyncio.wait_for(self._full.wait(), remaining)
        except asyncio.TimeoutError:
            pass

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._linger()
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                items = [item for item, _, _ in batch]
                try:
                    results: list[Any] = await asyncio.to_thread(self.write_batch, items)
                except Exception as exc:  # each page decides what a failure means for it
                    for _, future, _ in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future, _), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writing = False
