"""Real publishers' pages (the Zyte benchmark's, ../shared/corpora; skipped without it)
served for a whole round as a login wall, an error page and a cut body, crawled as users do.

No round makes a version and every page is `degraded` with its kind; the
recovered site is `unchanged` (never `reverted`); then a real edit that
shortens stories to a clean end makes exactly one version of each.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from crawler.localnet.faults import FAULTS, FaultyZyteSite
from crawler.localnet.zyte import ZyteChromeServer, load_pages
from tests.conftest import CORPORA
from tests.helpers import newscrawl

ZYTE = CORPORA / "extraction-zyte"
PAGES = 20
SITE = "zyte-faults"

pytestmark = pytest.mark.skipif(
    not (ZYTE / "ground-truth.json").exists(), reason="../shared/corpora/extraction-zyte absent"
)


@pytest.fixture
def faulty_site(tmp_path, crawl_env):
    site = FaultyZyteSite(load_pages(ZYTE, PAGES))
    with ZyteChromeServer(site, SITE) as server:
        config = tmp_path / "sites.yaml"
        config.write_text(yaml.safe_dump(server.config()))
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        yield site, config


def _round(config, env, db, *extra):
    newscrawl("crawl", SITE, "--config", str(config), *extra, env=env)
    run = db.crawl_runs.find_one({"site": SITE}, sort=[("started_at", -1)])
    return run, list(db.fetches.find({"run_id": run["_id"], "reason": "recheck"}))


@pytest.mark.slow
def test_wall_error_and_cut_rounds_of_real_pages_make_no_version(faulty_site, db, crawl_env):
    site, config = faulty_site
    _round(config, crawl_env, db)
    assert db.versions.count_documents({"site": SITE}) == PAGES
    for fault in FAULTS:
        site.fault = fault
        run, fetches = _round(config, crawl_env, db, "--recheck")
        assert Counter(f["outcome"] for f in fetches) == {"degraded": PAGES}, fault
        kinds = Counter(f["detail"].split(":", 1)[0] for f in fetches)
        assert kinds[fault] >= 0.9 * PAGES, (fault, kinds)  # named by its kind
        assert run["outcome"] == "degraded" and run["summary"]["degraded"] == PAGES
    assert db.versions.count_documents({"site": SITE}) == PAGES
    site.fault = None
    run, fetches = _round(config, crawl_env, db, "--recheck")
    assert Counter(f["outcome"] for f in fetches) == {"unchanged": PAGES}
    assert db.versions.count_documents({"site": SITE}) == PAGES
    # a publisher's real shortening to a clean end is an edit: one version each
    site.shortened = set(site.order[:5])
    run, fetches = _round(config, crawl_env, db, "--recheck")
    outcomes = Counter(f["outcome"] for f in fetches)
    assert outcomes == {"changed": 5, "unchanged": PAGES - 5}, outcomes
    changed = list(db.versions.find({"site": SITE, "version": 2}))
    assert len(changed) == 5 and all("body_removed" in v["change"]["kinds"] for v in changed)
