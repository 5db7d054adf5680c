"""Crawls as users run them, where a crawl used to store nothing or lose pages and say "ok".

Real crawls of the local news network in child processes: the installed package
from another folder, `scrapy crawl` from the checkout, a crawl without its item
pipeline, a revisit-heavy crawl with a small new-article budget, a crawl whose
lease is taken away, and a site whose host name resolves to a private address.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time

import pytest
import yaml

from crawler.clock import utcnow
from crawler.crawl.ledger import STORED_OUTCOMES
from crawler.localnet import LocalNetwork
from crawler.maintenance.verify import verify
from tests.helpers import REPO, installed_env, newscrawl

ARTICLE_REASONS = ["new", "updated", "due", "recheck"]


@pytest.fixture
def network(tmp_path, crawl_env):
    with LocalNetwork(seed=11) as net:
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        yield net


def one_site_config(net, path, name="valley-gazette", **overrides):
    data = net.config()
    data["sites"] = [s for s in data["sites"] if s["name"] == name]
    data["sites"][0].update(overrides)
    path.write_text(yaml.safe_dump(data))
    return path


def live_articles(net, site: str) -> int:
    return len([p for p in net.world.sites[site].live_posts(net.clock.now()) if not p.old])


def assert_every_article_page_accounted_for(db, run):
    """article/fetched = stored + errors + spooled, and each stored page is one fetch row."""
    counters = run["counters"]
    fetched = counters.get("article/fetched", 0)
    stored = counters.get("article/stored", 0)
    ended = stored + counters.get("article/error", 0) + counters.get("article/spooled", 0)
    assert fetched == ended, counters
    rows = db.fetches.count_documents(
        {"run_id": run["_id"], "outcome": {"$in": sorted(STORED_OUTCOMES)}}
    )
    assert rows == stored


def test_the_installed_command_crawls_from_any_folder_and_stores_everything(
    network, db, crawl_env, tmp_path, installed
):
    config = network.write_config(tmp_path / "sites.yaml")
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    result = subprocess.run(
        [str(installed / "bin" / "newscrawl"), "crawl", "--all", "--config", str(config)],
        cwd=elsewhere,
        env=installed_env(crawl_env, installed),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for site in ["valley-gazette", "harbour-times", "prairie-post", "lakeside-herald"]:
        assert db.articles.count_documents({"site": site}) == live_articles(network, site)
    assert db.versions.count_documents({}) == db.articles.count_documents({})
    # robots.txt and the site guard were on: the hostile site's disallowed page was not fetched
    assert {f["reason"] for f in db.fetches.find({"url": {"$regex": "secret-story"}})} == {"robots"}
    for run in db.crawl_runs.find():
        assert run["outcome"].startswith("ok"), run
        assert_every_article_page_accounted_for(db, run)
    assert verify(db, utcnow()) == []


def test_scrapy_crawl_from_the_checkout_takes_the_lease_stores_and_records_its_run(
    network, db, crawl_env, tmp_path
):
    """`scrapy crawl news` (and a Scrapyd job, which runs the same) has no runner around it:
    the spider takes the site's lease itself, so it never overlaps another crawl."""
    from crawler.run.lease import SiteLease

    config = one_site_config(network, tmp_path / "sites.yaml", name="harbour-times")

    def scrapy_crawl(level: str = "WARNING") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "news",
                "-a",
                "site=harbour-times",
                "-a",
                f"config={config}",
                "-s",
                f"LOG_LEVEL={level}",
            ],
            cwd=REPO,
            env=crawl_env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    other = SiteLease(db, "harbour-times", "another-crawl", clock=utcnow)
    other.acquire()
    try:
        busy = scrapy_crawl()
    finally:
        other.release()
    # fetched nothing, so not ok: exit 1 as `newscrawl crawl` does, and the run says why
    assert busy.returncode == 1, busy.stderr[-3000:]
    assert "[harbour-times] skipped-busy" in busy.stderr
    [skipped] = db.crawl_runs.find()
    assert skipped["outcome"] == "skipped-busy" and "already being crawled" in skipped["error"]
    assert db.articles.count_documents({}) == 0

    result = scrapy_crawl("INFO")
    assert result.returncode == 0, result.stderr[-3000:]
    assert db.articles.count_documents({}) == live_articles(network, "harbour-times")
    # the project's extensions run, but no server that executes code sent to it
    assert "crawler.run.lifecycle.RunLifecycle" in result.stderr
    assert "RemoteControl" not in result.stderr
    run = db.crawl_runs.find_one({"_id": {"$ne": skipped["_id"]}})
    assert run["outcome"] == "ok"
    assert_every_article_page_accounted_for(db, run)
    assert db.leases.count_documents({}) == 0  # released at the end


