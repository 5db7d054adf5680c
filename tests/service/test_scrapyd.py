"""More than one crawl machine: the service dispatches crawls to two real Scrapyd daemons.

One is set up as the docker-compose `scrapyd` service is (the package installed,
`scrapyd` run in config/, no egg); the project is deployed to the other with
scrapyd-client's `scrapyd-deploy` (an egg built from the package, as users deploy
it, on a node that takes eggs on purpose). The service runs in `scrapyd` mode
against the local news network; the egg's daemon is killed mid-crawl.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crawler.localnet import LocalNetwork
from tests.helpers import REPO, installed_env, newscrawl, wait_until
from tests.scrapyd_nodes import Node, deploy

SITES = ["valley-gazette", "harbour-times"]


def _service(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "scheduler.py", "--config", str(config)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_crawls_run_on_two_scrapyd_nodes_without_overlap_and_survive_a_dead_node(
    tmp_path, db, crawl_env, installed
):
    env = dict(
        crawl_env,
        NEWSCRAWL_EXTRACT_WORKERS="1",
        NEWSCRAWL_DATA=str(tmp_path / "data"),
        NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES="1",  # the local news network is on loopback
    )
    eggs = dict(env, NEWSCRAWL_NODE_EGGS="1")
    nodes = [
        Node(tmp_path / "node-a", eggs),
        Node(tmp_path / "node-b", installed_env(env, installed), shipped=True),
    ]
    try:
        deploy(nodes[:1], tmp_path)
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
