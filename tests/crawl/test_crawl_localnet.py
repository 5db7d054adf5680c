"""End to end: crawl the local news network into the test MongoDB and check what was stored."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from crawler.localnet import LocalNetwork
from tests.helpers import REPO, members_of, newscrawl

REGULAR = ["valley-gazette", "harbour-times", "prairie-post", "lakeside-herald"]


@pytest.fixture
def network(tmp_path, crawl_env):
    with LocalNetwork(seed=7) as net:
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        yield net, net.write_config(tmp_path / "sites.yaml")


def test_first_crawl_stores_every_live_article_once(network, db, crawl_env):
    net, config = network
    crawl_env.pop("NEWSCRAWL_EXTRACT_WORKERS", None)  # one per core, as users run it (conftest)
    result = newscrawl("crawl", "--all", "--config", str(config), env=crawl_env)
    assert "crawl summary" in result.stdout
    for site in REGULAR:
        live = [p for p in net.world.sites[site].live_posts(net.clock.now()) if not p.old]
        assert db.articles.count_documents({"site": site}) == len(live), site
        # AMP links, tracking parameters and fragments all resolve to the canonical article
        for article in db.articles.find({"site": site}):
            assert "utm_" not in article["url"] and not article["url"].endswith("/amp/")
    assert db.versions.count_documents({}) == db.articles.count_documents({})
    runs = {r["site"]: r for r in db.crawl_runs.find()}
    assert set(runs) == set(REGULAR) | {"hostile-herald"}
    assert runs["valley-gazette"]["summary"]["new"] == db.articles.count_documents(
        {"site": "valley-gazette"}
    )
    assert all(r["finished_at"] is not None for r in runs.values())
    # each run says where its time went, stage by stage, across the extraction workers
    stages = runs["valley-gazette"]["stages"]
    assert set(stages) == {"fetch", "extract", "normalise", "version", "cluster", "store"}
    assert stages["extract"] > 0 and stages["store"] > 0 and stages["cluster"] > 0
    # every article is in a story, recorded on the article itself
    assert db.articles.count_documents({"story_id": None}) == 0
    # old archive entries are skipped by date, never fetched
    old_paths = [p.path for p in net.world.sites["prairie-post"].posts if p.old]
    assert not any(path in a["url"] for a in db.articles.find() for path in old_paths)
    assert runs["prairie-post"]["counters"].get("skip/too-old", 0) >= 1
    # the counters are the crawl's Scrapy stats, stored with Scrapy's own numbers
    scrapy_stats = runs["valley-gazette"]["scrapy_stats"]
    assert scrapy_stats["robotstxt/request_count"] >= 1
    assert scrapy_stats["downloader/request_count"] >= runs["valley-gazette"]["counters"]["pages"]


def test_hostile_site_ends_in_recorded_errors_and_skips(network, db, crawl_env):
    net, config = network
    newscrawl("crawl", "hostile-herald", "--config", str(config), env=crawl_env)
    by_url = {}
    for fetch in db.fetches.find({"site": "hostile-herald"}):
        by_url.setdefault(fetch["url"].rsplit("/", 1)[-1], []).append(fetch)

    def outcome(name):
        return {(f["outcome"], f.get("status")) for f in by_url[name]}

    assert ("error", 404) in outcome("missing")
    assert ("error", 410) in outcome("gone")
    assert ("error", 500) in outcome("error")
    assert any(
        o == "error" and "took longer" in f.get("detail", "")
        for f in by_url["slow"]
        for o in [f["outcome"]]
    )
    assert any("redirect" in f.get("detail", "").lower() for f in by_url["loop"])
    # why a request was refused comes from the refusal itself, not from its message
    assert "redirect-loop" in {f["reason"] for f in by_url["loop"] if f["outcome"] == "error"}
    assert any(
        "max" in f.get("detail", "").lower() or "size" in f.get("detail", "").lower()
        for f in by_url["huge.html"]
    )
    assert any("binary" in f.get("detail", "") for f in by_url["binary.html"])
    assert {f["reason"] for f in by_url["secret-story"]} == {"robots"}
    # a feed entry skipped as offsite is counted in its source's line, with the URL as example
    offsite = db.fetches.find({"site": "hostile-herald", "reason": "offsite"})
    assert any(url.endswith("/offsite-story") for f in offsite for url in f.get("sample", []))
    assert any("entity" in f.get("detail", "") for f in by_url["bomb.xml"])
    # the malformed feed still yields its readable items (recorded with a warning)
    assert any(f["outcome"] == "fetched" and f.get("detail") for f in by_url["feed.xml"])
    assert db.articles.count_documents({"site": "hostile-herald"}) == 1  # the one fine story
    run = db.crawl_runs.find_one({"site": "hostile-herald"})
    assert run["outcome"] == "ok-with-errors" and run["summary"]["errors"] >= 6


def test_recrawl_with_only_chrome_changes_makes_no_version(network, db, crawl_env):
    net, config = network
    newscrawl("crawl", "valley-gazette", "--config", str(config), env=crawl_env)
    before = db.versions.count_documents({})
    # every request renders a new clock, temperature, ad and most-read box
    newscrawl("crawl", "valley-gazette", "--recheck", "--config", str(config), env=crawl_env)
    assert db.versions.count_documents({}) == before
    last_run = db.crawl_runs.find_one({"site": "valley-gazette"}, sort=[("started_at", -1)])
    assert last_run["summary"]["unchanged"] >= before
    outcomes = Counter(
        f["outcome"] for f in db.fetches.find({"run_id": last_run["_id"], "reason": "recheck"})
    )
    assert outcomes == {"unchanged": before}


@pytest.mark.slow
def test_one_edited_sentence_makes_exactly_one_version_with_that_sentence(network, db, crawl_env):
    net, config = network
    newscrawl("crawl", "harbour-times", "--config", str(config), env=crawl_env)
    net.clock.advance(minutes=1)
    sentence = "The mayor later said the figure would be reviewed by an outside auditor."
    post = net.world.edit_sentence("harbour-times", 1, sentence)
    newscrawl("crawl", "harbour-times", "--config", str(config), env=crawl_env)
    changed = list(db.versions.find({"version": 2}))
    assert len(changed) == 1
    assert post.path in changed[0]["url"]
    assert sentence in changed[0]["change"]["diff"]
    assert "+" + sentence in changed[0]["change"]["diff"]
    assert db.versions.count_documents({"version": {"$gt": 2}}) == 0


@pytest.mark.slow
def test_scheduled_edits_are_picked_up_from_feed_updates(network, db, crawl_env):
    net, config = network
    newscrawl("crawl", "prairie-post", "--config", str(config), env=crawl_env)
    net.clock.advance(hours=1, minutes=5)  # the first edit (a paragraph added) is now live
    newscrawl("crawl", "prairie-post", "--config", str(config), env=crawl_env)
    edited = db.versions.find_one({"site": "prairie-post", "version": 2})
    assert edited is not None and "body_added" in edited["change"]["kinds"]
    run = db.crawl_runs.find_one({"site": "prairie-post"}, sort=[("started_at", -1)])
    reasons = Counter(
        f["reason"] for f in db.fetches.find({"run_id": run["_id"], "outcome": {"$ne": "skipped"}})
    )
    assert reasons["updated"] >= 1
    net.clock.advance(hours=2)  # number corrected, then headline changed
    newscrawl("crawl", "prairie-post", "--config", str(config), env=crawl_env)
    kinds = [
        set(v["change"]["kinds"])
        for v in db.versions.find({"site": "prairie-post", "version": {"$gte": 3}})
    ]
    assert any("headline" in k for k in kinds)


def test_syndicated_wire_copies_form_one_story_and_independent_reports_do_not(
    network, db, crawl_env
):
    net, config = network
    newscrawl("crawl", *REGULAR, "--config", str(config), env=crawl_env)
    label_to_stories: dict[str, set[str]] = {}
    for article in db.articles.find({"site": {"$in": REGULAR}}):
        label = net.label_of(article["site"], article["url"])
        label_to_stories.setdefault(label, set()).add(article["story_id"])
    for label, stories in label_to_stories.items():
        assert len(stories) == 1, f"{label} split into {stories}"
    story_to_labels: dict[str, set[str]] = {}
    for label, stories in label_to_stories.items():
        story_to_labels.setdefault(next(iter(stories)), set()).add(label)
    assert all(len(labels) == 1 for labels in story_to_labels.values()), story_to_labels
    wire = db.stories.find_one({"size": 4})
    assert wire is not None and wire["origin"]["site"] == "valley-gazette"
    changes = {m["site"]: m["changes"] for m in members_of(db, wire["_id"])}
    assert (
        changes["harbour-times"]["new_headline"] and not changes["valley-gazette"]["new_headline"]
    )
    assert (
        changes["prairie-post"]["added_intro"]
        and changes["prairie-post"]["removed_paragraphs"] >= 2
    )


def test_recrawl_of_unchanged_network_is_cheap(network, db, crawl_env):
    net, config = network
    newscrawl("crawl", *REGULAR, "--config", str(config), env=crawl_env)
    first_requests, first_bytes = net.traffic.totals()
    net.traffic.reset()
    newscrawl("crawl", *REGULAR, "--config", str(config), env=crawl_env)
    again_requests, again_bytes = net.traffic.totals()
    assert again_bytes < first_bytes * 0.05
    assert db.versions.count_documents({"version": 2}) == 0


@pytest.mark.slow
def test_feed_whose_validators_lie_is_detected_and_fetched_in_full(network, db, crawl_env):
    net, config = network
    newscrawl("crawl", "lakeside-herald", "--config", str(config), env=crawl_env)
    feed = net.base("lakeside-herald") + "/feed.xml"
    assert db.feeds.find_one({"_id": feed}).get("validators_trusted", True) is True
    net.clock.advance(hours=1, minutes=5)  # an edit changes the feed; its ETag stays the same
    newscrawl("crawl", "lakeside-herald", "--recheck", "--config", str(config), env=crawl_env)
    state = db.feeds.find_one({"_id": feed})
    assert state["validators_trusted"] is False and state["untrusted_since"]
    net.traffic.reset()
    newscrawl("crawl", "lakeside-herald", "--config", str(config), env=crawl_env)
    feed_hits = [status for site, path, status in net.traffic.paths if path == "/feed.xml"]
    assert feed_hits == [200]  # no conditional request any more, so no false 304
    atom = db.feeds.find_one({"_id": net.base("lakeside-herald") + "/atom.xml"})
    assert atom.get("validators_trusted", True) is True


def test_private_addresses_are_refused_unless_the_site_allows_them(
    network, db, crawl_env, tmp_path
):
    import yaml

    net, config = network
    data = yaml.safe_load(config.read_text())
    for site in data["sites"]:
        site["allow_private_addresses"] = False
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump(data))
    net.traffic.reset()
    newscrawl("crawl", "valley-gazette", "--config", str(strict), env=crawl_env)
    assert net.traffic.totals()[0] == 0  # not one request reached the loopback server
    rows = list(db.fetches.find({"site": "valley-gazette"}))
    # each source refused by policy: a skip naming its kind, never a network error
    assert {(f["reason"], f["outcome"]) for f in rows} == {("private-address", "skipped")}
    assert {f["source_kind"] for f in rows} == {"feed", "sitemap", "listing"}
    assert all("private" in f.get("detail", "") for f in rows)
    run = db.crawl_runs.find_one({"site": "valley-gazette"})
    assert (run["outcome"], run["reason"]) == ("failed", "refused-address")


def test_a_crawl_past_its_time_limit_is_stopped_and_recorded(network, db, crawl_env, tmp_path):
    import yaml

    net, config = network
    data = yaml.safe_load(config.read_text())
    data["sites"] = [s for s in data["sites"] if s["name"] == "hostile-herald"]
    data["sites"][0]["crawl_timeout"] = "2s"  # the slow page alone takes 4 s per try
    data["sites"][0]["politeness"]["timeout"] = 30
    limited = tmp_path / "limited.yaml"
    limited.write_text(yaml.safe_dump(data))
    result = newscrawl("crawl", "hostile-herald", "--config", str(limited), env=crawl_env)
    assert result.returncode == 1
    run = db.crawl_runs.find_one({"site": "hostile-herald"})
    assert run["outcome"] == "timeout" and run["duration_s"] < 15
    assert db.leases.count_documents({}) == 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_crawl_leaves_no_extraction_worker_behind(network, crawl_env):
    """The service kills a crawl past its time limit; its workers must not live on for months."""
    net, config = network
    crawl_env.pop("NEWSCRAWL_EXTRACT_WORKERS", None)  # one per core, as users run it (conftest)
    crawl = subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "--all", "--config", str(config)],
        cwd=REPO,
        env=crawl_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(workers := _children(crawl.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers, "the crawl started no extraction workers"
    crawl.kill()
    crawl.wait()
    deadline = time.monotonic() + 15
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(w) for w in workers)


def test_a_site_s_own_user_agent_is_sent_with_every_request(network, db, crawl_env):
    import yaml

    net, config = network
    data = yaml.safe_load(config.read_text())
    data["user_agent"] = "ArchiveBot-Default/1.0"
    site = next(s for s in data["sites"] if s["name"] == "valley-gazette")
    site["user_agent"] = "ValleyArchive/3.1 (+https://archive.example/valley)"
    config.write_text(yaml.safe_dump(data))
    newscrawl("crawl", "valley-gazette", "harbour-times", "--config", str(config), env=crawl_env)
    seen = {ua for (name, ua), n in net.traffic.user_agents.items() if name == "valley-gazette"}
    assert seen == {"ValleyArchive/3.1 (+https://archive.example/valley)"}  # robots.txt too
    others = {ua for (name, ua), n in net.traffic.user_agents.items() if name == "harbour-times"}
    assert others == {"ArchiveBot-Default/1.0"}


@pytest.mark.slow
def test_a_redesign_that_hides_the_body_is_a_drift_warning(network, db, crawl_env):
    net, config = network
    site = "harbour-times"
    for _ in range(2):  # the site's normal week
        newscrawl("crawl", site, "--recheck", "--config", str(config), env=crawl_env)
    runs = list(db.crawl_runs.find({"site": site}).sort("started_at", 1))
    assert all(r["extraction"]["median_words"] > 100 and not r["warnings"] for r in runs)
    net.servers[site][1].redesigned = True  # the body now comes from a script
    newscrawl("crawl", site, "--recheck", "--config", str(config), env=crawl_env)
    last = db.crawl_runs.find_one({"site": site}, sort=[("started_at", -1)])
    assert last["extraction"]["pages"] >= 5
    assert any("median body length" in w for w in last["warnings"]), last["warnings"]
    status = newscrawl("status", "--config", str(config), env=crawl_env)
    assert "extraction drift" in status.stdout and site in status.stdout
    # no versions of articles the extractor merely failed to read
    assert db.versions.count_documents({"site": site, "version": {"$gt": 1}}) == 0
