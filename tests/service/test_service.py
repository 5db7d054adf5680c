"""The background service on the local news network, with short intervals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from crawler import env
from crawler.clock import utcnow
from crawler.localnet import LocalNetwork
from crawler.run.lease import LeaseHeld, SiteLease
from tests.helpers import REPO, free_port, newscrawl, own_server_env, wait_until

SITES = ["valley-gazette", "harbour-times"]


def _config(net, path, every="3s", sites=SITES):
    data = net.config()
    data["sites"] = [s for s in data["sites"] if s["name"] in sites]
    for site in data["sites"]:
        site["schedule"] = {"every": every, "jitter": "0s"}
    path.write_text(yaml.safe_dump(data))
    return path


def _start(config, env, *options):
    return subprocess.Popen(
        [sys.executable, "scheduler.py", "--config", str(config), *options],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(service, timeout=75):
    """SIGTERM, then the service must exit 0 within `timeout`; returns its stderr."""
    service.send_signal(signal.SIGTERM)
    try:
        _out, err = service.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        service.kill()
        _out, err = service.communicate()
        raise AssertionError(
            f"service did not stop within {timeout}s after SIGTERM:\n{err[-4000:]}"
        ) from None
    assert service.returncode == 0, err[-3000:]
    return err


@pytest.mark.slow
def test_service_runs_sites_on_schedule_without_overlap_and_stops_on_sigterm(
    tmp_path, db, crawl_env
):
    with LocalNetwork(seed=3, hostile=False) as net:
        config = _config(net, tmp_path / "sites.yaml")
        service = _start(config, crawl_env)
        try:
            assert wait_until(
                lambda: all(
                    db.crawl_runs.count_documents({"site": s, "outcome": {"$ne": "running"}}) >= 2
                    for s in SITES
                )
            ), service.stderr
            # a manual crawl while the site is busy is refused by the lease, not run twice
            for site in SITES:
                runs = sorted(
                    db.crawl_runs.find({"site": site, "finished_at": {"$ne": None}}),
                    key=lambda r: r["started_at"],
                )
                for earlier, later in zip(runs, runs[1:], strict=False):
                    assert earlier["finished_at"] <= later["started_at"], (
                        "two crawls of one site overlapped"
                    )
                assert {r["trigger"] for r in runs} == {"schedule"}
            status = json.loads(
                newscrawl("status", "--config", str(config), "--json", env=crawl_env).stdout
            )
            assert {row["site"] for row in status} == set(SITES)
            assert all(
                row["last_run"]["outcome"].startswith("ok") and row["next_run_at"] for row in status
            )
            # reload: a site removed from the file disappears from the schedule without a restart
            _config(net, config, sites=SITES[:1])
            time.sleep(7)
            before = db.crawl_runs.count_documents({"site": SITES[1]})
            time.sleep(7)
            assert db.crawl_runs.count_documents({"site": SITES[1]}) == before
            # an invalid config is rejected and the old one stays in force
            config.write_text("sites: [{name: Bad Name}]")
            runs_before = db.crawl_runs.count_documents({"site": SITES[0]})
            assert wait_until(
                lambda: db.crawl_runs.count_documents({"site": SITES[0]}) > runs_before + 1,
                timeout=60,
            )
        finally:
            err = _stop(service)
        assert "config reload rejected" in err
        assert db.crawl_runs.count_documents({"outcome": "running"}) == 0


@pytest.mark.slow
def test_manual_crawl_waits_for_the_lease(tmp_path, db, crawl_env):
    with LocalNetwork(seed=3, hostile=False) as net:
        config = _config(net, tmp_path / "sites.yaml")
        lease = SiteLease(db, "valley-gazette", "someone-else", clock=utcnow)
        lease.acquire()
        try:
            result = newscrawl(
                "crawl",
                "valley-gazette",
                "--config",
                str(config),
                "--json",
                env=crawl_env,
                check=False,
            )
            assert result.returncode == 1
            assert json.loads(result.stdout)[0]["outcome"] == "skipped-busy"
            other = SiteLease(db, "valley-gazette", "third", clock=utcnow)
            try:
                other.acquire()
                raise AssertionError("lease acquired twice")
            except LeaseHeld as exc:
                assert "already being crawled" in str(exc)
        finally:
            lease.release()
        assert (
            newscrawl("crawl", "valley-gazette", "--config", str(config), env=crawl_env).returncode
            == 0
        )


@pytest.mark.slow
def test_service_survives_a_killed_crawl_and_a_mongodb_restart(tmp_path, crawl_env):
    from crawler.store import connect
    from crawler.store.embedded import EmbeddedServer

    server = EmbeddedServer(tmp_path / "mongo")
    uri = server.start()
    port = int(uri.rsplit(":", 1)[1].strip("/"))
    env = own_server_env(crawl_env, uri, "svc", tmp_path)
    db = connect(uri, "svc")
    try:
        with LocalNetwork(seed=4, hostile=False) as net:
            data = net.config(delay=0.5)  # a crawl takes several seconds: time to kill it
            data["sites"] = [s for s in data["sites"] if s["name"] == "valley-gazette"]
            data["sites"][0]["schedule"] = {"every": "2s", "jitter": "0s"}
            config = tmp_path / "sites.yaml"
            config.write_text(yaml.safe_dump(data))
            service = _start(config, env)
            try:
                # 1. kill -9 a running crawl: the service carries on, the run is recorded as interrupted
                assert wait_until(
                    lambda: db.leases.find_one({"_id": "valley-gazette"}) is not None, timeout=60
                )
                victim = db.leases.find_one({"_id": "valley-gazette"})
                os.kill(victim["pid"], signal.SIGKILL)
                assert wait_until(
                    lambda: db.crawl_runs.count_documents({"outcome": {"$regex": "^ok"}}) >= 1,
                    timeout=120,
                )
                killed = db.crawl_runs.find_one({"_id": victim["run_id"]})
                assert killed["outcome"] == "interrupted"
                assert service.poll() is None
                # 2. MongoDB goes away and comes back: crawls resume without a restart of the service
                server.stop()
                time.sleep(6)
                assert service.poll() is None
                server = EmbeddedServer(tmp_path / "mongo", port=port)
                server.start()
                restarted_at = time.time()
                assert wait_until(
                    lambda: (
                        db.crawl_runs.count_documents(
                            {
                                "outcome": {"$regex": "^ok"},
                                "started_at": {"$gt": _utc(restarted_at)},
                            }
                        )
                        >= 1
                    ),
                    timeout=120,
                )
            finally:
                _stop(service)
    finally:
        server.stop()


def _utc(epoch: float):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc)


def test_restart_keeps_each_sites_rhythm():
    from datetime import datetime, timedelta, timezone

    from crawler.config import parse_config
    from crawler.service.app import first_run_time, trigger_for

    site = parse_config(
        "sites: [{name: a, url: 'https://a.example/', feeds: ['https://a.example/feed'], schedule: {every: 15m, jitter: 30s}}]"
    ).sites[0]
    now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    upcoming = now + timedelta(minutes=9)
    assert (
        first_run_time(site, {"next_run_at": upcoming}, now) == upcoming
    )  # not re-crawled at once
    assert (
        first_run_time(site, {"next_run_at": now - timedelta(hours=2)}, now) == now
    )  # due: runs once now
    assert first_run_time(site, None, now) == now  # never crawled
    trigger = trigger_for(site)
    assert trigger.interval == timedelta(minutes=15) and trigger.jitter == 30


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.slow
def test_service_serves_prometheus_metrics_and_a_health_check(tmp_path, crawl_env):
    from crawler.store import connect
    from crawler.store.embedded import EmbeddedServer

    server = EmbeddedServer(tmp_path / "mongo")
    uri = server.start()
    env = own_server_env(crawl_env, uri, "metrics", tmp_path)
    db = connect(uri, "metrics")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with LocalNetwork(seed=6, hostile=False) as net:
            # a site never crawled is crawled when the service starts; every hour, not every
            # 3 s: one finished crawl of each site is what the metrics are checked against
            config = _config(net, tmp_path / "sites.yaml", every="1h")
            service = _start(config, env, "--metrics-port", str(port))
            try:
                assert wait_until(lambda: _get(f"{base}/healthz")[0] == 200, timeout=60)
                # a crawl of each site finished and was counted by the service
                assert wait_until(
                    lambda: all(
                        f'newscrawl_runs_total{{outcome="ok",site="{site}"}}'
                        in _get(f"{base}/metrics")[1]
                        for site in SITES
                    ),
                    timeout=150,
                )
                status, text = _get(f"{base}/metrics")
                assert status == 200
                new = db.crawl_runs.find_one({"site": "valley-gazette", "outcome": "ok"})[
                    "summary"
                ]["new"]
                assert new > 0
                counted = re.search(
                    r'newscrawl_new_articles_total\{site="valley-gazette"\} (\S+)', text
                )
                assert counted and float(counted.group(1)) >= new  # summed over the service's runs
                for name in (
                    'newscrawl_last_run_outcome{outcome="ok",site="valley-gazette"} 1.0',
                    'newscrawl_last_run_pages_fetched{site="harbour-times"}',
                    'newscrawl_next_run_timestamp_seconds{site="valley-gazette"}',
                    'newscrawl_crawl_duration_seconds_bucket{le="60.0",site="valley-gazette"}',
                    'newscrawl_crawls_running{site="valley-gazette"}',
                    "newscrawl_store_up 1.0",
                    'newscrawl_extraction_drift{site="valley-gazette"} 0.0',
                ):
                    assert name in text, name
                # MongoDB away: the service is not healthy, and says why
                server.stop()
                assert wait_until(lambda: _get(f"{base}/healthz")[0] == 503, timeout=30)
                assert "MongoDB" in _get(f"{base}/healthz")[1]
                assert "newscrawl_store_up 0.0" in _get(f"{base}/metrics")[1]
            finally:
                server.start()
                _stop(service)
    finally:
        server.stop()


def test_the_service_schedules_from_its_clock_and_the_stored_rhythm(tmp_path, db, crawl_env):
    """Scheduling decisions read the service's clock, so this test advances one instead of
    waiting: a site never crawled is due at once, a restart keeps a stored next run, and a
    run that fell due while the service was down happens at the restart."""
    from datetime import datetime, timedelta, timezone

    from crawler.clock import SteppedClock
    from crawler.service.app import Service

    config = tmp_path / "sites.yaml"
    config.write_text(
        "sites: [{name: a, url: 'https://a.example/', feeds: ['https://a.example/feed'], "
        "schedule: {every: 15m, jitter: 0s}}]"
    )
    clock = SteppedClock(datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc))

    def next_run_after_start() -> datetime:
        service = Service(str(config), clock=clock, child_env={})
        try:
            service.schedule_all()
            return db.schedules.find_one({"_id": "a"})["next_run_at"]
        finally:
            service.db.client.close()

    first = clock()
    assert next_run_after_start() == first  # never crawled: due now
    assert db.schedules.find_one({"_id": "a"})["updated_at"] == first
    upcoming = clock() + timedelta(minutes=9)
    db.schedules.update_one({"_id": "a"}, {"$set": {"next_run_at": upcoming}})
    clock.advance(timedelta(minutes=2))  # a restart two minutes later keeps the rhythm
    assert next_run_after_start() == upcoming
    clock.advance(timedelta(hours=3))  # down for hours: the missed run happens at the restart
    assert next_run_after_start() == clock()


def test_a_child_that_found_its_site_busy_is_logged_with_its_own_run(
    tmp_path, db, crawl_env, monkeypatch
):
    """Another process (a second service, a manual crawl) holds the site: the child ends
    skipped-busy, and the service logs that run, not the other crawl's running one."""
    import logging
    from datetime import timedelta

    from crawler.clock import utcnow
    from crawler.service.app import Service

    port = free_port()
    config = tmp_path / "sites.yaml"
    config.write_text(
        f"sites: [{{name: a, url: 'http://127.0.0.1:{port}/', "
        f"feeds: ['http://127.0.0.1:{port}/feed.xml'], allow_private_addresses: true}}]"
    )
    monkeypatch.setenv("NEWSCRAWL_JOURNAL", str(tmp_path / "journal"))  # the child's too
    other = SiteLease(db, "a", "other-run", clock=utcnow)
    other.acquire()
    later = utcnow() + timedelta(minutes=1)  # the other crawl's run is the site's latest
    db.crawl_runs.insert_one(
        {"_id": "other-run", "site": "a", "outcome": "running", "started_at": later}
        | {"finished_at": None, "pid": 1, "host": "elsewhere"}
    )
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("newscrawl.service").addHandler(handler)
    service = Service(str(config), utcnow, env.child_environment({}))
    try:
        service.run_site("a")
    finally:
        logging.getLogger("newscrawl.service").removeHandler(handler)
        other.release()
        service.db.client.close()
    own = db.crawl_runs.find_one({"site": "a", "_id": {"$ne": "other-run"}})
    assert own["outcome"] == "skipped-busy", own
    [finished] = [r.fields for r in records if getattr(r, "fields", {}).get("event")]
    assert (finished["run_id"], finished["outcome"]) == (own["_id"], "skipped-busy"), finished
