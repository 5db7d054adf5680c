"""What the service tells a monitoring system: Prometheus metrics and a health check.

Served on a loopback port (`scheduler.py --metrics-port 9410`):

- `/metrics` (prometheus_client's text format). Per site: the last run's
  outcome, end time and figures (pages fetched, new articles, new versions,
  errors, pages spooled to the journal: crawler.crawl.figures), the next
  run time, whether a crawl runs now (it holds the site's lease:
  crawler.store.leases, the one meaning of "running now"); since the service
  started: runs by outcome, and pages, articles, versions, errors and spooled
  pages as counters, and a histogram of crawl
  durations; per node (a Scrapyd node's URL, or `local`), the crawls running
  there. The last-run values are read from `crawl_runs` and `schedules` at
  each scrape, so they are right after a restart and for crawls started by
  hand; the counters and the histogram are the service's own (a Prometheus
  counter must only grow).
- Per site, `newscrawl_consecutive_failed_runs` (the site's failed runs in a
  row: `failed`, `error`, `timeout`, `lease-lost`; skipped and interrupted runs
  neither count nor break it) and `newscrawl_site_failing` (1 while it is not
  0): what to alert on, since `/healthz` speaks for the service, not the sites.
- `/healthz`: 200 while the scheduler loop is alive (it beat within
  HEARTBEAT_STALE_S) and MongoDB answers a ping, 503 otherwise, with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pymongo.errors import PyMongoError

from crawler.clock import Clock
from crawler.crawl.figures import EXPORTED
from crawler.service.httpd import QuietHandler
from crawler.store.leases import running_crawls
from crawler.store.reads import last_run
from crawler.types import Doc

log = logging.getLogger("newscrawl.metrics")

HEARTBEAT_STALE_S = 30.0
DURATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)


class ServiceMetrics:
    """The service's registry: its own counters plus what MongoDB says at scrape time."""

    def __init__(
        self,
        db: Any,
        sites: Callable[[], list[str]],
        jobs: Callable[[], dict[str, int]] | None = None,
        *,
        clock: Clock,
    ):
        self.db = db
        self.sites = sites
        self.clock = clock  # the service's: "the last run" is judged at its now
        self.jobs = jobs or dict  # running crawls per node, from the dispatcher
        self.registry = CollectorRegistry()
        self.heartbeat = time.monotonic()
        self.runs = Counter(
            "newscrawl_runs",
            "Crawl runs finished, by outcome",
            ["site", "outcome"],
            registry=self.registry,
        )
        self.figures = {  # crawler.crawl.figures: the summary's figures the service exports
            figure.key: Counter(
                f"newscrawl_{figure.metric}",
                f"Crawl figure {figure.metric}, summed over runs",
                ["site"],
                registry=self.registry,
            )
            for figure in EXPORTED
        }
        self.duration = Histogram(
            "newscrawl_crawl_duration_seconds",
            "Duration of crawl runs",
            ["site"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(self))
        self.registry.register(_NodeCollector(self))

    def beat(self) -> None:
        """Called by the scheduler loop on every turn."""
        self.heartbeat = time.monotonic()

    def run_finished(self, site: str, run: Doc | None) -> None:
        """Count a run the service started, from its record in crawl_runs."""
        if not run:
            return
        self.runs.labels(site, str(run.get("outcome"))).inc()
        summary = run.get("summary") or {}
        for key, counter in self.figures.items():
            counter.labels(site).inc(int(summary.get(key, 0) or 0))
        if run.get("duration_s") is not None:
            self.duration.labels(site).observe(float(run["duration_s"]))

    def health(self) -> tuple[bool, str]:
        stale = time.monotonic() - self.heartbeat
        if stale > HEARTBEAT_STALE_S:
            return False, f"scheduler loop silent for {stale:.0f} s"
        try:
            self.db.command("ping")
        except PyMongoError as exc:
            return False, f"MongoDB does not answer: {exc.__class__.__name__}"
        return True, "ok"

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _NodeCollector:
    """Crawls running per node (`local` for the service's own child processes)."""

    def __init__(self, metrics: ServiceMetrics):
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "newscrawl_node_running_jobs",
            "Crawls the service runs on each node now",
            labels=["node"],
        )
        for node, count in sorted(self.metrics.jobs().items()):
            jobs.add_metric([node], count)
        yield jobs


