"""The item pipeline's batching: group commit, and one bad page never fails its neighbours."""

from __future__ import annotations

import asyncio
import time

from crawler.pipeline.item_pipeline import StorePipeline
from crawler.pipeline.processing import Outcome
from crawler.pipeline.workers import BatchWriter
from tests.pipeline.test_nothing_lost import run_for
from tests.store.test_store import body, page


def test_pages_arriving_during_a_write_go_together_in_the_next_batch():
    sizes: list[int] = []

    def write(items: list[int]) -> list[int]:
        sizes.append(len(items))
        time.sleep(0.2)  # a slow database
        return [item * 10 for item in items]

    async def crawl() -> list[int]:
        writer: BatchWriter[int, int] = BatchWriter(write, max_batch=4)
        first = asyncio.ensure_future(writer.submit(0))
        await asyncio.sleep(0.05)  # the first page is being written when the others arrive
        rest = await asyncio.gather(*(writer.submit(i) for i in range(1, 9)))
        return [await first, *rest]

    results = asyncio.run(crawl())
    assert results == [i * 10 for i in range(9)]  # each page gets its own result, in order
    assert sizes == [1, 4, 4]  # nobody waited for a batch to fill; the backlog went together


def test_a_failed_batch_fails_only_its_own_pages():
    def write(items: list[int]) -> list[int]:
        if 3 in items:
            raise RuntimeError("store refused")
        return items

    async def crawl() -> list[object]:
        writer: BatchWriter[int, int] = BatchWriter(write, max_batch=2)
        return await asyncio.gather(*(writer.submit(i) for i in range(5)), return_exceptions=True)

    results = asyncio.run(crawl())
    assert results[0] == 0
    failed = [i for i, r in enumerate(results) if isinstance(r, RuntimeError)]
    assert 3 in failed and len(failed) <= 2
    assert all(results[i] == i for i in range(5) if i not in failed)


def test_a_page_the_store_rejects_does_not_lose_the_rest_of_its_batch(db, tmp_path):
    pipeline = StorePipeline()
    pipeline.run = run_for(db, tmp_path)
    bad = page("bad", body(3))
    bad.http = {"status": object()}  # not encodable: the server never sees this batch
    results = pipeline._write([page("a", body(3)), bad, page("b", body(4))])
    assert isinstance(results[0], Outcome) and results[0].outcome == "new"
    assert isinstance(results[1], Exception)
    assert isinstance(results[2], Outcome) and results[2].outcome == "new"
    assert sorted(v["article_id"] for v in db.versions.find()) == ["a", "b"]


class RecordingStore:
    """A write_batch that stores nothing and remembers the size of each batch."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def write(self, items: list[int]) -> list[int]:
        self.sizes.append(len(items))
        return items


def test_pages_trickling_in_within_the_linger_share_one_batch():
    store = RecordingStore()

    async def crawl() -> list[int]:
        writer: BatchWriter[int, int] = BatchWriter(store.write, max_batch=64, linger_s=2.0)
        futures = []
        for i in range(5):  # pages come back from extraction one at a time
            futures.append(asyncio.ensure_future(writer.submit(i)))
            await asyncio.sleep(0.01)
        return list(await asyncio.gather(*futures))

    assert asyncio.run(crawl()) == [0, 1, 2, 3, 4]
    assert store.sizes == [5]  # without the linger the writer, idle, would send the first alone


def test_a_full_batch_is_written_without_waiting_for_the_linger():
    store = RecordingStore()

    async def crawl() -> list[int]:
        writer: BatchWriter[int, int] = BatchWriter(store.write, max_batch=3, linger_s=600.0)
        batch = asyncio.gather(*(writer.submit(i) for i in range(3)))
        return list(await asyncio.wait_for(batch, timeout=60))  # not the 600 s linger

    assert asyncio.run(crawl()) == [0, 1, 2]
    assert store.sizes == [3]
