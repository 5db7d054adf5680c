"""Sites that answer 200 without their articles for a whole round, crawled as users do.

Two sites, crawled together by one `newscrawl crawl` per round:

- the local news network's prairie-post (crawler/localnet/faults.py) serves a login
  wall, then an error page, then bodies cut off mid-paragraph, then bodies short of
  their Content-Length (the connection closed early) for every article, then recovers;
- real publishers' pages (the Zyte benchmark's, ../shared/corpora; left out without
  it) served as a login wall, an error page and a cut body, then recovered, then
  shortened by the publisher to a clean end.

No fault round makes a version and every page is `degraded` with its kind; the runs
say so; the recovery is `unchanged`, never `reverted`; a real edit that shortens
stories to a clean end makes exactly one version of each.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from crawler.localnet import LocalNetwork
from crawler.localnet.faults import FAULTS, FaultyZyteSite
from crawler.localnet.zyte import ZyteChromeServer, load_pages
from tests.conftest import CORPORA
from tests.helpers import newscrawl

SITE = "prairie-post"
ZYTE = CORPORA / "extraction-zyte"
ZYTE_SITE = "zyte-faults"
ZYTE_PAGES = 20


@pytest.fixture
def sites(tmp_path, crawl_env):
    """The network's prairie-post and, with the corpus, the faulty Zyte site, in one config:
    (network, Zyte site or None, config)."""
    with LocalNetwork(seed=7, hostile=False) as net:
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        config = net.write_config(tmp_path / "sites.yaml")
        if not (ZYTE / "ground-truth.json").exists():
            yield net, None, config
            return
        zyte = FaultyZyteSite(load_pages(ZYTE, ZYTE_PAGES))
        with ZyteChromeServer(zyte, ZYTE_SITE) as server:
            data = yaml.safe_load(config.read_text())
            data["sites"] += server.config()["sites"]
            config.write_text(yaml.safe_dump(data))
            yield net, zyte, config


def _round(config, env, db, names, *extra):
    """One `newscrawl crawl` of `names`; each site's last run and its recheck fetches."""
    newscrawl("crawl", *names, *extra, "--config", str(config), env=env)
    found = {}
    for name in names:
        run = db.crawl_runs.find_one({"site": name}, sort=[("started_at", -1)])
        fetches = list(db.fetches.find({"run_id": run["_id"], "reason": "recheck"}))
        found[name] = (run, fetches)
    return found


def _check_local_fault(db, fault, articles, run, fetches):
    assert len(fetches) == articles
    outcomes = Counter(f["outcome"] for f in fetches)
    assert outcomes == {"degraded": articles}, (fault, outcomes, fetches[0].get("detail"))
    reasons = {f["detail"].split(":", 1)[0] for f in fetches}
    kind = "cut" if fault == "short" else fault  # a body short of its Content-Length
    assert reasons == {kind}, (fault, [f["detail"] for f in fetches][:3])
    assert db.versions.count_documents({"site": SITE}) == articles
    # the run does not pass for a good one: its outcome and counters say what it got
    assert run["outcome"] == "degraded", run["outcome"]
    assert run["counters"][f"degraded/{kind}"] == articles
    assert run["summary"]["degraded"] == articles
    # and the articles are due again soon, not a week from now
    due = db.articles.find_one({"site": SITE})["next_check_at"]
    assert (due - fetches[0]["at"]).total_seconds() <= 3600


def _check_zyte_fault(fault, run, fetches):
    assert Counter(f["outcome"] for f in fetches) == {"degraded": ZYTE_PAGES}, fault
    kinds = Counter(f["detail"].split(":", 1)[0] for f in fetches)
    assert kinds[fault] >= 0.9 * ZYTE_PAGES, (fault, kinds)  # named by its kind
    assert run["outcome"] == "degraded" and run["summary"]["degraded"] == ZYTE_PAGES


@pytest.mark.slow
def test_wall_error_and_cut_rounds_make_no_version_and_the_recovery_no_revert(sites, db, crawl_env):
    net, zyte, config = sites
    names = [SITE] + ([ZYTE_SITE] if zyte else [])
    _round(config, crawl_env, db, names)
    articles = db.articles.count_documents({"site": SITE})
    assert articles >= 5 and db.versions.count_documents({"site": SITE}) == articles
    if zyte:
        assert db.versions.count_documents({"site": ZYTE_SITE}) == ZYTE_PAGES
    server = net.servers[SITE][1]
    assert tuple(FAULTS) == ("wall", "error", "cut")  # the Zyte site's faults, in order
    for fault in ("wall", "error", "cut", "short"):
        server.fault = fault
        round_names = names
        if zyte and fault in FAULTS:
            zyte.fault = fault
        else:  # the Zyte site has no "short" round: the local site is crawled alone
            round_names = [SITE]
        found = _round(config, crawl_env, db, round_names, "--recheck")
        _check_local_fault(db, fault, articles, *found[SITE])
        if ZYTE_SITE in found:
            _check_zyte_fault(fault, *found[ZYTE_SITE])
            assert db.versions.count_documents({"site": ZYTE_SITE}) == ZYTE_PAGES
    server.fault = None
    if zyte:
        zyte.fault = None
    found = _round(config, crawl_env, db, names, "--recheck")
    run, fetches = found[SITE]
    assert Counter(f["outcome"] for f in fetches) == {"unchanged": articles}
    assert run["outcome"] == "ok"
    assert db.versions.count_documents({"site": SITE}) == articles
    assert db.articles.count_documents({"site": SITE, "current_version": {"$ne": 1}}) == 0
    if not zyte:
        return
    _run, fetches = found[ZYTE_SITE]
    assert Counter(f["outcome"] for f in fetches) == {"unchanged": ZYTE_PAGES}
    assert db.versions.count_documents({"site": ZYTE_SITE}) == ZYTE_PAGES
    # a publisher's real shortening to a clean end is an edit: one version each
    zyte.shortened = set(zyte.order[:5])
    _run, fetches = _round(config, crawl_env, db, [ZYTE_SITE], "--recheck")[ZYTE_SITE]
    outcomes = Counter(f["outcome"] for f in fetches)
    assert outcomes == {"changed": 5, "unchanged": ZYTE_PAGES - 5}, outcomes
    changed = list(db.versions.find({"site": ZYTE_SITE, "version": 2}))
    assert len(changed) == 5 and all("body_removed" in v["change"]["kinds"] for v in changed)
