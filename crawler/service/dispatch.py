"""Where a scheduled crawl runs: a child process here (`local`) or a job on a Scrapyd node.

The service decides *when* a site is crawled (crawler.service.app); a dispatcher
decides *where*, runs the crawl there and reports how it ended. Both run the
same spider with the same arguments, and in both the crawl itself takes the
site's lease in MongoDB, so a scheduled crawl, a Scrapyd job and a manual
`newscrawl crawl` of one site never overlap, wherever they run.

`ScrapydDispatcher` drives Scrapyd's JSON API through scrapyd-client's
`ScrapydClient`: `daemonstatus.json` to find the least-busy node that
answers, `schedule.json` to start the job (the site's configuration travels
as a job argument, so nodes need no shared files), `listjobs.json` to follow
it, `cancel.json` past the site's `crawl_timeout`. A node that stops
answering mid-job for `node_down_after` leaves the run `interrupted`; the
site is due again on the next tick and goes to a node that answers.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from pymongo.errors import PyMongoError

from crawler import env
from crawler.clock import Clock
from crawler.config import ScrapydSettings, ServiceSettings, Site
from crawler.crawl.ledger import new_run_id

log = logging.getLogger("newscrawl.dispatch")

KILL_GRACE_S = 10.0
STOP_GRACE_S = 60.0  # a cancelled Scrapyd job is followed this long to its end
SPIDER = "news"


@dataclass
class Dispatched:
    """How one dispatched crawl ended, for the service's log and metrics."""

    exit_code: int
    run_id: str | None = None
    node: str | None = None
    job: str | None = None
    detail: str = ""
    pid: int | None = None  # a local child's: its run records it (crawler.crawl.ledger)


class Dispatcher(Protocol):
    def run(self, site: Site, config_text: str, stopping: threading.Event) -> Dispatched: ...

    def running_jobs(self) -> dict[str, int]: ...

    def stop_all(self, grace_s: float) -> None: ...


@dataclass(frozen=True)
class ServiceContext:
    """What the service gives a dispatcher it makes: its settings, store, clock, and how a
    local child is started (its interpreter, the config snapshot it reads, and its whole
    environment, built by the service's entry: crawler.env.child_environment)."""

    settings: ServiceSettings
    db: Any
    clock: Clock
    python: str
    snapshot_path: str
    child_env: Mapping[str, str]


# -- local child processes --------------------------------------------------------------


