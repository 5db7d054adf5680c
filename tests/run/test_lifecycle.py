"""One run lifecycle (crawler.run.lifecycle) on every path, and outcomes that tell the truth.

Real crawls in child processes against loopback sites: `newscrawl crawl` and
`scrapy crawl news` record runs of the same shape; a busy site does not stop the
others; three `crawl --all` at once never crawl a site twice at the same time;
a site that cannot be reached, that robots.txt closes or whose only feed is gone
ends `failed` with its reason and a non-zero exit.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.clock import utcnow
from crawler.localnet import LocalNetwork
from crawler.maintenance.verify import verify
from crawler.run.lease import SiteLease
from crawler.service.metrics import ServiceMetrics
from crawler.store import connect
from tests.helpers import REPO, free_port, newscrawl, wait_until

OK = ("ok", "ok-with-errors")


@pytest.fixture
def network(tmp_path, crawl_env) -> Iterator[LocalNetwork]:
    with LocalNetwork(seed=5, hostile=False) as net:
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        yield net


def _config(net: LocalNetwork, path: Path, names: list[str] | None = None) -> Path:
    data = net.config()
    if names is not None:
        data["sites"] = [s for s in data["sites"] if s["name"] in names]
    path.write_text(yaml.safe_dump(data))
    return path


def _shapes(db, run_id: str) -> tuple[set[str], dict[tuple[str, str], set[str]]]:
    run = db.crawl_runs.find_one({"_id": run_id})
    fetches: dict[tuple[str, str], set[str]] = {}
    for row in db.fetches.find({"run_id": run_id}):
        fetches.setdefault((row["reason"], row["outcome"]), set()).update(row)
    return set(run), fetches


def test_newscrawl_crawl_and_scrapy_crawl_record_runs_of_the_same_shape(
    network, db, crawl_env, tmp_path
):
    config = _config(network, tmp_path / "sites.yaml", ["harbour-times"])
    result = newscrawl("crawl", "harbour-times", "--config", str(config), env=crawl_env)
    assert result.returncode == 0, result.stderr[-3000:]
    [cli_run] = db.crawl_runs.find()

    other = f"{db.name}_scrapy"
    scrapy = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "site=harbour-times"]
        + ["-a", f"config={config}", "-s", "LOG_LEVEL=WARNING"],
        cwd=REPO,
        env=dict(crawl_env, NEWSCRAWL_DB=other),
        capture_output=True,
        text=True,
        timeout=300,
    )
    second = connect(crawl_env["MONGODB_URI"], other)
    try:
        assert scrapy.returncode == 0, scrapy.stderr[-3000:]
        [scrapy_run] = second.crawl_runs.find()
        assert cli_run["outcome"] == scrapy_run["outcome"] == "ok"
        run_keys, fetch_shapes = _shapes(db, cli_run["_id"])
        scrapy_keys, scrapy_shapes = _shapes(second, scrapy_run["_id"])
        assert run_keys == scrapy_keys
        assert fetch_shapes == scrapy_shapes
        assert second.leases.count_documents({}) == 0
    finally:
        second.client.drop_database(other)


def test_a_busy_first_site_does_not_stop_the_others(network, db, crawl_env, tmp_path):
    config = _config(network, tmp_path / "sites.yaml", ["valley-gazette", "harbour-times"])
    lease = SiteLease(db, "valley-gazette", "someone-else", clock=utcnow)
    lease.acquire()
    try:
        result = newscrawl(
            "crawl",
            "valley-gazette",
            "harbour-times",
            "--config",
            str(config),
            "--json",
            env=crawl_env,
        )
    finally:
        lease.release()
    assert result.returncode == 1, result.stderr[-3000:]
    outcomes = {r["site"]: r["outcome"] for r in json.loads(result.stdout)}
    assert outcomes == {"valley-gazette": "skipped-busy", "harbour-times": "ok"}
    busy = db.crawl_runs.find_one({"site": "valley-gazette"})
    assert busy["outcome"] == "skipped-busy" and "already being crawled" in busy["error"]
    assert db.articles.count_documents({"site": "harbour-times"}) > 0
    assert db.articles.count_documents({"site": "valley-gazette"}) == 0


def test_three_crawl_all_at_once_never_crawl_a_site_twice_at_the_same_time(
    network, db, crawl_env, tmp_path
):
    config = _config(network, tmp_path / "sites.yaml")
    names = [s["name"] for s in network.config()["sites"]]
    crawls = [
        subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", "--all", "--config", str(config), "--json"],
            cwd=REPO,
            env=crawl_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [crawl.communicate(timeout=400) for crawl in crawls]
    for crawl, (out, err) in zip(crawls, outputs, strict=True):
        assert crawl.returncode in (0, 1), err[-3000:]
        assert {r["site"] for r in json.loads(out)} == set(names), err[-3000:]
    for name in names:
        runs = list(db.crawl_runs.find({"site": name}).sort("started_at", 1))
        assert {r["outcome"] for r in runs} <= {*OK, "skipped-busy"}, runs
        done = [r for r in runs if r["outcome"] in OK]
        assert done, f"{name} was never crawled: {runs}"
        for before, after in zip(done, done[1:], strict=False):  # one at a time
            assert before["finished_at"] <= after["started_at"], (before, after)
    assert db.crawl_runs.count_documents({"outcome": "running"}) == 0
    assert db.leases.count_documents({}) == 0
    assert verify(db, utcnow()) == []


# -- honest outcomes --------------------------------------------------------------------------

ROBOTS_CLOSED = {"/robots.txt": (200, b"User-agent: *\nDisallow: /\n")}


def _feed(port: int) -> tuple[int, bytes]:
    """An RSS feed of one article, at /a."""
    return 200, (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>a</title><link>http://127.0.0.1:{port}/a</link></item></channel></rss>"
    ).encode()


class _Pages(BaseHTTPRequestHandler):
    pages: dict[str, tuple[int, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status, body = self.pages.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_site() -> Iterator[Any]:
    servers = []

    def serve(pages: dict[str, tuple[int, bytes]]) -> int:
        handler = type("Pages", (_Pages,), {"pages": pages})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        pages.setdefault("/feed.xml", _feed(server.server_address[1]))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _site(name: str, port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    return {
        "name": name,
        "url": f"{base}/",
        "feeds": [f"{base}/feed.xml"],
        "allowed_domains": [f"127.0.0.1:{port}"],
        "allow_private_addresses": True,
        "politeness": {"delay": 0, "concurrency": 2, "autothrottle": False, "timeout": 2},
    }


def test_a_crawl_that_reaches_nothing_fails_with_its_reason(loopback_site, db, crawl_env, tmp_path):
    refused = free_port()  # nobody listens there
    closed = loopback_site(dict(ROBOTS_CLOSED))
    gone = loopback_site({"/feed.xml": (404, b"gone")})
    healthy = loopback_site({})  # its one article answers 404
    sites = [
        _site("refused", refused),
        _site("robots-closed", closed),
        _site("feed-gone", gone),
        _site("one-404", healthy),
    ]
    config = tmp_path / "sites.yaml"
    config.write_text(yaml.safe_dump({"sites": sites}))
    env = dict(crawl_env, NEWSCRAWL_JOURNAL=str(tmp_path / "journal"))
    result = newscrawl("crawl", "--all", "--config", str(config), "--json", env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    reported = {r["site"]: (r["outcome"], r["reason"]) for r in json.loads(result.stdout)}
    assert reported == {
        "refused": ("failed", "unreachable"),
        "robots-closed": ("failed", "blocked-by-robots"),
        "feed-gone": ("failed", "sources-failed"),
        "one-404": ("ok-with-errors", None),  # the site answered: one article is gone
    }
    for name, (outcome, reason) in reported.items():
        run = db.crawl_runs.find_one({"site": name})
        assert (run["outcome"], run.get("reason")) == (outcome, reason)
        assert run["consecutive_failures"] == (1 if outcome == "failed" else 0)
    again = newscrawl("crawl", "feed-gone", "--config", str(config), env=env)
    assert again.returncode == 1
    last = db.crawl_runs.find_one({"site": "feed-gone"}, sort=[("started_at", -1)])
    assert last["consecutive_failures"] == 2
    # status and the metrics say which sites fail, and for how long; the service is healthy
    status = json.loads(newscrawl("status", "--config", str(config), "--json", env=env).stdout)
    in_a_row = {row["site"]: row["last_run"]["consecutive_failures"] for row in status}
    assert in_a_row == {"refused": 1, "robots-closed": 1, "feed-gone": 2, "one-404": 0}
    metrics = ServiceMetrics(db, lambda: list(in_a_row), clock=utcnow)
    text = metrics.render().decode()
    assert 'newscrawl_consecutive_failed_runs{site="feed-gone"} 2.0' in text
    assert 'newscrawl_site_failing{site="refused"} 1.0' in text
    assert 'newscrawl_site_failing{site="one-404"} 0.0' in text
    assert metrics.health() == (True, "ok")


# -- time from the database ------------------------------------------------------------------


def test_a_process_whose_clock_runs_ahead_takes_no_live_lease_and_ends_no_live_run(
    db, tmp_path, monkeypatch
):
    """The lease's expiry and abandoned runs are judged by the server's clock: a process
    three minutes ahead (longer than a lease lives) finds the running crawl alive."""
    from crawler.run.lease import LeaseHeld
    from crawler.run.runner import prepare_store

    monkeypatch.setenv("NEWSCRAWL_JOURNAL", str(tmp_path / "journal"))
    live = SiteLease(db, "valley-gazette", "run-live", clock=utcnow)
    live.acquire()
    started = utcnow()
    db.crawl_runs.insert_many(
        [
            {"_id": "run-live", "site": "valley-gazette", "outcome": "running"},
            {"_id": "run-dead", "site": "harbour-times", "outcome": "running"},
        ]
    )
    db.crawl_runs.update_many({}, {"$set": {"started_at": started, "finished_at": None}})

    def ahead():
        return utcnow() + timedelta(minutes=3)

    try:
        with pytest.raises(LeaseHeld):
            SiteLease(db, "valley-gazette", "run-skewed", clock=ahead).acquire()
        prepare_store(db, ahead)  # what a crawl process does first
        assert db.crawl_runs.find_one({"_id": "run-live"})["outcome"] == "running"
        assert db.crawl_runs.find_one({"_id": "run-dead"})["outcome"] == "interrupted"
        assert verify(db, ahead()) == []
        assert live.renew() and not live.lost
    finally:
        live.release()


# -- the service ------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_closes_the_services_crawls_through_scrapy_and_logs_their_own_runs(
    tmp_path, db, crawl_env
):
    slow = {"delay": 0.5, "concurrency": 1, "autothrottle": False, "timeout": 5}
    names = ["valley-gazette", "harbour-times"]
    with LocalNetwork(seed=11, hostile=False, locals_per_site=30) as net:
        data = net.config()
        data["sites"] = [s for s in data["sites"] if s["name"] in names]
        for site in data["sites"]:
            site.update(politeness=slow, schedule={"every": "1h", "jitter": "0s"})
        config = tmp_path / "sites.yaml"
        config.write_text(yaml.safe_dump(data))
        earlier = utcnow() - timedelta(days=1)  # the site's previous run, which must not be named
        db.crawl_runs.insert_one(
            {"_id": "previous", "site": names[0], "outcome": "ok", "started_at": earlier}
        )
        env = dict(crawl_env, NEWSCRAWL_JOURNAL=str(tmp_path / "journal"))
        service = subprocess.Popen(
            [sys.executable, "scheduler.py", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_until(
                lambda: (
                    db.crawl_runs.count_documents({"outcome": "running"}) == 2
                    and all(db.articles.count_documents({"site": n}) for n in names)
                ),
                timeout=120,
            )
        finally:
            service.send_signal(signal.SIGTERM)
            _out, err = service.communicate(timeout=120)
    assert service.returncode == 0, err[-3000:]
    for name in names:
        [run] = db.crawl_runs.find({"site": name, "_id": {"$ne": "previous"}})
        # closed by Scrapy (counters, no "process ended"), not killed and found abandoned
        assert run["outcome"] == "interrupted", run
        assert "error" not in run and run["summary"]["new"] > 0, run
        assert f"crawl {name}: interrupted" in err and run["_id"] in err, err[-3000:]
    assert "previous" not in err


def test_a_sigterm_before_scrapy_runs_is_noted_not_fatal():
    """A crawl process told to stop while it prepares the store (before Scrapy installs its
    handlers) is not killed, which would leave its runs to be found abandoned: the signal
    is noted, and no crawl starts (crawler.run.runner.crawl_sites)."""
    import os

    from crawler.run.runner import EarlyStop

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop = EarlyStop.install()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signalled == signal.SIGTERM
        assert "SIGTERM before the crawl started" in stop.why()
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize(
    ("sources", "responses", "download_errors", "expected"),
    [
        # one source answered: the site is reachable, its other source's error is counted
        ({"f": ("error", "HTTP 404"), "s": ("fetched", "")}, 3, 0, ("ok-with-errors", None)),
        # a source never fetched (left for later, say) is no proof that all failed
        ({"f": ("error", "HTTP 404"), "s": None}, 1, 0, ("ok-with-errors", None)),
        # robots.txt refused one source, the other is gone: the sources failed
        (
            {"f": ("error", "f: RobotsRefused: Forbidden"), "s": ("error", "HTTP 410")},
            2,
            0,
            ("failed", "sources-failed"),
        ),
        ({"f": ("error", "f: RobotsRefused: Forbidden")}, 1, 0, ("failed", "blocked-by-robots")),
        ({"f": ("error", "f: TimeoutError: took longer")}, 0, 3, ("failed", "unreachable")),
        ({"f": ("not-modified", "")}, 1, 0, ("ok", None)),
    ],
)
def test_a_crawl_fails_only_when_it_reached_nothing_it_was_sent_for(
    sources, responses, download_errors, expected
):
    from crawler.run.outcomes import CrawlFacts, judge

    errors = sum(1 for seen in sources.values() if seen and seen[0] == "error")
    facts = CrawlFacts(
        "finished",
        responses=responses,
        download_errors=download_errors,
        errors=errors,
        sources=sources,
    )
    verdict = judge(facts)
    assert (verdict.outcome, verdict.reason) == expected


def test_failed_runs_in_a_row_count_failures_and_skip_runs_that_say_nothing_of_the_site():
    from crawler.run.outcomes import consecutive_failures

    count = 0
    for outcome, expected in [
        ("failed", 1),
        ("error", 2),
        ("skipped-busy", 2),
        ("interrupted", 2),
        ("timeout", 3),
        ("ok-with-errors", 0),
        ("failed", 1),
    ]:
        count = consecutive_failures(outcome, {"consecutive_failures": count})
        assert count == expected, outcome


# A crawl process whose SIGTERM arrives while its run is being opened: the signal is sent
# from the opening itself, so it always lands in that window (Scrapy's engine is not running
# yet, so CrawlerProcess has no crawl to close and stops the reactor at once).
SIGTERM_WHILE_OPENING = """
import os, signal, sys
from crawler.run import lifecycle
from crawler.cli.main import main

