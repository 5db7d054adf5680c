"""`scrapy crawl`, exiting non-zero when the crawl's run did not end `ok`.

Scrapy's own `crawl` command exits 1 only when a crawler could not start
(CrawlerProcess.bootstrap_failed); a crawl that ran and reached nothing, or
stored nothing, still exited 0. The run's outcome is judged by
crawler.run.lifecycle, which announces it on the crawler's signals
(crawler.run.outcomes.run_ended, heard through crawler.run.runner.RecordedRuns
as `newscrawl crawl` hears it): this command reads it once the process has
stopped, so `scrapy crawl news` and
Scrapyd jobs exit as `newscrawl crawl` does (0 only for `ok` and
`ok-with-errors`, 1 otherwise, with the outcome and its error on stderr).

Scrapy finds this module through the COMMANDS_MODULE setting, whose commands
replace its built-in ones of the same name.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawl

from crawler.run.outcomes import RunResult, crawl_left_open
from crawler.run.runner import RecordedRuns

EXIT_FAILURE = 1


class Command(ScrapyCrawl):
    """Scrapy's `crawl`, plus the exit status of the run (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self.crawlers: list[Any] = []
        self.recorded = RecordedRuns()

    def short_desc(self) -> str:
        return "Run a spider of the current project, by name (exit 1 unless the run is ok)"

    def _create_crawler(self, spidercls: Any) -> Any:
        crawler = super()._create_crawler(spidercls)
        self.crawlers.append(crawler)  # Scrapy forgets its crawlers once they end
        self.recorded.watch(crawler)
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        for crawler in self.crawlers:
            if not run_succeeded(crawler, self.recorded):
                self.exitcode = EXIT_FAILURE


def run_succeeded(crawler: Any, recorded: RecordedRuns) -> bool:
    """Whether a finished crawl's run ended ok; says why on stderr when it did not.

    A spider Scrapy never made is left to Scrapy (bootstrap_failed); one that is not
    a newscrawl spider (no `site`) has no run to judge. A run Scrapy never closed (the
    reactor stopped while it was being opened) is ended by its lifecycle when told
    (`crawl_left_open`), as `newscrawl crawl` does (crawler.run.runner)."""
    spider = getattr(crawler, "spider", None)
    if spider is None or getattr(spider, "site", None) is None:
        return True
    result: RunResult | None = recorded.of(crawler)
    if result is None:
        crawler.signals.send_catch_log(crawl_left_open)
        result = recorded.of(crawler)
    if result is None:
        print(f"[{spider.site.name}] the crawl ended without recording a run", file=sys.stderr)
        return False
    if result.outcome.startswith("ok"):
        return True
    why = f": {result.error}" if result.error else ""
    print(f"[{result.site}] {result.outcome}{why}", file=sys.stderr)
    return False
