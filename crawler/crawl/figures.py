"""The figures of a crawl run, defined once: what `crawl_runs.summary` holds, what the
command's tables call each, and under which name the service's metrics export it.

The ledger writes the summary from `FIGURES` (crawler.crawl.ledger), the metrics name
their series from it (crawler.service.metrics), and `newscrawl crawl`, `runs` and `status`
take their column headers and cells from `table_cells` (crawler.cli.inspect): a figure
added here appears in all of them, under the same key. Here, in `crawl`, because the
ledger that counts them is the lowest of their readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One figure of a run: its key in `crawl_runs.summary` (and `RunResult.summary`,
    `newscrawl crawl --json`), its column header in the tables, and `metric`, the name
    part of `newscrawl_<metric>` (summed over runs) and `newscrawl_last_run_<metric>`
    when the service exports it."""

    key: str
    label: str
    metric: str | None = None


# In the summary's order (and the progress line's, and the service's log line's).
FIGURES: tuple[Figure, ...] = (
    Figure("pages", "pages", "pages_fetched"),
    Figure("new", "new", "new_articles"),
    Figure("changed", "changed", "new_versions"),
    Figure("unchanged", "unchanged"),
    Figure("cosmetic", "cosmetic"),
    Figure("reverted", "reverted"),
    Figure("degraded", "degraded"),
    Figure("skipped", "not fetched"),  # shown less the URLs seen again (table_cells)
    Figure("spooled", "spooled", "pages_spooled"),
    Figure("errors", "errors", "errors"),
)
SUMMARY_KEYS = tuple(figure.key for figure in FIGURES)
EXPORTED = tuple(figure for figure in FIGURES if figure.metric)
# Not a summary figure: the skipped entries another source of the run listed too (the
# ledger's `skip/duplicate`), the same article reached twice rather than an article missed.
SEEN_AGAIN = "seen again"
DUPLICATE_COUNTER = "skip/duplicate"
LEGEND = {
    "new": "new articles",
    "changed": "new versions",
    SEEN_AGAIN: "URLs listed by more than one source (fetched once)",
    "not fetched": "not due, robots.txt, off-site or over the limit",
}


def label(key: str) -> str:
    """The column header of the figure `key`."""
    return next(figure.label for figure in FIGURES if figure.key == key)


def seen_again(counters: Mapping[str, Any] | None) -> int:
    """Entries skipped because another source of the run listed the same URL."""
    return int((counters or {}).get(DUPLICATE_COUNTER, 0) or 0)


def table_cells(
    summary: Mapping[str, Any] | None, counters: Mapping[str, Any] | None
) -> dict[str, int]:
    """A run's figures by column header, as the tables show them: every figure of the
    summary (0 when the run has none), and the skipped entries split into `seen again`
    and `not fetched`."""
    found = summary or {}
    cells = {figure.label: int(found.get(figure.key, 0) or 0) for figure in FIGURES}
    again = seen_again(counters)
    cells[SEEN_AGAIN] = again
    cells[label("skipped")] = max(cells[label("skipped")] - again, 0)
    return cells
