"""One crawl run of one site, as the parts of the crawl share it: the run context.

Made once per crawl by the spider, from its arguments (spiders/news.py): Scrapy makes
the spider first, from `-a site=...` or the runner's keyword arguments, and only then
the crawl's stats, extensions and item pipelines, so the spider's constructor is the one
place that has everything a run is. The other components reach it the way Scrapy
components reach the crawl's spider, through the crawler: `crawler.spider.run`, one
typed attribute the spider declares, read when the spider opens. The item pipeline
(crawler.pipeline.item_pipeline) counts, times, tallies and spools through it; the
run's lifecycle (crawler.run.lifecycle) opens and ends the run from it, and reads back
what the pipeline measured (`stages`, `coverage`); the runner (crawler.run.runner)
shows its progress. Nothing is planted on the spider, nothing read back with getattr.

It lives in `pipeline`, the lowest package that knows every part (the ledger below it,
the store doorway, the journal and the extraction tally in it); `run` and the spider,
above, import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pymongo.database import Database

from crawler.clock import Clock
from crawler.config import Site
from crawler.crawl.ledger import RunLedger
from crawler.pipeline.drift import ExtractionCoverage
from crawler.pipeline.journal import Journal
from crawler.pipeline.offload import StoreCalls
from crawler.stages import StageClock
from crawler.types import Doc


@dataclass
class RunContext:
    """What one crawl run is (its site and id), has (its clock, database, store doorway and
    journal) and counts (its ledger, the seconds of each pipeline stage, what extraction
    found on its article pages)."""

    site: Site
    run_id: str
    clock: Clock
    db: Database[Doc]
    ledger: RunLedger
    store: StoreCalls  # every store call made from Scrapy's event loop (crawler.pipeline.offload)
    journal: Journal  # where pages go while MongoDB is away
    stages: StageClock = field(default_factory=StageClock)  # seconds per pipeline stage
    coverage: ExtractionCoverage = field(default_factory=ExtractionCoverage)  # for drift

    @classmethod
    def start(
        cls,
        site: Site,
        run_id: str,
        trigger: str,
        now: datetime,
        clock: Clock,
        db: Database[Doc],
        journal: Journal | None = None,
    ) -> RunContext:
        """A new run of `site`, started at `now`: its ledger spills to its journal and
        writes full batches of fetch records off Scrapy's event loop."""
        store = StoreCalls(clock=clock)
        journal = journal or Journal()
        ledger = RunLedger(db, site.name, run_id, trigger, now, spill=journal)
        ledger.flush_with = store.later
        return cls(site, run_id, clock, db, ledger, store, journal)
