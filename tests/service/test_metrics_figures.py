"""A run's figures are defined once (crawler.crawl.figures): the ledger's `crawl_runs.summary`,
the service's metrics and the command's tables show the same numbers under the same keys."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone

from crawler.cli.inspect import cmd_runs, print_crawl_summary
from crawler.clock import utcnow
from crawler.crawl import figures
from crawler.crawl.ledger import RunLedger
from crawler.run.outcomes import RunResult
from crawler.service.metrics import ServiceMetrics

NOW = datetime.now(timezone.utc).replace(microsecond=0)
OUTCOMES = {"new": 3, "changed": 2, "unchanged": 4, "cosmetic": 1, "error": 2, "degraded": 1}


def recorded_run(db) -> dict:
    """One run as a crawl leaves it: counted by the ledger, ended in crawl_runs."""
    ledger = RunLedger(db, "example", "run-1", "manual", NOW - timedelta(minutes=1))
    ledger.start()
    n = 0
    for outcome, times in OUTCOMES.items():
        for _ in range(times):
            n += 1
            ledger.record(f"https://example.test/{n}", NOW, "new", outcome)
    ledger.record_skipped("https://example.test/feed", NOW, "duplicate", 5, [])
    ledger.record_skipped("https://example.test/feed", NOW, "not-due", 2, [])
    ledger.count("spooled", 3)
    ledger.finish("ok-with-errors", NOW)
    return db.crawl_runs.find_one({"_id": "run-1"})


def cells(out: str, row_mark: str) -> dict[str, str]:
    header = next(line for line in out.splitlines() if "┃" in line and "new" in line)
    row = next(line for line in out.splitlines() if row_mark in line)
    names = [c.strip() for c in header.split("┃")]
    return dict(zip(names, (c.strip() for c in row.split("│")), strict=True))


def test_the_summary_holds_every_figure_and_only_those(db):
    run = recorded_run(db)
    assert tuple(run["summary"]) == figures.SUMMARY_KEYS
    assert run["summary"]["pages"] == sum(OUTCOMES.values())
    assert run["summary"]["errors"] == 2 and run["summary"]["skipped"] == 7


def test_the_metrics_export_the_summary_figures(db):
    summary = recorded_run(db)["summary"]
    metrics = ServiceMetrics(db, lambda: ["example"], clock=utcnow)
    metrics.run_finished("example", db.crawl_runs.find_one({"_id": "run-1"}))
    text = metrics.render().decode()
    assert figures.EXPORTED and all(f.metric for f in figures.EXPORTED)
    for figure in figures.EXPORTED:
        for name in (f"newscrawl_last_run_{figure.metric}", f"newscrawl_{figure.metric}_total"):
            found = re.search(rf'^{name}\{{site="example"\}} (\S+)$', text, re.M)
            assert found, name
            assert float(found.group(1)) == summary[figure.key], name


def test_the_tables_show_the_summary_figures(db, capsys, monkeypatch):
    run = recorded_run(db)
    monkeypatch.setenv("COLUMNS", "250")
    cmd_runs(argparse.Namespace(site=None, config=None, limit=5, json=False), db)
    listed = cells(capsys.readouterr().out, "run-1")
    result = RunResult("example", "run-1", run["outcome"], run["summary"])
    print_crawl_summary([result], {"run-1": run["counters"]})
    crawled = cells(capsys.readouterr().out, "example")
    expected = figures.table_cells(run["summary"], run["counters"])
    assert expected[figures.SEEN_AGAIN] == 5 and expected["not fetched"] == 2
    for shown in (listed, crawled):
        headers = [h for h in shown if h in expected]
        assert {"pages", "new", "changed", "errors", "not fetched", "seen again"} <= set(headers)
        for header in headers:
            assert shown[header] == str(expected[header]), header
    for figure in figures.FIGURES:
        if figure.label in crawled and figure.key != "skipped":
            assert crawled[figure.label] == str(run["summary"][figure.key]), figure.key


def running_now(metrics: ServiceMetrics, site: str) -> float:
    found = re.search(
        rf'^newscrawl_crawls_running\{{site="{site}"\}} (\S+)$', metrics.render().decode(), re.M
    )
    assert found
    return float(found.group(1))


def test_running_now_is_a_live_lease_not_an_unfinished_run_record(db):
    """One meaning of "running now" (crawler.store.leases): a run queued on a Scrapyd node,
    or left `running` by a process that died, is not a crawl running now."""
    from crawler.run.lease import SiteLease

    db.crawl_runs.insert_many(
        [
            {"_id": "q", "site": "example", "outcome": "queued", "finished_at": None},
            {"_id": "dead", "site": "example", "outcome": "running", "finished_at": None},
        ]
    )
    metrics = ServiceMetrics(db, lambda: ["example"], clock=utcnow)
    assert running_now(metrics, "example") == 0
    lease = SiteLease(db, "example", "run-live", on_lost=lambda why: None, clock=utcnow)
    lease.acquire()
    try:
        assert running_now(metrics, "example") == 1
    finally:
        lease.release()
    assert running_now(metrics, "example") == 0
