"""`scrapy crawl`, exiting non-zero when the crawl's run did not end `ok`.

Scrapy's own `crawl` command exits 1 only when a crawler could not start
(CrawlerProcess.bootstrap_failed); a crawl that ran and reached nothing, or
stored nothing, still exited 0. The run's outcome is judged by
crawler.run.lifecycle, which leaves it on the spider (`run_result`): this
command reads it once the process has stopped, so `scrapy crawl news` and
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

from crawler.run.outcomes import RunResult

EXIT_FAILURE = 1


class Command(ScrapyCrawl):
    """Scrapy's `crawl`, plus the exit status of the run (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self.crawlers: list[Any] = []

    def short_desc(self) -> str:
        return "Run a spider of the current project, by name (exit 1 unless the run is ok)"

    def _create_crawler(self, spidercls: Any) -> Any:
        crawler = super()._create_crawler(spidercls)
        self.crawlers.append(crawler)  # Scrapy forgets its crawlers once they end
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        for crawler in self.crawlers:
            if not run_succeeded(getattr(crawler, "spider", None)):
                self.exitcode = EXIT_FAILURE


def run_succeeded(spider: Any) -> bool:
    """Whether a finished crawl's run ended ok; says why on stderr when it did not.

    A spider Scrapy never made is left to Scrapy (bootstrap_failed); one without a
    run lifecycle (not a newscrawl spider) has no run to judge. A run Scrapy never
    closed (the reactor stopped while it was being opened) is ended here, as
    `newscrawl crawl` does (crawler.run.runner)."""
    lifecycle = getattr(spider, "lifecycle", None)
    if spider is None or not hasattr(spider, "run_result"):
        return True
    result: RunResult | None = spider.run_result
    if result is None and lifecycle is not None and lifecycle.result is None:
        result = spider.run_result = lifecycle.result = lifecycle.finish_unclosed(spider)
    if result is None:
        print(f"[{spider.site.name}] the crawl ended without recording a run", file=sys.stderr)
        return False
    if result.outcome.startswith("ok"):
        return True
    why = f": {result.error}" if result.error else ""
    print(f"[{result.site}] {result.outcome}{why}", file=sys.stderr)
    return False
