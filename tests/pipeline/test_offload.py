"""The crawl's doorway to MongoDB: calls run off the event loop, and an outage costs no waits."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from pymongo.errors import AutoReconnect, OperationFailure

from crawler.clock import SteppedClock
from crawler.pipeline.offload import StoreCalls


def test_calls_run_in_the_store_threads_not_on_the_loop():
    calls = StoreCalls(clock=SteppedClock())

    async def crawl() -> str:
        return await calls.run(lambda: threading.current_thread().name)

    try:
        assert asyncio.run(crawl()).startswith("newscrawl-store")
    finally:
        calls.close()


def test_a_connection_failure_skips_bookkeeping_until_the_backoff_has_passed():
    clock = SteppedClock()
    calls = StoreCalls(backoff=timedelta(seconds=20), clock=clock)
    tried: list[str] = []

    def unreachable() -> None:
        tried.append("unreachable")
        raise AutoReconnect("connection refused")

    def lookup() -> dict[str, int]:
        tried.append("lookup")
        return {"a": 1}

    async def crawl() -> list[object]:
        first = await calls.best_effort(unreachable, default="fallback")
        during = await calls.best_effort(lookup, default={})
        later_started = calls.later(lookup)
        clock.advance(21)  # the breaker's backoff, without sleeping
        after = await calls.best_effort(lookup, default={})
        return [first, during, later_started, after]

    try:
        assert asyncio.run(crawl()) == ["fallback", {}, False, {"a": 1}]
        assert tried == ["unreachable", "lookup"]  # nothing was sent while MongoDB was down
    finally:
        calls.close()


def test_a_refused_command_is_not_an_outage():
    calls = StoreCalls(clock=SteppedClock())

    def refused() -> None:
        raise OperationFailure("bad query")

    async def crawl() -> object:
        return await calls.best_effort(refused, default="fallback")

    try:
        assert asyncio.run(crawl()) == "fallback"
        assert not calls.is_down()
    finally:
        calls.close()


def test_background_calls_are_awaited_before_the_crawl_closes():
    calls = StoreCalls(clock=SteppedClock())
    done = threading.Event()
    release = threading.Event()

    def slow_write() -> None:
        release.wait(10)
        done.set()

    async def crawl() -> bool:
        assert calls.later(slow_write)
        release.set()
        await calls.drain()
        return done.is_set()

    try:
        assert asyncio.run(crawl())
    finally:
        calls.close()
