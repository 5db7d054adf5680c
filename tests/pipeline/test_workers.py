"""The extraction pool has a lifetime: its owner closes it, and no worker outlives that."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from crawler.pipeline.workers import ExtractionPool


def worker_pid(_: object) -> int:
    return os.getpid()


def die(_: object) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def alive(pids: list[int]) -> list[int]:
    children = {child.pid for child in multiprocessing.active_children()}
    return [pid for pid in pids if pid in children]


def test_pages_are_extracted_in_worker_processes_that_end_with_the_pool():
    with ExtractionPool(2) as pool:
        seen = asyncio.run(pool.run(worker_pid, None))
        workers = pool.pids()
        assert seen != os.getpid() and seen in workers
        assert alive(workers) == workers
    assert pool.closed and alive(workers) == []


def test_an_error_in_the_owner_still_ends_the_workers():
    with pytest.raises(RuntimeError, match="the crawl failed"), ExtractionPool(1) as pool:
        asyncio.run(pool.run(worker_pid, None))
        workers = pool.pids()
        raise RuntimeError("the crawl failed")
    assert workers and alive(workers) == []
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(pool.run(worker_pid, None))


def test_a_worker_that_dies_costs_its_page_and_later_pages_get_a_new_one():
    with ExtractionPool(1) as pool:
        first = asyncio.run(pool.run(worker_pid, None))
        with pytest.raises(BrokenProcessPool):
            asyncio.run(pool.run(die, None))
        second = asyncio.run(pool.run(worker_pid, None))
        assert second != first and second != os.getpid()
        workers = pool.pids()
    assert alive([first, *workers]) == []


def test_no_workers_means_extraction_in_this_process():
    with ExtractionPool(0) as pool:
        assert asyncio.run(pool.run(worker_pid, None)) == os.getpid()
        assert pool.pids() == []


def test_a_worker_killed_while_idle_costs_no_page():
    """A worker killed between pages (the OOM killer, a user's kill) breaks the executor
    with no page in it: the next page gets a fresh executor, instead of every later page
    failing on the broken one."""
    with ExtractionPool(1) as pool:
        first = asyncio.run(pool.run(worker_pid, None))
        os.kill(first, signal.SIGKILL)
        executor = pool._executor
        assert executor is not None
        for _ in range(200):  # the executor notices the death in its own thread
            if executor._broken:
                break
            time.sleep(0.05)
        assert executor._broken
        second = asyncio.run(pool.run(worker_pid, None))
        assert second not in (first, os.getpid())
        workers = pool.pids()
    assert alive([first, *workers]) == []


def tls_modules_loaded(_: object) -> list[str]:
    names = ("OpenSSL", "pymongo.pyopenssl_context", "requests")
    return sorted(name for name in names if sys.modules.get(name) is not None)


def test_a_worker_extracts_pages_without_loading_the_tls_stack_it_never_uses(monkeypatch):
    """A worker imports the store's modules but never connects to MongoDB: pymongo's
    pyOpenSSL context (cryptography, service_identity, requests) is not loaded there, even
    when the crawl's MONGODB_URI asks for TLS (crawler.env.skip_unused_mongodb_tls loads it
    then, for the crawling process)."""
    from crawler.pipeline.processing import prepare
    from tests.pipeline.test_nothing_lost import fetched

    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:9/?tls=true")  # the worker's too
    with ExtractionPool(1) as pool:
        prepared = asyncio.run(pool.run(prepare, fetched()))
        loaded = asyncio.run(pool.run(tls_modules_loaded, None))
    assert prepared.title == "Council passes budget" and prepared.page is not None
    assert prepared.page.shingles and prepared.page.raw_zstd  # the worker's whole share
    assert loaded == []
