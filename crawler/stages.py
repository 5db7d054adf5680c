"""Where a crawl's time goes: seconds per pipeline stage, kept with the run record.

The stages are the data flow's: fetch (download latency, as Scrapy measured
it), extract, normalise (both in the extraction workers), version (deciding
what changed), cluster (the story index) and store (the other database
writes). Workers time their own stages and send the figures back with their
result, so the totals add up across processes; the run record keeps them
under `crawl_runs.stages`, which is what `bench/e2e_throughput.py` reports.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("fetch", "extract", "normalise", "version", "cluster", "store")


class StageClock:
    """Thread-safe sums of seconds per stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: defaultdict[str, float] = defaultdict(float)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._seconds[stage] += seconds

    def merge(self, timings: dict[str, float]) -> None:
        with self._lock:
            for stage, seconds in timings.items():
                self._seconds[stage] += seconds

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def totals(self) -> dict[str, float]:
        with self._lock:
            return {stage: round(self._seconds.get(stage, 0.0), 3) for stage in STAGES}
