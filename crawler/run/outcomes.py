"""What a crawl run's outcome is, from how it ended and what it counted: plain Python.

Every way a crawl runs (`newscrawl crawl`, the service's children, `scrapy crawl
news`, Scrapyd jobs) ends in crawler.run.lifecycle, which asks `judge` here. The
outcomes are listed in docs/schema.md (crawl_runs.outcome).

A crawl that fetched nothing it was sent for is not a success: every source
is on an address the site may not fetch (`refused-address`: private, loopback
or link-local, without allow_private_addresses), every request failed without
an answer (`unreachable`), robots.txt refused every source
(`blocked-by-robots`), or every source answered with an error
(`sources-failed`) ends `failed` with that reason, so `newscrawl crawl` exits
non-zero and `status` and `/metrics` count the site's failed runs in a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crawler.crawl.ledger import MEMORY_EXCEEDED, PIPELINE_MISSING

SKIPPED_BUSY = "skipped-busy"  # another crawl held the site's lease: the run never started
LEASE_LOST = "lease-lost"
DEGRADED_RUN = "degraded"  # every article page stored was not the article (crawler.text.nonarticle)
LIFECYCLE_MISSING = "lifecycle-missing"  # the spider's close reason without crawler.run.lifecycle
# Scrapy's finish reasons and ours -> the run's outcome
CLOSE_OUTCOMES = {
    "finished": "ok",
    "shutdown": "interrupted",
    "closespider_timeout": "timeout",
    SKIPPED_BUSY: SKIPPED_BUSY,
    LEASE_LOST: LEASE_LOST,
}
# The reasons of a `failed` run that fetched nothing it was sent for
UNREACHABLE, BLOCKED_BY_ROBOTS, SOURCES_FAILED, REFUSED_ADDRESS = (
    "unreachable",
    "blocked-by-robots",
    "sources-failed",
    "refused-address",
)
# Outcomes that count towards a site's failed runs in a row; skipped and interrupted
# runs neither count nor break the count (they say nothing of the site).
FAILING = {"failed", "error", "timeout", LEASE_LOST}
NEUTRAL = {SKIPPED_BUSY, "interrupted", "running", "queued"}
ROBOTS_REFUSAL = "RobotsRefused"  # the exception type a robots.txt refusal names in detail
# the exception type a refusal of a private/loopback/link-local address names in detail
# (crawler.crawl.middleware.PrivateAddressRefused)
ADDRESS_REFUSAL = "PrivateAddressRefused"

# Signals of a run, sent on its crawler's `signals` as Scrapy sends its own (custom
# signals are plain objects: docs.scrapy.org, "Signals"). crawler.run.lifecycle sends
# `run_ended` with `result` (a RunResult) once the run's end is recorded; crawler.run.runner
# sends `crawl_left_open` when its process ends with a crawl whose spider Scrapy never
# closed, and the lifecycle ends that run as Scrapy's close would have.
run_ended = object()
crawl_left_open = object()


@dataclass
class RunResult:
    """How one crawl of one site ended, for the command's summary and exit status."""

    site: str
    run_id: str
    outcome: str
    summary: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None  # why a `failed` run failed (unreachable, ...)


@dataclass
class Verdict:
    outcome: str
    error: str | None = None
    reason: str | None = None


@dataclass
class CrawlFacts:
    """What the judgement needs to know of a finished crawl, read from its ledger and stats.

    `sources`: each configured source's last fetch-log outcome and detail (none when
    the crawl never got to it); `responses` / `download_errors`: Scrapy's
    downloader/response_count and downloader/exception_count (robots.txt included)."""

    close_reason: str
    lease_lost: str | None = None
    fetched: int = 0
    unaccounted: int = 0
    spooled: int = 0
    errors: int = 0
    responses: int = 0
    download_errors: int = 0
    sources: Mapping[str, tuple[str, str] | None] = field(default_factory=dict)
    stored: int = 0
    memory_error: str | None = None  # set when Scrapy's MemoryUsage closed the crawl
    unwritable: int = 0  # pages or records neither stored nor journalled (journal full)
    degraded: Mapping[str, int] = field(default_factory=dict)  # non-article pages by kind


