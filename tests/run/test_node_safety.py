"""A crawl node is safe to expose: Scrapyd asks for credentials, and a job's arguments
cannot widen what the node does (crawler.run.jobargs, crawler.run.scrapyd_runner).

Unit tests of the argument checks, then one real node started as the compose service
starts it (installed package, `scrapyd` in config/), with credentials from the
environment, and jobs sent to it as any caller could.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from crawler.clock import utcnow
from crawler.config import ScrapydSettings, parse_config
from crawler.localnet import LocalNetwork
from crawler.run import jobargs
from crawler.service.dispatch import NodeRefused, ScrapydDispatcher, ScrapydNode
from spiders.news import NewsSpider
from tests.helpers import installed_env, wait_until
from tests.scrapyd_nodes import Node, call

SITE = """
sites:
  - name: valley-gazette
    url: https://valley.example/
    feeds: [https://valley.example/feed]
    allow_private_addresses: {allow}
"""


def _text(allow: bool) -> str:
    return SITE.format(allow=str(allow).lower())


# -- job arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"_job": "j1", "allowed_domains": "internal.example"},
        {"_job": "j1", "start_urls": "http://10.0.0.1/"},
        {"_job": "j1", "managed": "1"},  # would skip the site's lease
        {"_job": "j1", "clock": "x"},
    ],
)
def test_a_job_with_an_argument_the_dispatcher_never_sends_is_refused(extra):
    with pytest.raises(jobargs.JobRefused, match="not accepted"):
        jobargs.job_config("valley-gazette", None, _text(False), dict(extra), environ={})


def test_the_arguments_the_dispatcher_sends_are_accepted():
    extra = {"_job": "j1", "_version": "r1", "clock": None}
    config = jobargs.job_config("valley-gazette", None, _text(False), extra, environ={})
    assert config.site("valley-gazette").feeds == ["https://valley.example/feed"]


def test_a_job_may_not_allow_private_addresses_without_the_node_s_opt_in():
    job = {"_job": "j1"}
    with pytest.raises(jobargs.JobRefused, match=jobargs.ALLOW_PRIVATE_ENV):
        jobargs.job_config("valley-gazette", None, _text(True), job, environ={})
    opted_in = {jobargs.ALLOW_PRIVATE_ENV: "1"}
    config = jobargs.job_config("valley-gazette", None, _text(True), job, environ=opted_in)
    assert config.site("valley-gazette").allow_private_addresses
    # a crawl started by hand on the machine is its user's own
    assert jobargs.job_config("valley-gazette", None, _text(True), {}, environ={})


def test_a_job_s_config_path_must_be_in_the_node_s_config_folder(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "sites.yaml").write_text(_text(False))
    (tmp_path / "elsewhere.yaml").write_text(_text(True))
    (folder / "link.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    env = {jobargs.CONFIG_DIR_ENV: str(folder)}
    job = {"_job": "j1"}
    for outside in [
        str(tmp_path / "elsewhere.yaml"),
        "../elsewhere.yaml",
        str(folder / ".." / "elsewhere.yaml"),
        "link.yaml",  # a link out of the folder
        "/etc/passwd",
    ]:
        with pytest.raises(jobargs.JobRefused, match="outside this node's config folder"):
            jobargs.job_config("valley-gazette", outside, None, job, environ=env)
    inside = jobargs.job_config(
        "valley-gazette", str(folder / "sites.yaml"), None, job, environ=env
    )
    assert inside.site("valley-gazette")
    # a relative path is read from the folder it was checked against, wherever the node runs
    relative = jobargs.job_config("valley-gazette", "sites.yaml", None, job, environ=env)
    assert not relative.site("valley-gazette").allow_private_addresses


def test_the_spider_checks_its_job_arguments_before_anything_else():
    with pytest.raises(jobargs.JobRefused):
        NewsSpider(site="valley-gazette", config_text=_text(False), _job="j1", db="other")


def test_a_job_s_scrapy_settings_are_refused_but_the_dispatcher_s_and_scrapyd_s_own():
    argv = ["crawl", "news", "-s", "CLOSESPIDER_TIMEOUT=60", "-s", "LOG_FILE=/x/j.log"]
    argv += ["-s", "FEEDS=/home/crawler/.bashrc", "--set=JOBDIR=/tmp", "-sX=1", "-a", "s=x"]
    names = jobargs.settings_in(argv)
    assert names == ["CLOSESPIDER_TIMEOUT", "LOG_FILE", "FEEDS", "JOBDIR", "X"]
    # Scrapyd sets LOG_FILE itself when its logs_dir is configured (its value wins)
    assert jobargs.refused_settings(names, {"logs_dir": "/logs"}) == ["FEEDS", "JOBDIR", "X"]
    assert jobargs.refused_settings(names, {}) == ["FEEDS", "JOBDIR", "LOG_FILE", "X"]


# -- a real node ---------------------------------------------------------------------------

CREDENTIALS = ("crawl-dispatch", "a/b+c=:p@ss")


@pytest.fixture
def node(tmp_path, crawl_env, installed):
    env = installed_env(crawl_env, installed)
    env.update(SCRAPYD_USERNAME=CREDENTIALS[0], SCRAPYD_PASSWORD=CREDENTIALS[1])
    env.pop(jobargs.ALLOW_PRIVATE_ENV, None)
    started = Node(tmp_path / "node", env, shipped=True)
    try:
        yield started
    finally:
        started.stop()


def _egg() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as egg:
        egg.writestr("EGG-INFO/entry_points.txt", "[scrapy]\nsettings = crawler.settings\n")
    return data.getvalue()


def test_a_node_with_credentials_refuses_callers_without_them(node, monkeypatch):
    schedule = {"project": "newscrawl", "spider": "news", "site": "valley-gazette"}
    assert call(f"{node.url}/schedule.json", schedule)[0] == 401
    upload = {"project": "newscrawl", "version": "r1", "egg": _egg()}
    assert call(f"{node.url}/addversion.json", upload)[0] == 401  # type: ignore[arg-type]
    assert call(f"{node.url}/addversion.json", upload, auth=("crawl-dispatch", "wrong"))[0] == 401  # type: ignore[arg-type]
    # the dispatcher sends the credentials from its environment
    monkeypatch.setenv("SCRAPYD_USERNAME", CREDENTIALS[0])
    monkeypatch.setenv("SCRAPYD_PASSWORD", CREDENTIALS[1])
    assert ScrapydNode(node.url, "newscrawl").load() == 0
    monkeypatch.delenv("SCRAPYD_PASSWORD")
    with pytest.raises(NodeRefused, match="answered"):
        ScrapydNode(node.url, "newscrawl").load()


def test_a_node_as_shipped_runs_the_installed_package_and_refuses_an_egg(node):
    status, body = call(f"{node.url}/listspiders.json?project=newscrawl", auth=node.auth)
    assert json.loads(body)["spiders"] == ["news"]
    upload = {"project": "newscrawl", "version": "r1", "egg": _egg()}
    status, body = call(f"{node.url}/addversion.json", upload, auth=node.auth)  # type: ignore[arg-type]
    answer = json.loads(body)
    assert answer["status"] == "error" and "NEWSCRAWL_NODE_EGGS" in answer["message"]


def _schedule(node: Node, **args: str) -> str:
    data = {"project": "newscrawl", "spider": "news", **args}
    _status, body = call(f"{node.url}/schedule.json", data, auth=node.auth)
    answer = json.loads(body)
    assert answer["status"] == "ok", answer
    job = answer["jobid"]
    assert wait_until(lambda: node.job_state(job) == "finished", timeout=120), node.daemon_log()
    return job


def test_a_job_cannot_write_files_through_scrapy_settings(node, tmp_path):
    target = tmp_path / "written.jl"
    _schedule(node, site="valley-gazette", config_text=_text(False), setting=f"FEEDS={target}")
    assert not target.exists()
    assert "FEEDS not accepted" in node.daemon_log()


def test_a_job_cannot_point_a_node_at_its_local_network(node, tmp_path):
    with LocalNetwork(seed=3, hostile=False) as net:
        data = net.config()  # its sites are on loopback and allow private addresses
        data["sites"] = [s for s in data["sites"] if s["name"] == "valley-gazette"]
        net.traffic.reset()
        job = _schedule(node, site="valley-gazette", config_text=yaml.safe_dump(data))
        assert net.traffic.totals()[0] == 0
    assert "allow_private_addresses" in node.job_log(job), node.job_log(job)[-3000:]


def test_a_job_cannot_read_a_config_outside_the_node_s_folder(node, tmp_path):
    outside = Path(tmp_path / "elsewhere.yaml")
    outside.write_text(_text(True))
    job = _schedule(node, site="valley-gazette", config=str(outside))
    assert "outside this node's config folder" in node.job_log(job), node.job_log(job)[-3000:]


def test_when_no_node_takes_a_job_the_service_says_what_the_node_answered(node, db, monkeypatch):
    monkeypatch.setenv("SCRAPYD_USERNAME", CREDENTIALS[0])
    monkeypatch.setenv("SCRAPYD_PASSWORD", CREDENTIALS[1])
    site = parse_config(_text(False)).site("valley-gazette")
    settings = ScrapydSettings(nodes=[node.url], project="newscrawl-typo")
    result = ScrapydDispatcher(settings, db, utcnow).run(site, _text(False), threading.Event())
    assert result.exit_code == 1
    assert f"{node.url} answered" in result.detail
    assert "project 'newscrawl-typo' not found" in result.detail


@pytest.mark.parametrize("runner", ["crawler.run.scrapyd_runner", "crawler.scrapyd_runner"])
def test_the_runner_refuses_a_widening_job_under_its_old_path_too(runner, tmp_path):
    """scrapyd.conf files of older releases name `crawler.scrapyd_runner`: it still starts
    jobs through the same checks."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", runner, "crawl", "news", "-s", "FEEDS={}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "not accepted by this node" in done.stderr
