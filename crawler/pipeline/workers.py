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
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from crawler import env

T = TypeVar("T")
R = TypeVar("R")

PARENT_CHECK_S = 2.0


def default_workers() -> int:
    """One worker per core: the crawling process mostly waits on the network and the store."""
    configured = env.get("NEWSCRAWL_EXTRACT_WORKERS")
    if configured is not None:
        return max(0, int(configured))
    return os.cpu_count() or 1


def workers_setting(settings: Any) -> int:
    """The number of workers Scrapy's settings ask for (NEWSCRAWL_EXTRACT_WORKERS; unset or
    negative: `default_workers()`)."""
    count = int(settings.getint("NEWSCRAWL_EXTRACT_WORKERS", -1))
    return count if count >= 0 else default_workers()


# pymongo imports its pyOpenSSL context whenever pyOpenSSL is installed (Scrapy requires it),
# and with it cryptography's x509, service_identity and requests, for OCSP on TLS
# connections: ~0.13 CPU-s, in a worker started afresh by every crawl.
NEVER_IN_A_WORKER = ("pymongo.pyopenssl_context",)


def _start_worker(parent: int) -> None:
    """Load the extraction code once, and watch the parent.

    A worker never connects to MongoDB: it imports the store's modules for the page types
    only. So pymongo's pyOpenSSL context is marked absent before pymongo loads, and pymongo
    takes its documented path for a machine without pyOpenSSL (the standard library's ssl).
    """
    for name in NEVER_IN_A_WORKER:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # import raises ImportError
    import crawler.pipeline.processing  # noqa: F401  (trafilatura and lxml loaded once per worker)

    def watch_parent() -> None:
        while True:
            time.sleep(PARENT_CHECK_S)
            if os.getppid() != parent:  # the crawl died and we were handed to init
                os._exit(0)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()


class ExtractionPool:
    """The extraction worker processes of one crawling process, with a lifetime.

    Its owner makes it, hands it to every crawl that extracts pages, and closes it
    (`with ExtractionPool(n) as pool:`), on errors and signals too: `newscrawl crawl`'s
    runner owns one for all the sites it crawls at once, and a crawl Scrapy starts by
    itself (`scrapy crawl`, a Scrapyd job) has its item pipeline own one. Closing waits
    for the workers to exit, so none outlives its owner. The processes start with the
    first page, not when the pool is made. With `workers` 0 pages are extracted in the
    calling process. A worker that dies (killed, out of memory) breaks the executor:
    the page it held fails, and later pages get a fresh one.
    """

    def __init__(self, workers: int):
        self.workers = max(0, workers)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """The worker processes running now (for tests and diagnostics)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return [pid for pid, process in list(processes.items()) if process.is_alive()]

    async def run(self, fn: Callable[[T], R], arg: T) -> R:
        """fn(arg) in a worker (in this process when the pool has none); raises
        BrokenProcessPool when the worker died on it. An executor a worker's death broke
        while no page was in it (killed between pages) is replaced for this page."""
        executor = self._current()
        if executor is None:
            return fn(arg)
        try:
            future: Future[R] = executor.submit(fn, arg)
        except BrokenProcessPool:  # broken before this page: a worker killed between pages
            self._replace(executor)
            executor = self._current()
            assert executor is not None
            future = executor.submit(fn, arg)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._replace(executor)
            raise

    def close(self) -> None:
        """Cancel the pages not started, wait for the workers to exit; idempotent."""
        with self._lock:
            executor, self._executor, self._closed = self._executor, None, True
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _current(self) -> ProcessPoolExecutor | None:
        if self.workers == 0:
            return None
        with self._lock:
            if self._closed:
                raise RuntimeError("the extraction pool is closed")
            if self._executor is None:
                self._executor = self._new_executor()
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None  # the next page starts a fresh executor
        broken.shutdown(wait=False, cancel_futures=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )


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
