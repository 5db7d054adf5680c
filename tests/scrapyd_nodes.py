"""Real Scrapyd daemons for the tests: one set up as the docker-compose `scrapyd` service
is (the package installed, `scrapyd` run in a copy of config/, no egg), or one with a
scrapyd.conf of its own that takes a deployed egg."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.helpers import REPO, free_port, wait_until


def call(
    url: str, data: dict[str, str] | None = None, auth: tuple[str, str] | None = None
) -> tuple[int, str]:
    """A GET (or POST with `data`) to a node: (HTTP status, body)."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _answers(url: str, auth: tuple[str, str] | None) -> bool:
    try:
        status, body = call(url, auth=auth)
        return status == 200 and json.loads(body).get("status") == "ok"
    except (OSError, ValueError):
        return False


PORT_ATTEMPTS = 3


class Node:
    """A Scrapyd daemon in a folder of its own, in a process group of its own (killing the
    group is a crawl machine dying: the daemon and the crawls it runs).

    `shipped`: started as docker-compose starts the `scrapyd` service: the `scrapyd`
    command in a copy of config/ (its scrapyd.conf and runner as they are), beside a
    copy of scrapy.cfg as in the image's /app; only the address and folders are moved
    by a ~/.scrapyd.conf (Scrapyd reads it after scrapyd.conf). Otherwise a scrapyd.conf
    of its own, for a deployed egg (with NEWSCRAWL_NODE_EGGS=1 in `env`).
    """

    def __init__(self, folder: Path, env: dict[str, str], shipped: bool = False):
        self.folder = folder
        folder.mkdir()
        self.auth = (
            (env["SCRAPYD_USERNAME"], env["SCRAPYD_PASSWORD"])
            if env.get("SCRAPYD_USERNAME")
            else None
        )
        env = dict(env, NEWSCRAWL_DATA=str(folder / "data"), HOME=str(folder / "home"))
        (folder / "home").mkdir()
        if shipped:
            shutil.copytree(REPO / "config", folder / "app" / "config")
            shutil.copy(REPO / "scrapy.cfg", folder / "app" / "scrapy.cfg")
        # the port is free when chosen, but another test's daemon may bind it before this
        # one does, and would then answer in its place ("project 'newscrawl' not found"
        # from a node that has no egg yet): wait for this daemon's own "listening" line,
        # and start again on another port if it could not bind
        for _attempt in range(PORT_ATTEMPTS):
            self._start(env, shipped)
            started = wait_until(
                lambda: self._listening() or self.process.poll() is not None, timeout=60
            )
            if started and self._listening():
                break
            self.stop()
        else:
            raise AssertionError(f"no Scrapyd daemon listening: {self.daemon_log()}")
        assert wait_until(
            lambda: _answers(f"{self.url}/daemonstatus.json", self.auth), timeout=60
        ), self.daemon_log()

    def _start(self, env: dict[str, str], shipped: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder = self.folder
        conf = (
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            f"eggs_dir = {folder / 'eggs'}\n"
            f"logs_dir = {folder / 'logs'}\n"
            f"dbs_dir = {folder / 'dbs'}\n"
            "poll_interval = 0.5\n"
            "max_proc = 4\n"
        )
        if shipped:
            (folder / "home" / ".scrapyd.conf").write_text(conf)
            command = [str(Path(sys.executable).parent / "scrapyd")]
            cwd = folder / "app" / "config"
        else:
            (folder / "scrapyd.conf").write_text(
                conf + "items_dir =\njobs_to_keep = 50\nrunner = crawler.run.scrapyd_runner\n"
            )
            command = [sys.executable, "-m", "scrapyd"]
            cwd = folder
        self.log = open(folder / "daemon.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _listening(self) -> bool:
        """Twisted's line for this daemon's own socket on this node's port."""
        log = (self.folder / "daemon.log").read_text(errors="replace")
        return f"Site starting on {self.port}\n" in log

    def daemon_log(self) -> str:
        return (self.folder / "daemon.log").read_text(errors="replace")[-3000:]

    def job_log(self, job: str) -> str:
        path = self.folder / "logs" / "newscrawl" / "news" / f"{job}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def job_state(self, job: str) -> str | None:
        _status, body = call(f"{self.url}/listjobs.json?project=newscrawl", auth=self.auth)
        for state, entries in json.loads(body).items():
            if isinstance(entries, list) and any(e.get("id") == job for e in entries):
                return state
        return None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self.log.close()


def deploy(nodes: list[Node], tmp_path: Path) -> None:
    """`scrapyd-deploy -a` from a copy of the project, whose scrapy.cfg names the nodes."""
    source = tmp_path / "project"
    source.mkdir()
    for name in ("crawler", "spiders"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "setup.py", "scrapy.cfg"):
        shutil.copy(REPO / name, source / name)
    targets = "".join(
        f"\n[deploy:node{i}]\nurl = {node.url}/\nproject = newscrawl\n"
        for i, node in enumerate(nodes)
    )
    with open(source / "scrapy.cfg", "a", encoding="utf-8") as cfg:
        cfg.write(targets)
    deploy_command = Path(sys.executable).parent / "scrapyd-deploy"
    result = subprocess.run(
        [str(deploy_command), "-a", "-p", "newscrawl"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for node in nodes:
        _status, body = call(f"{node.url}/listspiders.json?project=newscrawl", auth=node.auth)
        assert json.loads(body)["spiders"] == ["news"]
