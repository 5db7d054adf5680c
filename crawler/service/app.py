"""The background service: one APScheduler 3 job per site, each crawl in its own process.

Where a crawl runs is the dispatcher's business (crawler.service.dispatch): a child
process of the service (`local`, the default) or a job on a Scrapyd node
(`scrapyd`, for more than one crawl machine).

Why child processes: a crawl that crashes, hangs or leaks cannot take the
service down or grow its memory — the child exits and the OS takes it all back
(measured against in-process schedulers: docs/design/concurrency.md; it is what
Scrapyd does). The child is
`python -m crawler crawl SITE --trigger schedule`, the same code path as a
manual crawl, and takes the site's lease in MongoDB, so a manual crawl and a
scheduled one never overlap either.

Schedules survive restarts: each site's next run time is kept in the
`schedules` collection and restored at start-up, so a restart neither
re-crawls everything at once nor skips a crawl that fell due while it was down
(a due crawl runs once, coalesced).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pymongo.errors import PyMongoError

from crawler.clock import Clock, utcnow
from crawler.config import (
    Config,
    ConfigError,
    Schedule,
    ScrapydSettings,
    ServiceSettings,
    Site,
    load_config,
)
from crawler.run.runner import mark_abandoned_runs
from crawler.service.dispatch import DISPATCHERS, Dispatcher, ServiceContext
from crawler.service.metrics import MetricsServer, ServiceMetrics
from crawler.store import ensure_indexes, open_database
from crawler.store.reads import latest

log = logging.getLogger("newscrawl.service")

STOP_GRACE_S = 30.0
CONFIG_POLL_S = 5.0


JITTER_FRACTION = 0.1  # a site's jitter is at most a tenth of its interval


def jitter_seconds(schedule: Schedule) -> float | None:
    """The jitter applied to an interval schedule: as configured, capped at JITTER_FRACTION
    of the interval. APScheduler adds up to this much to every fire time, so an uncapped
    default (30 s) on a 10 s schedule would more than halve the crawls asked for."""
    if schedule.interval is None or not schedule.jitter_seconds:
        return None
    return min(float(schedule.jitter_seconds), schedule.interval.total_seconds() * JITTER_FRACTION)


def trigger_for(site: Site) -> IntervalTrigger | CronTrigger:
    schedule = site.schedule
    if schedule.interval is not None:
        return IntervalTrigger(
            seconds=schedule.interval.total_seconds(),
            jitter=jitter_seconds(schedule),
            timezone=timezone.utc,
        )
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=timezone.utc)


def next_run_after_change(
    trigger: IntervalTrigger | CronTrigger,
    last_started: datetime | None,
    planned: datetime | None,
    now: datetime,
) -> datetime:
    """When a site whose schedule changed is crawled next: the new schedule's next time after
    its last run (now, if that is already past). A site never crawled keeps its planned
    first run. Taking `now` and the last run, not the wall clock, keeps this testable."""
    if last_started is None:
        return planned or now
    due = trigger.get_next_fire_time(_aware(last_started), now)
    return max(due, now) if due is not None else now


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def first_run_time(site: Site, stored: dict[str, Any] | None, now: datetime) -> datetime:
    """When the site's first crawl after a (re)start is due.

    A site never crawled runs now; one crawled before keeps its rhythm from the
    last start, and one whose crawl fell due while the service was down runs now.
    """
    if not stored or not stored.get("next_run_at"):
        return now
    due = stored["next_run_at"]
    if due.tzinfo is None:
        due = due.replace(tzinfo=timezone.utc)
    return max(due, now)


class Service:
    def __init__(
        self,
        config_path: str,
        clock: Clock,
        child_env: Mapping[str, str],
        python: str = sys.executable,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        dispatch: ServiceSettings | None = None,
    ):
        self.clock = clock  # first runs and the times stored in `schedules`; tests advance it
        self.config_path = str(config_path)
        self.python = python
        self.child_env = dict(child_env)  # what each local crawl runs with, decided by the entry
        self.dispatch = dispatch  # scheduler.py --dispatcher: wins over the file's `service`
        self.config: Config = self._load()
        self._snapshot_dir = tempfile.TemporaryDirectory(prefix="newscrawl-service-")
        self.snapshot_path = str(Path(self._snapshot_dir.name) / "sites.yaml")
        self._write_snapshot()
        self.db = open_database()
        ensure_indexes(self.db)
        self.scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=max(2, min(8, len(self.config.sites))))
            },
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=timezone.utc,
        )
        self.scheduler.add_listener(self._job_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self._scheduled: dict[str, Schedule] = {}  # the schedule each site's job was made with
        self._last_started: dict[str, datetime] = {}  # by this process; else from `schedules`
        self.stopping = threading.Event()
        self.alerts_every_s = 30.0  # crawler.service.notify's pass (newscrawl demo --serve: faster)
        self.dispatcher: Dispatcher = self._dispatcher()
        self._config_mtime = _mtime(self.config_path)
        self._reload_requested = threading.Event()
        self.metrics = ServiceMetrics(
            self.db,
            lambda: self.config.names,
            jobs=lambda: self.dispatcher.running_jobs(),
            clock=self.clock,
        )
        self.metrics_server = (
            MetricsServer(self.metrics, metrics_port, metrics_host)
            if metrics_port is not None
            else None
        )

    def _load(self) -> Config:
        config = load_config(self.config_path)
        if self.dispatch is not None:
            config = config.model_copy(update={"service": self.dispatch})
        return config

    def _dispatcher(self) -> Dispatcher:
        settings = self.config.service
        context = ServiceContext(
            settings, self.db, self.clock, self.python, self.snapshot_path, self.child_env
        )
        return DISPATCHERS[settings.dispatcher](context)

    # -- jobs ------------------------------------------------------------------------

    def schedule_all(self) -> None:
        now = self.clock()
        try:
            stored = {doc["_id"]: doc for doc in self.db.schedules.find()}
        except PyMongoError as exc:  # MongoDB away: what this process knows is enough
            log.warning("could not read the stored schedules: %s", exc)
            stored = {}
        wanted = set(self.config.names)
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
                self._scheduled.pop(job.id, None)
                log.info("site %s removed from the schedule", job.id)
        for site in self.config.sites:
            self._schedule(site, stored.get(site.name), now)

    def _schedule(self, site: Site, stored: dict[str, Any] | None, now: datetime) -> None:
        trigger = trigger_for(site)
        grace = int((site.schedule.interval or timedelta(minutes=30)).total_seconds())
        existing = self.scheduler.get_job(site.name)
        if existing is not None:
            self._reschedule(existing, site, trigger, stored, now)
            existing.modify(misfire_grace_time=grace, args=[site.name])
            self._scheduled[site.name] = site.schedule
            self._save_next(site.name)  # so `status` and /metrics show the true next run
            return
        self._scheduled[site.name] = site.schedule
        self.scheduler.add_job(
            self.run_site,
            trigger=trigger,
            args=[site.name],
            id=site.name,
            name=f"crawl {site.name}",
            next_run_time=first_run_time(site, stored, now),
            misfire_grace_time=grace,
            replace_existing=True,
        )
        self._save_next(site.name)

    def _reschedule(
        self,
        job: Any,
        site: Site,
        trigger: IntervalTrigger | CronTrigger,
        stored: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        """On a reload: an unchanged schedule keeps its next run time (APScheduler's
        `reschedule` would start a full interval from now, so frequent reloads starved
        the site); a changed one is recomputed from the site's last run."""
        if self._scheduled.get(site.name) == site.schedule:
            return
        last = self._last_started.get(site.name) or (stored or {}).get("last_started")
        when = next_run_after_change(trigger, last, job.next_run_time, now)
        job.modify(trigger=trigger, next_run_time=when)
        log.info("site %s: schedule now %s, next run %s", site.name, site.schedule.describe(), when)

    def _save_next(self, name: str, **fields: Any) -> None:
        site = self._site(name)
        update = {
            "schedule": site.schedule.describe() if site else None,
            "service_pid": os.getpid(),
            "updated_at": self.clock(),
            **fields,
        }
        # While stopping, APScheduler's shutdown holds its job-store lock and waits for
        # job threads: asking it for the job from one of them would deadlock.
        if not self.stopping.is_set():
            job = self.scheduler.get_job(name)
            update["next_run_at"] = job.next_run_time if job else None
        try:
            self.db.schedules.update_one({"_id": name}, {"$set": update}, upsert=True)
        except Exception as exc:  # MongoDB away: the schedule still runs from memory
            log.warning("could not save the schedule of %s: %s", name, exc)

    def _write_snapshot(self) -> None:
        """Children read the config in force, not the file, which may be mid-edit or invalid."""
        data = self.config.model_dump(mode="json", exclude_unset=True)
        Path(self.snapshot_path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def _site(self, name: str) -> Site | None:
        return next((s for s in self.config.sites if s.name == name), None)

    def run_site(self, name: str) -> int:
        """One scheduled crawl, where the dispatcher runs it, bounded by the site's crawl_timeout."""
        site = self._site(name)
        if site is None or self.stopping.is_set():
            return -1
        started = self.clock()
        self._last_started[name] = started
        self._save_next(name, last_started=started, running=True)
        log.info("crawl %s: starting", name)
        # the child's run starts after this, by its clock: the service's (both read the wall
        # clock in production; a stepped service clock is for tests that start no crawl)
        since = self.clock() - timedelta(seconds=1)
        result = self.dispatcher.run(site, self._job_config(site), self.stopping)
        code = result.exit_code
        try:
            last = self._run_of(name, result.run_id, since, result.pid)
        except PyMongoError:
            last = None  # MongoDB away: the crawl journalled its pages; the log line stays short
        fields: dict[str, Any] = {"event": "crawl_finished", "site": name, "exit": code}
        if result.node:
            fields.update(node=result.node, job=result.job)
        if last:
            fields.update(
                run_id=last["_id"],
                outcome=last.get("outcome"),
                reason=last.get("reason"),
                error=last.get("error"),
                summary=last.get("summary"),
                consecutive_failures=last.get("consecutive_failures"),
            )
            self.metrics.run_finished(name, last)
        outcome = str(fields.get("outcome") or "no run recorded")
        log.log(
            logging.INFO if code == 0 and outcome.startswith("ok") else logging.WARNING,
            "crawl %s: %s",
            name,
            describe_crawl(fields, result.detail),
            extra={"fields": fields},
        )
        self._save_next(name, last_finished=self.clock(), last_exit=code, running=False)
        return code

    def _run_of(
        self, name: str, run_id: str | None, since: datetime, pid: int | None = None
    ) -> dict[str, Any] | None:
        """The run this crawl recorded: by its id when the dispatcher knows it, else the
        site's latest run started after the child was (never an earlier run of the site),
        and by the child's pid: a child that found the site busy was logged with the
        running run of the crawl that held it (another service's, a manual crawl's)."""
        if run_id:
            return self.db.crawl_runs.find_one({"_id": run_id})
        mine = {"pid": pid, "host": socket.gethostname()} if pid else {}
        run = latest(self.db.crawl_runs, {"site": name, **mine}, "started_at", self.clock())
        if run and run.get("started_at") and _aware(run["started_at"]) >= since:
            return run
        return None

    def _job_config(self, site: Site) -> str:
        """The config a crawl of `site` needs, as text: a Scrapyd job carries it as an argument,
        so the nodes share no files with the service."""
        data = {
            "user_agent": self.config.user_agent,
            "sites": [site.model_dump(mode="json", exclude_unset=True)],
        }
        return yaml.safe_dump(data, sort_keys=False)

    def _job_done(self, event: JobExecutionEvent) -> None:
        if event.exception is not None:
            log.error("job %s raised %r; the service carries on", event.job_id, event.exception)
        if not self.stopping.is_set():
            self._save_next(event.job_id)

    # -- reload and stop --------------------------------------------------------------

    def request_reload(self, *_: Any) -> None:
        self._reload_requested.set()

    def reload(self) -> bool:
        """Load the config again; an invalid one is rejected and the old one stays in force."""
        try:
            config = self._load()
        except ConfigError as exc:
            log.error("config reload rejected, keeping the previous config:\n%s", exc)
            return False
        changed_dispatch = config.service != self.config.service
        self.config = config
        self._write_snapshot()
        if changed_dispatch:  # running crawls finish where they are; new ones go the new way
            self.dispatcher = self._dispatcher()
        self.schedule_all()
        log.info("config reloaded: %d sites (%s)", len(config.sites), ", ".join(config.names))
        return True

    def _watch_config(self) -> None:
        mtime = _mtime(self.config_path)
        if mtime != self._config_mtime:
            self._config_mtime = mtime
            self._reload_requested.set()

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def run_forever(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, self.request_reload)
        self.schedule_all()
        self.scheduler.start()
        threading.Thread(target=self._alerts, name="newscrawl-alerts", daemon=True).start()
        if self.metrics_server is not None:
            self.metrics_server.start()
            log.info("metrics on port %d: /metrics, /healthz", self.metrics_server.port)
        log.info("service started: %d sites from %s", len(self.config.sites), self.config_path)
        print(
            f"newscrawl service running: {len(self.config.sites)} sites; Ctrl-C or SIGTERM stops it",
            flush=True,
        )
        while not self.stopping.wait(CONFIG_POLL_S / 5):
            self.metrics.beat()
            self._watch_config()
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self.reload()
        self._shutdown()
        return 0

    def _alerts(self) -> None:
        """Change alerts (crawler.service.notify): record and send every `alerts_every_s`, in a thread of
        its own, so a slow receiver never delays a crawl or the schedule."""
        from crawler.service.notify import run_once

        while not self.stopping.wait(self.alerts_every_s):
            try:
                run_once(self.db, self.config.notify, self.clock(), within_s=20)
            except Exception:  # never the service's end: the next pass tries again
                log.exception("change alerts: pass failed")

    def _shutdown(self) -> None:
        """Stop scheduling, ask running crawls to stop (Scrapy closes them as 'shutdown'), wait,
        then kill; Scrapyd jobs are cancelled by their followers once `stopping` is set."""
        log.info("stopping: %s", self.dispatcher.running_jobs())
        self.scheduler.pause()
        self.dispatcher.stop_all(STOP_GRACE_S)
        self.scheduler.shutdown(wait=True)
        try:  # a child stopped before Scrapy took over its signals left its run open
            mark_abandoned_runs(self.db)
        except PyMongoError as exc:
            log.warning("could not close abandoned runs: %s", exc)
        for name in self.config.names:
            self._save_next(name, running=False)
        if self.metrics_server is not None:
            self.metrics_server.stop()
        print("newscrawl service stopped", flush=True)


def describe_crawl(fields: dict[str, Any], detail: str = "") -> str:
    """The text log's line for a finished crawl: its outcome, reason, counters and run id."""
    outcome = fields.get("outcome") or "no run recorded"
    head = f"{outcome} ({fields['reason']})" if fields.get("reason") else str(outcome)
    summary = fields.get("summary") or {}
    counters = " ".join(f"{k}={v}" for k, v in summary.items() if v)
    parts = [f"{head} [{counters or 'nothing fetched'}]"]
    if fields.get("consecutive_failures"):
        parts.append(f"{fields['consecutive_failures']} failed runs in a row")
    parts.append(f"run {fields.get('run_id', '-')}, exit {fields.get('exit')}")
    line = ", ".join(parts)
    if fields.get("error"):
        return f"{line}: {fields['error']}"
    if detail and fields.get("exit"):
        return f"{line}: {detail}"
    return line


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log shippers; run events carry their fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from crawler.config import config_path
    from crawler.store.session import store_session

    parser = argparse.ArgumentParser(
        prog="scheduler.py", description="Run the newscrawl background service."
    )
    parser.add_argument(
        "--config", help="config file (default $NEWSCRAWL_CONFIG or config/sites.yaml)"
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics and /healthz on PORT (0: any free port)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address to serve them on (default loopback; 0.0.0.0 inside a container network)",
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="json: one object per line"
    )
    parser.add_argument(
        "--dispatcher",
        choices=["local", "scrapyd"],
        help="where crawls run (overrides the config's service.dispatcher)",
    )
    parser.add_argument(
        "--scrapyd-node",
        action="append",
        default=[],
        metavar="URL",
        help="a Scrapyd node, with --dispatcher scrapyd (repeat for several)",
    )
    parser.add_argument(
        "--scrapyd-discover",
        action="store_true",
        help="one node per address of each node's host name (docker compose --scale scrapyd=N)",
    )
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if args.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.INFO), handlers=[handler]
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    path = config_path(args.config)
    try:
        # The service holds the embedded store for its whole life, and starts it again if it
        # dies: a command that started it earlier and ends meanwhile leaves it running
        # (crawler.store.embedded.SharedStore).
        label = f"the service (scheduler.py, pid {os.getpid()})"
        with store_session(label=label, keep=True) as session:
            service = Service(
                str(path),
                utcnow,  # the service's entry: the one place it reads the wall clock
                session.child_env(),  # and decides what its crawls run with
                metrics_port=args.metrics_port,
                metrics_host=args.metrics_host,
                dispatch=_dispatch_override(args),
            )
            return service.run_forever()
    except (ConfigError, ValueError) as exc:
        print(f"scheduler.py: {exc}", file=sys.stderr)
        return 2


def _dispatch_override(args: Any) -> ServiceSettings | None:
    """--dispatcher and its nodes, as the config's `service` section they replace."""
    if args.dispatcher is None:
        return None
    if args.dispatcher == "local":
        return ServiceSettings()
    if not args.scrapyd_node:
        raise ValueError("--dispatcher scrapyd needs at least one --scrapyd-node URL")
    nodes = ScrapydSettings(nodes=args.scrapyd_node, discover=args.scrapyd_discover)
    return ServiceSettings(dispatcher="scrapyd", scrapyd=nodes)