opened = lifecycle.RunLifecycle._open_run

def open_then_sigterm(self, spider):
    reason = opened(self, spider)
    os.kill(os.getpid(), signal.SIGTERM)
    return reason

lifecycle.RunLifecycle._open_run = open_then_sigterm
sys.exit(main(sys.argv[1:]))
"""


def test_a_sigterm_while_the_run_opens_ends_it_interrupted(network, tmp_path, db, crawl_env):
    config = _config(network, tmp_path / "sites.yaml", ["valley-gazette"])
    result = subprocess.run(
        [sys.executable, "-c", SIGTERM_WHILE_OPENING, "crawl", "valley-gazette"]
        + ["--config", str(config)],
        cwd=REPO,
        env=crawl_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    [run] = db.crawl_runs.find({"site": "valley-gazette"})
    # recorded by the crawl itself, not left running for another crawl to find abandoned
    assert run["outcome"] == "interrupted", (run, result.stderr[-3000:])
    assert "process ended" not in run.get("error", "")
    assert db.leases.find_one({"_id": "valley-gazette"}) is None  # released
    assert verify(db, utcnow()) == []


def test_a_killed_run_found_abandoned_does_not_restart_the_failed_count(db, crawl_env, tmp_path):
    """A crawl killed (SIGKILL, out of memory) is marked interrupted by the next process, with
    no count of its own: the site's failures in a row go on from the run before it."""
    config = tmp_path / "sites.yaml"
    config.write_text(yaml.safe_dump({"sites": [_site("refused", free_port())]}))
    now = utcnow()
    db.crawl_runs.insert_many(
        [
            {"_id": "r1", "site": "refused", "outcome": "failed", "consecutive_failures": 3}
            | {"started_at": now - timedelta(hours=2), "finished_at": now - timedelta(hours=2)},
            {"_id": "r2", "site": "refused", "outcome": "interrupted"}
            | {"started_at": now - timedelta(hours=1), "finished_at": now - timedelta(hours=1)}
            | {"error": "process ended before the run was recorded"},
        ]
    )
    env = dict(crawl_env, NEWSCRAWL_JOURNAL=str(tmp_path / "journal"))
    assert newscrawl("crawl", "refused", "--config", str(config), env=env).returncode == 1
    last = db.crawl_runs.find_one({"site": "refused"}, sort=[("started_at", -1)])
    assert (last["outcome"], last["consecutive_failures"]) == ("failed", 4)