def judge(facts: CrawlFacts, journal_dir: str = "") -> Verdict:
    """The run's outcome, its error message and, for `failed`, the reason.

    "ok" only when every fetched article page is accounted for (stored, or
    recorded as an error) and none waits in the journal, and the crawl reached
    its site: a crawl that fetched pages and stored none without saying why is
    an error, and one that fetched nothing because everything failed is `failed`.
    """
    if facts.lease_lost:
        return Verdict(LEASE_LOST, facts.lease_lost)
    if facts.close_reason == PIPELINE_MISSING:
        return Verdict(
            "error",
            "the item pipeline crawler.pipeline.item_pipeline.StorePipeline was not enabled; nothing was stored",
        )
    if facts.close_reason == MEMORY_EXCEEDED:
        return Verdict("error", facts.memory_error or "the crawl went over its memory limit")
    if facts.unwritable:
        return Verdict(
            "error",
            f"{facts.unwritable} pages or fetch records were neither stored nor journalled: "
            "MongoDB was unavailable and the journal could not be written (full or read-only "
            "disk); their URLs are in the error log",
        )
    outcome = CLOSE_OUTCOMES.get(facts.close_reason, facts.close_reason or "failed")
    if outcome != "ok":
        return Verdict(outcome, _close_error(facts.close_reason))
    if facts.unaccounted:
        return Verdict(
            "error",
            f"{facts.unaccounted} of {facts.fetched} fetched article pages were neither "
            "stored, recorded as errors nor journalled",
        )
    failure = nothing_fetched(facts)
    if failure is not None:
        return failure
    if facts.spooled:
        return Verdict(
            "spooled",
            f"{facts.spooled} pages kept in the journal ({journal_dir}) while MongoDB was "
            "unreachable; they are stored on the next start",
        )
    degraded = sum(facts.degraded.values())
    if degraded and degraded == facts.stored:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(facts.degraded.items()))
        return Verdict(
            DEGRADED_RUN,
            f"none of the {degraded} article pages stored was the article ({kinds}): the "
            "site served walls, errors or cut pages; they are fetched again soon",
        )
    if facts.errors:
        return Verdict("ok-with-errors")
    return Verdict("ok")


def _close_error(reason: str) -> str | None:
    if reason == LIFECYCLE_MISSING:
        return (
            "the extension crawler.run.lifecycle.RunLifecycle was not enabled "
            "(Scrapy started without crawler.settings): no lease, nothing crawled"
        )
    if reason in ("finished", "shutdown", "closespider_timeout", SKIPPED_BUSY):
        return None
    return f"the crawl closed with reason {reason!r}"


def nothing_fetched(facts: CrawlFacts) -> Verdict | None:
    """`failed` with its reason when the crawl reached nothing it was sent for, else None.

    A source refused by the address policy is no network failure (Scrapy counts the
    refusal among its download errors): when every source was refused, the reason
    says so, so that users can tell a setting to change from a site that is down."""
    refused = address_refused(facts.sources)
    if refused:
        return Verdict(
            "failed",
            f"all {refused} sources are on private, loopback or link-local addresses, "
            "which this site may not fetch (set allow_private_addresses: true for a site "
            "on a local network)",
            REFUSED_ADDRESS,
        )
    if facts.responses == 0 and facts.download_errors:
        return Verdict(
            "failed",
            f"no request got an answer ({facts.download_errors} download errors: "
            "DNS, connection, TLS or timeouts)",
            UNREACHABLE,
        )
    ended = {url: seen for url, seen in facts.sources.items() if seen is not None}
    if not facts.sources or len(ended) < len(facts.sources):
        return None  # no sources, or some never answered nor failed (deferred, offsite)
    if any(outcome != "error" for outcome, _detail in ended.values()):
        return None
    if all(ROBOTS_REFUSAL in detail for _outcome, detail in ended.values()):
        return Verdict(
            "failed", f"robots.txt disallows all {len(ended)} sources", BLOCKED_BY_ROBOTS
        )
    first = next(iter(ended.values()))[1]
    return Verdict(
        "failed", f"all {len(ended)} sources failed (first: {first})"[:500], SOURCES_FAILED
    )


def address_refused(sources: Mapping[str, tuple[str, str] | None]) -> int:
    """How many sources the address policy refused, when it refused all of them; else 0."""
    if not sources or any(
        seen is None or ADDRESS_REFUSAL not in seen[1] for seen in sources.values()
    ):
        return 0
    return len(sources)


def consecutive_failures(outcome: str, previous: Mapping[str, Any] | None) -> int:
    """The site's failed runs in a row, this one included, from its previous finished run."""
    before = int((previous or {}).get("consecutive_failures") or 0)
    if outcome in FAILING:
        return before + 1
    if outcome in NEUTRAL:
        return before
    return 0


def source_outcomes(
    urls: Iterable[str], last: Mapping[str, tuple[str, str]]
) -> dict[str, tuple[str, str] | None]:
    """Each configured source's last outcome in the fetch log (None: never fetched)."""
    return {url: last.get(url) for url in urls}