@dataclass
class LocalDispatcher:
    """Each crawl a child process of the service (`python -m crawler crawl SITE`): a crash,
    hang or leak stays in the child, and the OS takes it all back."""

    python: str
    config_path: str  # the snapshot of the config in force, which the child reads
    environment: Mapping[str, str]  # the child's whole environment, as the service decided it
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_service(cls, context: ServiceContext) -> LocalDispatcher:
        return cls(context.python, context.snapshot_path, context.child_env)

    def run(self, site: Site, config_text: str, stopping: threading.Event) -> Dispatched:
        limit = site.crawl_timeout.total_seconds() + 60
        cmd = [self.python, "-m", "crawler", "crawl", site.name]
        cmd += ["--trigger", "schedule", "--config", self.config_path]
        with self.lock:  # atomic with stop_all's snapshot: no child starts after it
            if stopping.is_set():
                return Dispatched(-1, detail="service stopping")
            child = subprocess.Popen(  # its own process group: a kill takes its workers too
                cmd,
                env=dict(self.environment),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self.children[site.name] = child
        try:
            _out, err = child.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            log.error("crawl %s: exceeded %.0fs, stopping it", site.name, limit)
            terminate(child)
            err = b""
        finally:
            with self.lock:
                self.children.pop(site.name, None)
        tail = (err or b"").decode("utf-8", "replace").strip().splitlines()[-3:]
        return Dispatched(child.returncode, detail=" | ".join(tail), pid=child.pid)

    def running_jobs(self) -> dict[str, int]:
        with self.lock:
            return {"local": len(self.children)}

    def stop_all(self, grace_s: float) -> None:
        """SIGTERM every running crawl (Scrapy closes it as 'shutdown'), wait, then kill."""
        with self.lock:
            children = list(self.children.items())
        for _name, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for name, child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("crawl %s did not stop in time; killing it", name)
                kill_group(child)


def terminate(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        kill_group(child)


def kill_group(child: subprocess.Popen[bytes]) -> None:
    """Kill a crawl and its extraction workers (the group start_new_session made)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    child.wait()


# -- Scrapyd nodes -----------------------------------------------------------------------


class NodeDown(Exception):
    """A Scrapyd node did not answer (or answered with an error: NodeRefused)."""


class NodeRefused(NodeDown):
    """A Scrapyd node answered, with an error; the message is what it said."""


class ScrapydNode:
    """One Scrapyd daemon, through scrapyd-client's ScrapydClient (credentials from
    SCRAPYD_USERNAME / SCRAPYD_PASSWORD)."""

    def __init__(self, url: str, project: str):
        from scrapyd_client.pyclient import ScrapydClient

        self.url = url.rstrip("/")
        self.project = project
        self.client = ScrapydClient(
            self.url,
            username=env.get("SCRAPYD_USERNAME"),
            password=env.get("SCRAPYD_PASSWORD"),
        )

    def _call(self, action: Callable[[], Any]) -> Any:
        import requests
        from scrapyd_client.exceptions import ErrorResponse, MalformedResponse

        try:
            return action()
        except ErrorResponse as exc:
            raise NodeRefused(f"{self.url} answered: {exc}"[:600]) from exc
        except MalformedResponse as exc:  # e.g. 401 Unauthorized: credentials missing or wrong
            text = " ".join(str(exc).split())
            raise NodeRefused(f"{self.url} answered (not JSON): {text}"[:600]) from exc
        except (requests.RequestException, KeyError) as exc:
            raise NodeDown(f"{self.url}: {exc.__class__.__name__}: {exc}"[:300]) from exc

    def load(self) -> int:
        """Jobs running or waiting on the node."""
        status = self._call(self.client.daemonstatus)
        return int(status.get("running", 0)) + int(status.get("pending", 0))

    def schedule(self, args: dict[str, str]) -> str:
        return str(
            self._call(lambda: self.client.schedule(self.project, SPIDER, list(args.items())))
        )

    def state_of(self, job: str) -> str:
        """'pending', 'running', 'finished', or 'unknown' (the daemon forgot it: restarted)."""
        jobs = self._call(lambda: self.client.jobs(self.project))
        for state in ("pending", "running", "finished"):
            if any(entry.get("id") == job for entry in jobs.get(state, [])):
                return state
        return "unknown"

    def cancel(self, job: str) -> None:
        self._call(lambda: self.client.cancel(self.project, job))


def expand_nodes(urls: list[str], discover: bool) -> list[str]:
    """The node URLs; with `discover`, one per address of each host name (the replicas of
    `docker compose up --scale scrapyd=3` share one name)."""
    if not discover:
        return list(urls)
    found: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 6800
        try:
            infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
        except OSError as exc:
            log.warning("scrapyd: cannot resolve %s (%s)", host, exc)
            continue
        for address in sorted({info[4][0] for info in infos}):
            found.append(urlunsplit((parts.scheme, f"{address}:{port}", parts.path, "", "")))
    return found


class ScrapydDispatcher:
    """Each due crawl a job on the least-busy Scrapyd node that answers."""

    def __init__(self, settings: ScrapydSettings, db: Any, clock: Clock):
        self.settings = settings
        self.db = db
        self.clock = clock
        self.poll_s = settings.poll.total_seconds()
        self.down_after_s = settings.node_down_after.total_seconds()
        self._running: dict[str, str] = {}  # site -> node URL
        self._last_used: dict[str, float] = {}  # node URL -> when it was last given a job
        self._lock = threading.Lock()

    @classmethod
    def for_service(cls, context: ServiceContext) -> ScrapydDispatcher:
        settings = context.settings.scrapyd
        if settings is None:  # ServiceSettings refuses it at load time; said again for mypy
            raise ValueError("dispatcher 'scrapyd' needs a 'scrapyd' section with its nodes")
        log.info("crawls run on Scrapyd nodes: %s", ", ".join(settings.nodes))
        return cls(settings, context.db, context.clock)

    def stop_all(self, grace_s: float) -> None:
        """Nothing to do here: each job's follower cancels it once `stopping` is set."""

    def nodes(self) -> list[ScrapydNode]:
        urls = expand_nodes(self.settings.nodes, self.settings.discover)
        return [ScrapydNode(url, self.settings.project) for url in urls]

    def ranked_nodes(self) -> list[ScrapydNode]:
        """The nodes that answer, least busy first; ties go to the node given a job longest ago,
        so equally idle nodes take turns."""
        answering: list[tuple[int, float, int, ScrapydNode]] = []
        for order, node in enumerate(self.nodes()):
            try:
                load = node.load()
            except NodeDown as exc:
                log.warning("scrapyd node down: %s", exc)
                continue
            with self._lock:  # among equally busy nodes, the one given a job longest ago
                last = self._last_used.get(node.url, 0.0)
            answering.append((load, last, order, node))
        return [entry[3] for entry in sorted(answering, key=lambda t: t[:3])]

    def running_jobs(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {url: 0 for url in self.settings.nodes}
            for url in self._running.values():
                counts[url] = counts.get(url, 0) + 1
            return counts

    def run(self, site: Site, config_text: str, stopping: threading.Event) -> Dispatched:
        run_id = new_run_id(site.name, self.clock())
        args = {
            "site": site.name,
            "config_text": config_text,
            "trigger": "schedule",
            "run_id": run_id,
            "setting": f"CLOSESPIDER_TIMEOUT={site.crawl_timeout.total_seconds():.0f}",
        }
        refused: list[str] = []
        for node in self.ranked_nodes():
            try:
                job = node.schedule(args)
            except NodeDown as exc:
                log.warning("crawl %s: could not schedule on %s: %s", site.name, node.url, exc)
                refused.append(str(exc))
                continue
            log.info("crawl %s: job %s on %s (run %s)", site.name, job, node.url, run_id)
            self._record_job(run_id, site.name, node.url, job)
            with self._lock:
                self._running[site.name] = node.url
                self._last_used[node.url] = time.monotonic()
            try:
                return self._follow(site, node, job, run_id, stopping)
            finally:
                with self._lock:
                    self._running.pop(site.name, None)
        if refused:  # the nodes answered: say what they said
            return Dispatched(1, run_id=None, detail="no node took the job: " + "; ".join(refused))
        return Dispatched(1, run_id=None, detail="no Scrapyd node answered")

    def _record_job(self, run_id: str, site: str, node: str, job: str) -> None:
        """The run's record names its node and job from the start (the job's spider fills
        in the rest: crawler.crawl.ledger.RunLedger.start)."""
        try:
            self.db.crawl_runs.update_one(
                {"_id": run_id},
                {
                    "$set": {"dispatcher": "scrapyd", "node": node, "job": job},
                    "$setOnInsert": {
                        "site": site,
                        "trigger": "schedule",
                        "started_at": self.clock(),
                        "finished_at": None,
                        "outcome": "queued",
                        "counters": {},
                    },
                },
                upsert=True,
            )
        except PyMongoError as exc:
            log.warning("run %s: could not record its node and job: %s", run_id, exc)

    def _follow(
        self,
        site: Site,
        node: ScrapydNode,
        job: str,
        run_id: str,
        stopping: threading.Event,
    ) -> Dispatched:
        """Poll the job until it ends. Past the site's time, or when the service stops, it is
        cancelled (Scrapy closes it and records it `interrupted`) and followed to its end,
        at most STOP_GRACE_S longer, so that the service stops only once its jobs have."""
        limit_s = site.crawl_timeout.total_seconds() + 60
        started = time.monotonic()
        silent_since: float | None = None
        cancelled_at: float | None = None
        while True:
            try:
                state = node.state_of(job)
                silent_since = None
            except NodeDown as exc:
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since >= self.down_after_s:
                    detail = f"node {node.url} stopped answering mid-job ({exc})"
                    self._interrupt(run_id, detail)
                    return Dispatched(1, run_id, node.url, job, detail)
                state = "unreachable"
            if state == "finished":
                self._end_unrecorded(run_id, node.url, job)
                return Dispatched(0, run_id, node.url, job)
            if state == "unknown":
                detail = f"node {node.url} no longer knows job {job} (the daemon restarted)"
                self._interrupt(run_id, detail)
                return Dispatched(1, run_id, node.url, job, detail)
            overdue = time.monotonic() - started > limit_s
            if (overdue or stopping.is_set()) and cancelled_at is None and state != "unreachable":
                why = "the service is stopping" if stopping.is_set() else f"past {limit_s:.0f}s"
                log.warning("crawl %s: cancelling job %s on %s (%s)", site.name, job, node.url, why)
                try:
                    node.cancel(job)
                    cancelled_at = time.monotonic()
                except NodeDown as exc:
                    log.warning("crawl %s: cancel failed: %s", site.name, exc)
            if cancelled_at is not None and time.monotonic() - cancelled_at > STOP_GRACE_S:
                return Dispatched(1, run_id, node.url, job, "cancelled; still stopping")
            if stopping.is_set():
                time.sleep(self.poll_s)
            else:
                stopping.wait(self.poll_s)

    def _end_unrecorded(self, run_id: str, node: str, job: str) -> None:
        """A job that ended without its crawl recording an end (cancelled while pending,
        refused by the node's checks, or its process died): its run is interrupted."""
        detail = f"job {job} on {node} ended before its crawl recorded an end (see its log)"
        try:
            ended = self.db.crawl_runs.update_one(
                {"_id": run_id, "outcome": {"$in": ["queued", "running"]}},
                {"$set": {"outcome": "interrupted", "finished_at": self.clock(), "error": detail}},
            )
        except PyMongoError as exc:
            log.warning("run %s: could not look at its end: %s", run_id, exc)
            return
        if ended.modified_count:
            log.error("run %s: %s", run_id, detail)

    def _interrupt(self, run_id: str, detail: str) -> None:
        """The job's process is gone with its node: its run ends as interrupted (unless the
        spider recorded its own end before the node went)."""
        log.error("run %s: %s", run_id, detail)
        try:
            self.db.crawl_runs.update_one(
                {"_id": run_id, "outcome": {"$in": ["queued", "running"]}},
                {"$set": {"outcome": "interrupted", "finished_at": self.clock(), "error": detail}},
            )
        except PyMongoError as exc:
            log.warning("run %s: could not mark it interrupted: %s", run_id, exc)


# the dispatchers by the name `service.dispatcher` gives in the config, as Scrapy names its
# components in settings: a new one is a class with `for_service`, `run`, `running_jobs` and
# `stop_all`, and an entry here (and in ServiceSettings.dispatcher's names)
DISPATCHERS: dict[str, Callable[[ServiceContext], Dispatcher]] = {
    "local": LocalDispatcher.for_service,
    "scrapyd": ScrapydDispatcher.for_service,
}
