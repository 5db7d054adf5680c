"""`scrapy crawl news` exits as `newscrawl crawl` does: non-zero when its run did not end ok.

The installed `scrapy` command, from the repository root (scrapy.cfg), against loopback
sites: one nobody listens on (the run ends `failed`, unreachable) and one that answers
(`ok-with-errors`: its one article is gone).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import REPO, free_port
from tests.run.test_lifecycle import _site, loopback_site  # noqa: F401 - the fixture

SCRAPY = str(Path(sys.executable).parent / "scrapy")


def _scrapy_crawl(site: str, config: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SCRAPY, "crawl", "news", "-a", f"site={site}", "-a", f"config={config}"]
        + ["-s", "LOG_LEVEL=WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_scrapy_crawl_exits_1_when_the_run_failed_and_0_when_it_was_ok(
    loopback_site,  # noqa: F811 - the fixture imported above
    db,
    crawl_env,
    tmp_path,
):
    answering = loopback_site({})  # its feed lists one article, which answers 404
    sites = [_site("refused", free_port()), _site("answering", answering)]
    config = tmp_path / "sites.yaml"
    config.write_text(yaml.safe_dump({"sites": sites}))
    env = dict(crawl_env, NEWSCRAWL_JOURNAL=str(tmp_path / "journal"))

    failed = _scrapy_crawl("refused", config, env)
    run = db.crawl_runs.find_one({"site": "refused"})
    assert (run["outcome"], run["reason"]) == ("failed", "unreachable")
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "[refused] failed: no request got an answer" in failed.stderr

    ok = _scrapy_crawl("answering", config, env)
    assert db.crawl_runs.find_one({"site": "answering"})["outcome"] == "ok-with-errors"
    assert ok.returncode == 0, ok.stderr[-3000:]