class _StoreCollector:
    """Per-site gauges read from crawl_runs, schedules and leases when scraped."""

    def __init__(self, metrics: ServiceMetrics):
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        db, sites = self.metrics.db, self.metrics.sites()
        outcome = GaugeMetricFamily(
            "newscrawl_last_run_outcome",
            "1 for the outcome of the last finished run",
            labels=["site", "outcome"],
        )
        finished = GaugeMetricFamily(
            "newscrawl_last_run_timestamp_seconds", "End of the last finished run", labels=["site"]
        )
        figures = {
            figure.key: GaugeMetricFamily(
                f"newscrawl_last_run_{figure.metric}",
                f"{figure.metric} in the last run",
                labels=["site"],
            )
            for figure in EXPORTED
        }
        next_run = GaugeMetricFamily(
            "newscrawl_next_run_timestamp_seconds", "When the site is crawled next", labels=["site"]
        )
        running = GaugeMetricFamily(
            "newscrawl_crawls_running",
            "1 while a crawl holds the site's lease (crawler.store.leases)",
            labels=["site"],
        )
        drift = GaugeMetricFamily(
            "newscrawl_extraction_drift",
            "Extraction drift warnings on the last run (crawler.pipeline.drift): 0 when none",
            labels=["site"],
        )
        median_words = GaugeMetricFamily(
            "newscrawl_last_run_median_words",
            "Median body length extracted in the last run",
            labels=["site"],
        )
        failures = GaugeMetricFamily(
            "newscrawl_consecutive_failed_runs",
            "The site's failed runs in a row (crawl_runs.consecutive_failures of its last run)",
            labels=["site"],
        )
        failing = GaugeMetricFamily(
            "newscrawl_site_failing", "1 while the site's last runs failed", labels=["site"]
        )
        up = GaugeMetricFamily("newscrawl_store_up", "1 when MongoDB answered this scrape")
        try:
            live = running_crawls(db)  # the one "running now": a live lease (a queued job is not)
            for site in sites:
                run = last_run(db, site, self.metrics.clock())
                if run:
                    outcome.add_metric([site, str(run.get("outcome"))], 1)
                    finished.add_metric([site], run["finished_at"].timestamp())
                    summary = run.get("summary") or {}
                    for key, gauge in figures.items():
                        gauge.add_metric([site], int(summary.get(key, 0) or 0))
                    drift.add_metric([site], len(run.get("warnings") or []))
                    extraction = run.get("extraction") or {}
                    if "median_words" in extraction:
                        median_words.add_metric([site], extraction["median_words"])
                    in_a_row = int(run.get("consecutive_failures") or 0)
                    failures.add_metric([site], in_a_row)
                    failing.add_metric([site], 1 if in_a_row else 0)
                schedule = db.schedules.find_one({"_id": site}, {"next_run_at": 1})
                if schedule and schedule.get("next_run_at"):
                    next_run.add_metric([site], schedule["next_run_at"].timestamp())
                running.add_metric([site], 1 if site in live else 0)
            up.add_metric([], 1)
        except PyMongoError as exc:
            log.warning("metrics: MongoDB unavailable (%s)", exc.__class__.__name__)
            up.add_metric([], 0)
        yield from (
            outcome,
            finished,
            *figures.values(),
            next_run,
            running,
            drift,
            median_words,
            failures,
            failing,
            up,
        )


IDLE_TIMEOUT_S = 10.0


class MetricsServer:
    """/metrics and /healthz on a loopback port, in a thread of the service.

    A connection that sends nothing (or stops sending) for `idle_timeout_s` is closed:
    each connection holds a thread, so idle ones would otherwise pile up for good."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        port: int,
        host: str = "127.0.0.1",
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ):
        self.metrics = metrics
        self.server = ThreadingHTTPServer((host, port), _handler(metrics, idle_timeout_s))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="metrics", daemon=True
        )

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(metrics: ServiceMetrics, idle_timeout_s: float) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        # socketserver sets it on the connection: a read that waits longer ends the
        # request (http.server answers nothing and closes the connection)
        timeout = idle_timeout_s

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.send_body(200, CONTENT_TYPE_LATEST, metrics.render())
            elif path == "/healthz":
                healthy, why = metrics.health()
                self.send_body(
                    200 if healthy else 503, "text/plain; charset=utf-8", f"{why}\n".encode()
                )
            else:
                self.send_body(404, "text/plain", b"not found: /metrics and /healthz are served\n")

    return Handler
