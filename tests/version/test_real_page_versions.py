"""Versioning on real pages: real publishers' HTML whose chrome changes on every request.

The site serves Zyte benchmark pages (../shared/corpora; the test skips
without it) with a clock-and-weather bar in the header and inside the
article's own container, "N people are reading this", READ MORE links, an ad
slot, a comment count, a most-read box, a cookie banner and a tracking script,
all different on every request (crawler/localnet/zyte.py). Crawled as users do:
`newscrawl crawl`, then `--recheck` twice.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from crawler.localnet.zyte import ADDED_SENTENCES, ZyteChromeServer, ZyteChromeSite, load_pages
from tests.conftest import CORPORA
from tests.helpers import newscrawl

ZYTE = CORPORA / "extraction-zyte"
PAGES = 40
SITE = "zyte-chrome"

pytestmark = pytest.mark.skipif(
    not (ZYTE / "ground-truth.json").exists(), reason="../shared/corpora/extraction-zyte absent"
)


@pytest.fixture
def chrome_site(tmp_path, crawl_env):
    site = ZyteChromeSite(load_pages(ZYTE, PAGES))
    with ZyteChromeServer(site, SITE) as server:
        config = tmp_path / "sites.yaml"
        config.write_text(yaml.safe_dump(server.config()))
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        yield site, server, config


def _crawl(config, env, *extra):
    result = newscrawl("crawl", SITE, "--config", str(config), *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    return result


def _last_run(db):
    return db.crawl_runs.find_one({"site": SITE}, sort=[("started_at", -1)])


@pytest.mark.slow
def test_chrome_never_makes_a_version_and_every_real_edit_makes_exactly_one(
    chrome_site, db, crawl_env
):
    site, server, config = chrome_site
    _crawl(config, crawl_env)
    assert db.articles.count_documents({"site": SITE}) == PAGES
    assert db.versions.count_documents({}) == PAGES

    # two more fetches of every page: the chrome changed every time, the articles did not
    for _ in range(2):
        _crawl(config, crawl_env, "--recheck")
        run = _last_run(db)
        outcomes = Counter(
            f["outcome"] for f in db.fetches.find({"run_id": run["_id"], "reason": "recheck"})
        )
        assert outcomes == {"unchanged": PAGES}, outcomes
    assert db.versions.count_documents({}) == PAGES
    # the chrome is not in the stored text either
    for version in db.versions.find({}, {"text": 1}):
        text = version.get("text") or ""
        assert "people are reading this" not in text
        assert "Regions | Advertise | Login" not in text
        assert "READ MORE" not in text

    # then real edits: a sentence added, a number corrected, a headline changed
    ids = site.order
    expected = {}
    for page_id, sentence in zip(ids[0:10], ADDED_SENTENCES, strict=True):
        site.add_sentence(page_id, sentence)
        expected[server.url(page_id)] = ("body_added", sentence)
    for page_id in ids[10:20]:
        site.correct_number(page_id)
        expected[server.url(page_id)] = ("correction", None)
    for page_id in ids[20:30]:
        headline = f"Regional desk update: {site.title_of(page_id)[:40].strip()} revisited"
        site.change_headline(page_id, headline)
        expected[server.url(page_id)] = ("headline", headline)
    _crawl(config, crawl_env, "--recheck")

    new_versions = {v["url"]: v for v in db.versions.find({"version": 2})}
    assert set(new_versions) == set(expected)
    assert db.versions.count_documents({"version": {"$gt": 2}}) == 0
    for url, (kind, text) in expected.items():
        change = new_versions[url]["change"]
        assert kind in change["kinds"], (url, change["kinds"], change["diff"][:500])
        if kind == "body_added":
            assert "+" + text in change["diff"]
            assert change["stats"]["paragraphs_added"] == 1
            assert change["stats"]["paragraphs_removed"] == 0
        if kind == "correction":
            assert change["stats"]["corrected"], change["diff"][:500]
            assert change["stats"]["paragraphs_added"] == 0
        if kind == "headline":
            assert new_versions[url]["title"] == text
    outcomes = Counter(
        f["outcome"] for f in db.fetches.find({"run_id": _last_run(db)["_id"], "reason": "recheck"})
    )
    assert outcomes == {"changed": 30, "unchanged": PAGES - 30}
