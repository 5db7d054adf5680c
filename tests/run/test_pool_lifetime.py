"""No extraction worker outlives the crawl process that owns it: `newscrawl crawl` (its
runner owns the pool) and `scrapy crawl news` (the item pipeline owns one) close their
pool, and wait for its workers, before they exit, whether the crawl ends by itself or
is stopped by SIGTERM as the service stops it.

The workers also watch their parent and leave within seconds of its death (a SIGKILL
leaves no time to close anything; tests/crawl's test covers that): so the check here is
made the moment the crawl process has exited, before that watch could act. (Python's own
exit joins an executor left open too; tests/pipeline/test_workers.py checks that closing
the pool itself waits for its workers.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from crawler.localnet import LocalNetwork
from tests.helpers import REPO


@pytest.fixture
def network(tmp_path, crawl_env) -> Iterator[LocalNetwork]:
    with LocalNetwork(seed=11, hostile=False) as net:
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        crawl_env["NEWSCRAWL_EXTRACT_WORKERS"] = "2"
        yield net


def _config(net: LocalNetwork, path: Path) -> Path:
    data = net.config()
    data["sites"] = [s for s in data["sites"] if s["name"] == "valley-gazette"]
    path.write_text(yaml.safe_dump(data))
    return path


def _workers_of(pid: int) -> set[int]:
    """The extraction workers among the process's children (not multiprocessing's
    resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _follow(crawl: subprocess.Popen[bytes], stop_when_workers: bool) -> set[int]:
    """Every worker the crawl started while it ran; SIGTERM it once it has some."""
    seen: set[int] = set()
    deadline = time.monotonic() + 180
    while crawl.poll() is None and time.monotonic() < deadline:
        seen |= _workers_of(crawl.pid)
        if stop_when_workers and seen:
            crawl.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    crawl.wait(120)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "stopped"), [("newscrawl", True), ("scrapy", False)], ids=["sigterm", "ends"]
)
def test_no_extraction_worker_outlives_its_crawl(network, crawl_env, tmp_path, command, stopped):
    config = _config(network, tmp_path / "sites.yaml")
    if command == "newscrawl":
        cmd = [sys.executable, "-m", "crawler", "crawl", "valley-gazette", "--config", str(config)]
    else:
        cmd = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "site=valley-gazette"]
        cmd += ["-a", f"config={config}"]
    crawl = subprocess.Popen(
        cmd, cwd=REPO, env=crawl_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    workers = _follow(crawl, stop_when_workers=stopped)
    assert workers, "the crawl started no extraction workers"
    assert [pid for pid in workers if _running(pid)] == []
