"""More than one crawl machine: the service dispatches crawls to two real Scrapyd daemons.

The project is deployed to both with scrapyd-client's `scrapyd-deploy` (an egg
built from the package, as users deploy it); the service runs in `scrapyd`
mode against the local news network; one daemon is killed mid-crawl.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from crawler.localnet import LocalNetwork
from tests.helpers import REPO, free_port, newscrawl, wait_until

SITES = ["valley-gazette", "harbour-times"]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read()).get("status") == "ok"
    except (OSError, ValueError):
        return False


class Node:
    """A Scrapyd daemon in a folder of its own, in a process group of its own (killing the
    group is a crawl machine dying: the daemon and the crawls it runs)."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir()
        (folder / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            f"eggs_dir = {folder / 'eggs'}\n"
            f"logs_dir = {folder / 'logs'}\n"
            f"dbs_dir = {folder / 'dbs'}\n"
            "items_dir =\n"
            "poll_interval = 0.5\n"
            "max_proc = 4\n"
            "jobs_to_keep = 50\n"
        )
        self.log = open(folder / "daemon.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"],
            cwd=folder,
            env=dict(env, CRAWLER_DATA=str(folder / "data")),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert wait_until(lambda: _answers(f"{self.url}/daemonstatus.json"), timeout=60), (
            folder / "daemon.log"
        ).read_text()[-3000:]

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
        with urllib.request.urlopen(f"{node.url}/listspiders.json?project=newscrawl") as response:
            assert json.loads(response.read())["spiders"] == ["news"]


def _service(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "scheduler.py", "--config", str(config)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_crawls_run_on_two_scrapyd_nodes_without_overlap_and_survive_a_dead_node(
    tmp_path, db, crawl_env
):
    env = dict(crawl_env, NEWSCRAWL_EXTRACT_WORKERS="1", CRAWLER_DATA=str(tmp_path / "data"))
    nodes = [Node(tmp_path / "node-a", env), Node(tmp_path / "node-b", env)]
    try:
        deploy(nodes, tmp_path)
        with LocalNetwork(seed=7, hostile=False) as net:
            data = net.config(delay=0.3)  # a crawl lasts seconds: time to kill its node
            data["sites"] = [s for s in data["sites"] if s["name"] in SITES]
            for site in data["sites"]:
                site["schedule"] = {"every": "2s", "jitter": "0s"}
            data["service"] = {
                "dispatcher": "scrapyd",
                "scrapyd": {
                    "nodes": [node.url for node in nodes],
                    "poll": "0.5s",
                    "node_down_after": "3s",
                },
            }
            config = tmp_path / "sites.yaml"
            config.write_text(yaml.safe_dump(data))
            service = _service(config, env)
            try:
                _run_the_scenario(db, nodes, service)
            finally:
                service.send_signal(signal.SIGTERM)
                try:
                    _out, err = service.communicate(timeout=90)
                except subprocess.TimeoutExpired:
                    service.kill()
                    _out, err = service.communicate()
                assert service.returncode == 0, err[-3000:]
        # nothing half-written anywhere: numbering, stories, aliases, runs
        left = list(db.crawl_runs.find({"outcome": {"$in": ["queued", "running"]}}))
        assert left == [], (left, list(db.leases.find()), err[-3000:])
        verify = newscrawl("verify", "--json", env=crawl_env)
        assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
    finally:
        for node in nodes:
            node.stop()


def _run_the_scenario(db, nodes: list[Node], service: subprocess.Popen[str]) -> None:
    a, b = nodes
    ok = {"outcome": {"$regex": "^ok"}, "dispatcher": "scrapyd"}
    # 1. runs land on both nodes, each recorded with its node and job
    assert wait_until(lambda: len(db.crawl_runs.distinct("node", ok)) == 2, timeout=180), list(
        db.crawl_runs.find({}, {"outcome": 1, "node": 1, "error": 1})
    )
    run = db.crawl_runs.find_one(ok)
    assert run["job"] and run["node"] in (a.url, b.url) and run["summary"]["pages"] > 0
    # 2. a node dies mid-crawl: its run ends interrupted, and the site is crawled on the other
    assert wait_until(
        lambda: db.crawl_runs.find_one({"node": a.url, "outcome": "running"}), timeout=120
    ), "no crawl was seen running on node a"
    victim = db.crawl_runs.find_one({"node": a.url, "outcome": "running"})
    a.kill()
    assert wait_until(
        lambda: db.crawl_runs.find_one({"_id": victim["_id"]})["outcome"] == "interrupted",
        timeout=60,
    ), db.crawl_runs.find_one({"_id": victim["_id"]})
    # said by the dispatcher (the node went silent) or by the next crawl to start anywhere
    # (the run's process is gone and its lease with it), whichever comes first
    error = db.crawl_runs.find_one({"_id": victim["_id"]})["error"]
    assert "stopped answering" in error or "process ended" in error, error
    assert wait_until(
        lambda: db.crawl_runs.find_one(
            {
                **ok,
                "site": victim["site"],
                "node": b.url,
                "started_at": {"$gt": victim["started_at"]},
            }
        ),
        timeout=120,
    )
    assert service.poll() is None
    # 3. no two crawls of one site overlapped, on whatever node they ran
    for site in SITES:
        crawled = sorted(
            db.crawl_runs.find(
                {"site": site, "outcome": {"$nin": ["skipped-busy", "queued"]}},
                {"started_at": 1, "finished_at": 1},
            ),
            key=lambda r: r["started_at"],
        )
        for earlier, later in zip(crawled, crawled[1:], strict=False):
            if earlier["finished_at"] is not None:
                assert earlier["finished_at"] <= later["started_at"], (site, earlier, later)
