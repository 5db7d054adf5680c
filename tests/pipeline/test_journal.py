"""Nothing is lost when MongoDB goes away mid-crawl: pages are journalled and replayed,
and the crawl keeps fetching meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crawler.localnet import LocalNetwork
from crawler.store import connect
from crawler.store.embedded import EmbeddedServer
from tests.helpers import REPO, newscrawl, own_server_env, wait_until


@pytest.mark.slow
def test_server_stopped_mid_crawl_loses_nothing_and_never_blocks_the_crawl(tmp_path, crawl_env):
    server = EmbeddedServer(tmp_path / "mongo")
    uri = server.start()
    env = own_server_env(crawl_env, uri, "journaltest", tmp_path)
    try:
        with LocalNetwork(seed=5, hostile=False) as net:
            data = net.config(delay=0.4)
            data["sites"] = [s for s in data["sites"] if s["name"] == "valley-gazette"]
            import yaml

            config = tmp_path / "sites.yaml"
            config.write_text(yaml.safe_dump(data))
            expected = len(
                [
                    p
                    for p in net.world.sites["valley-gazette"].live_posts(net.clock.now())
                    if not p.old
                ]
            )
            on_loop = tmp_path / "commands-on-the-event-loop.json"
            crawl = subprocess.Popen(
                [
                    sys.executable,
                    str(REPO / "tests" / "reactor_watch.py"),
                    str(on_loop),
                    "crawl",
                    "valley-gazette",
                    "--config",
                    str(config),
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # sources fetched, articles being fetched (a fixed sleep lost the race under load)
            assert wait_until(lambda: _articles_served(net) >= 3, step=0.05), "no article fetched"
            server.stop()  # MongoDB goes away mid-crawl
            _out, err = crawl.communicate(timeout=240)
            journal_files = list((tmp_path / "journal").glob("journal-*.jsonl"))
            assert journal_files, err[-3000:]
            assert "spooling pages" in err
            # no MongoDB call was made from Scrapy's event loop, before or during the outage:
            # a call there stops every download until the driver gives up (seconds a call)
            assert json.loads(on_loop.read_text()) == []
            spooled = sum(
                1
                for path in journal_files
                for line in path.read_text().splitlines()
                if json.loads(line).get("type") == "page"
            )
            server = EmbeddedServer(tmp_path / "mongo", port=int(uri.rsplit(":", 1)[1].strip("/")))
            server.start()
            db = connect(uri, "journaltest")
            stored_before = db.articles.count_documents({})
            assert stored_before < expected
            # the crawl went on fetching the whole site while MongoDB was away
            assert stored_before + spooled >= expected
            again = newscrawl(
                "--log-level",
                "WARNING",
                "crawl",
                "valley-gazette",
                "--config",
                str(config),
                env=env,
            )
            assert "replayed" in again.stderr
            assert db.articles.count_documents({}) == expected
            assert db.versions.count_documents({}) == expected
            assert not list((tmp_path / "journal").glob("journal-*"))
            runs = list(db.crawl_runs.find({}, {"outcome": 1}))
            assert "running" not in {r["outcome"] for r in runs}
    finally:
        server.stop()


def _articles_served(net: LocalNetwork) -> int:
    with net.traffic.lock:
        return sum(
            1 for site, path, _ in net.traffic.paths if site == "valley-gazette" and "/20" in path
        )