def test_a_crawl_without_its_item_pipeline_fetches_nothing_and_fails(
    network, db, crawl_env, tmp_path
):
    config = one_site_config(network, tmp_path / "sites.yaml")
    script = (
        "import sys, crawler.run.runner as r\n"
        "plain = r.crawl_settings\n"
        "def without_pipeline():\n"
        "    s = plain(); s.set('ITEM_PIPELINES', {}, priority='cmdline'); return s\n"
        "r.crawl_settings = without_pipeline\n"
        "from crawler.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    network.traffic.reset()
    result = subprocess.run(
        [sys.executable, "-c", script, "crawl", "valley-gazette", "--config", str(config)],
        cwd=tmp_path,
        env=crawl_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    [run] = db.crawl_runs.find()
    assert run["outcome"] == "error" and "pipeline" in run["error"]
    assert "pipeline" in result.stderr
    assert network.traffic.totals()[0] == 0  # refused before the first request


@pytest.mark.slow
def test_revisits_do_not_starve_new_feed_entries(network, db, crawl_env, tmp_path):
    net = network
    budget = 3
    config = one_site_config(net, tmp_path / "sites.yaml", max_articles=budget)
    live = live_articles(net, "valley-gazette")
    assert live > 2 * budget
    newscrawl("crawl", "valley-gazette", "--config", str(config), env=crawl_env)
    assert db.articles.count_documents({}) == budget
    rounds = 1
    while db.articles.count_documents({}) < live and rounds < live:
        # every known article is due again: --recheck re-fetches them all in each crawl
        newscrawl("crawl", "valley-gazette", "--recheck", "--config", str(config), env=crawl_env)
        rounds += 1
        assert db.articles.count_documents({}) == min(live, budget * rounds)
    assert rounds == math.ceil(live / budget)
    last = db.crawl_runs.find_one(sort=[("started_at", -1)])
    assert last["counters"].get("fetch/new", 0) >= 1


@pytest.mark.slow
def test_a_crawl_that_loses_its_lease_stops_and_says_so(db, crawl_env, tmp_path):
    # more articles than Scrapy's downloader holds at once (CONCURRENT_REQUESTS, 16):
    # requests already handed to the downloader finish, the rest are dropped on close
    big = LocalNetwork(seed=11, hostile=False, locals_per_site=30).start()
    config = one_site_config(
        big,
        tmp_path / "sites.yaml",
        politeness={"delay": 0.5, "concurrency": 1, "autothrottle": False, "timeout": 5},
    )
    live = live_articles(big, "valley-gazette")
    assert live > 25
    env = dict(crawl_env, NEWSCRAWL_LEASE_RENEW_S="0.5", NEWSCRAWL_JOURNAL=str(tmp_path / "j"))
    crawl = subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "valley-gazette", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while db.leases.count_documents({"_id": "valley-gazette"}) == 0:
            assert time.monotonic() < deadline and crawl.poll() is None
            time.sleep(0.1)
        while db.articles.count_documents({}) == 0:  # the crawl is under way
            assert time.monotonic() < deadline and crawl.poll() is None
            time.sleep(0.1)
        # the lease expired (a stalled process, a clock jump) and another crawl took it
        db.leases.update_one(
            {"_id": "valley-gazette"}, {"$set": {"holder": "elsewhere:1:x", "run_id": "other-run"}}
        )
        _out, err = crawl.communicate(timeout=120)
    finally:
        if crawl.poll() is None:
            crawl.kill()
        big.stop()
    assert crawl.returncode == 1, err[-3000:]
    [run] = db.crawl_runs.find()
    assert run["outcome"] == "lease-lost" and "other-run" in run["error"]
    assert db.articles.count_documents({}) < live
    # the other holder's lease is untouched by our release
    assert db.leases.find_one({"_id": "valley-gazette"})["holder"] == "elsewhere:1:x"


def _loopback_host_name() -> str | None:
    """A host name (not an IP literal, not localhost) that resolves to a loopback address."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except socket.gaierror:
        return None
    return name if addresses and all(a.startswith("127.") for a in addresses) else None


def test_a_host_name_that_resolves_to_a_private_address_is_refused(
    network, db, crawl_env, tmp_path
):
    name = _loopback_host_name()
    if name is None or name == "localhost":
        pytest.skip("this machine's host name does not resolve to loopback")
    data = network.config()
    site = next(s for s in data["sites"] if s["name"] == "valley-gazette")

    def renamed(url: str) -> str:
        return url.replace("127.0.0.1", name)

    for key in ("feeds", "sitemaps", "listings"):
        site[key] = [renamed(u) for u in site[key]]
    site.update(
        url=renamed(site["url"]),
        allowed_domains=[renamed(d) for d in site["allowed_domains"]],
        allow_private_addresses=False,
    )
    data["sites"] = [site]
    config = tmp_path / "named.yaml"
    config.write_text(yaml.safe_dump(data))
    network.traffic.reset()
    newscrawl("crawl", "valley-gazette", "--config", str(config), env=crawl_env)
    assert db.articles.count_documents({}) == 0
    # each source refused by the policy, as a skip naming its kind, not a network failure
    sources = list(db.fetches.find({"reason": "private-address"}))
    assert sources and all("private" in f.get("detail", "") for f in sources)
    assert {f["source_kind"] for f in sources} <= {"feed", "sitemap", "listing"}
    run = db.crawl_runs.find_one()
    assert (run["outcome"], run["reason"]) == ("failed", "refused-address")
    # a name is only known to be private once connected: nothing it sent was used
    assert db.feeds.count_documents({"content_hash": {"$ne": None}}) == 0
