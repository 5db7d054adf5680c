"""Config reloads and schedules (issue 29.5): a reload keeps each unchanged site's next run, a
changed schedule counts from the site's last run, jitter stays a fraction of the interval,
and the next-run metric tells the truth after a reload. The service's clock is advanced,
nothing sleeps."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import yaml

from crawler.clock import SteppedClock
from crawler.config import parse_config
from crawler.service.app import Service, trigger_for

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def _write(path, schedules: dict[str, dict]) -> None:
    sites = [
        {
            "name": name,
            "url": f"https://{name}.example/",
            "feeds": [f"https://{name}.example/feed"],
            "schedule": schedule,
        }
        for name, schedule in schedules.items()
    ]
    path.write_text(yaml.safe_dump({"sites": sites}))


def _next_metric(service: Service, site: str) -> datetime:
    text = service.metrics.render().decode()
    found = re.search(rf'newscrawl_next_run_timestamp_seconds\{{site="{site}"\}} (\S+)', text)
    assert found, text
    return datetime.fromtimestamp(float(found.group(1)), timezone.utc)


def test_a_reload_keeps_unchanged_sites_next_run_and_recomputes_changed_ones(
    tmp_path, db, crawl_env
):
    config = tmp_path / "sites.yaml"
    _write(config, {"a": {"every": "15m", "jitter": "0s"}, "b": {"every": "90s", "jitter": "0s"}})
    # both crawled at T0 (as a previous service run left them): next runs at T0+15m, T0+90s
    for name, period in (("a", timedelta(minutes=15)), ("b", timedelta(seconds=90))):
        db.schedules.insert_one({"_id": name, "last_started": T0, "next_run_at": T0 + period})
    clock = SteppedClock(T0 + timedelta(seconds=10))
    service = Service(str(config), clock=clock, child_env={})
    try:
        service.schedule_all()

        def next_run(name: str) -> datetime:
            return service.scheduler.get_job(name).next_run_time

        assert next_run("a") == T0 + timedelta(minutes=15)
        assert next_run("b") == T0 + timedelta(seconds=90)
        # the file touched every 20 s, as an editor or a config-management tool does: nothing moves
        for _ in range(4):
            clock.advance(20)
            assert service.reload()
            assert next_run("a") == T0 + timedelta(minutes=15)
            assert next_run("b") == T0 + timedelta(seconds=90)
        assert db.schedules.find_one({"_id": "b"})["next_run_at"] == T0 + timedelta(seconds=90)
        assert _next_metric(service, "b") == T0 + timedelta(seconds=90)
        # a's schedule changed: counted from its last run, b untouched
        _write(
            config, {"a": {"every": "10m", "jitter": "0s"}, "b": {"every": "90s", "jitter": "0s"}}
        )
        assert service.reload()
        assert next_run("a") == T0 + timedelta(minutes=10)
        assert next_run("b") == T0 + timedelta(seconds=90)
        assert _next_metric(service, "a") == T0 + timedelta(minutes=10)
        assert db.schedules.find_one({"_id": "a"})["schedule"] == "every 10m"
        # shorter than the time since the last run: due now, not in the past
        _write(
            config, {"a": {"every": "1m", "jitter": "0s"}, "b": {"every": "90s", "jitter": "0s"}}
        )
        assert service.reload()
        assert next_run("a") == clock()
        # to a cron expression: its next time after the last run
        _write(
            config,
            {"a": {"cron": "*/30 * * * *", "jitter": "0s"}, "b": {"every": "90s", "jitter": "0s"}},
        )
        assert service.reload()
        assert next_run("a") == T0 + timedelta(minutes=30)
        assert _next_metric(service, "a") == T0 + timedelta(minutes=30)
        # a site crawled by this service since: its own start time counts, not the stored one
        service._last_started["a"] = T0 + timedelta(minutes=5)
        _write(
            config, {"a": {"every": "15m", "jitter": "0s"}, "b": {"every": "90s", "jitter": "0s"}}
        )
        assert service.reload()
        assert next_run("a") == T0 + timedelta(minutes=20)
    finally:
        service.db.client.close()


def test_jitter_is_capped_at_a_tenth_of_the_interval():
    def jitter(schedule: str) -> float | None:
        text = (
            "sites: [{name: a, url: 'https://a.example/', feeds: ['https://a.example/feed'], "
            f"schedule: {schedule}}}]"
        )
        return trigger_for(parse_config(text).sites[0]).jitter

    assert jitter("{every: 10s}") == 1.0  # the default 30 s would exceed the interval
    assert jitter("{every: 15m}") == 30  # the default, well under the cap
    assert jitter("{every: 1h, jitter: 20m}") == 360
    assert jitter("{every: 15m, jitter: 0s}") is None
