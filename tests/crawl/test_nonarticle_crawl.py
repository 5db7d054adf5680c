"""A site that answers 200 without its articles for a whole round, crawled as users do.

The local news network's site serves a login wall, then an error page, then
bodies cut off mid-paragraph, then bodies short of their Content-Length (the
connection closed early) for every article (crawler/localnet/faults.py), then
recovers: no round makes a version, every page is `degraded` with its
reason, the runs say so, and the recovery is `unchanged`, not `reverted`.
"""

from __future__ import annotations

from collections import Counter

import pytest

from crawler.localnet import LocalNetwork
from tests.helpers import newscrawl

SITE = "prairie-post"


@pytest.fixture
def network(tmp_path, crawl_env):
    with LocalNetwork(seed=7, hostile=False) as net:
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        yield net, net.write_config(tmp_path / "sites.yaml")


def _recheck(config, env, db):
    newscrawl("crawl", SITE, "--recheck", "--config", str(config), env=env)
    run = db.crawl_runs.find_one({"site": SITE}, sort=[("started_at", -1)])
    fetches = list(db.fetches.find({"run_id": run["_id"], "reason": "recheck"}))
    return run, fetches


@pytest.mark.slow
def test_wall_error_and_cut_rounds_make_no_version_and_the_recovery_no_revert(
    network, db, crawl_env
):
    net, config = network
    newscrawl("crawl", SITE, "--config", str(config), env=crawl_env)
    articles = db.articles.count_documents({"site": SITE})
    assert articles >= 5 and db.versions.count_documents({"site": SITE}) == articles
    server = net.servers[SITE][1]
    for fault in ("wall", "error", "cut", "short"):
        server.fault = fault
        run, fetches = _recheck(config, crawl_env, db)
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
    server.fault = None
    run, fetches = _recheck(config, crawl_env, db)
    assert Counter(f["outcome"] for f in fetches) == {"unchanged": articles}
    assert run["outcome"] == "ok"
    assert db.versions.count_documents({"site": SITE}) == articles
    assert db.articles.count_documents({"site": SITE, "current_version": {"$ne": 1}}) == 0
