"""One article across a slug change: a headline edit that rewrites the URL continues the
stored article as its next version; an old URL still finds it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crawler import urls
from crawler.localnet import LocalNetwork
from crawler.pipeline.processing import persist_batch
from crawler.store import ArticleStore, Page
from crawler.version.decide import Snapshot
from tests.helpers import newscrawl
from tests.store.test_store import T0, body

BASE = "https://gazette.test/local/2026/11/25/"


def story(slug: str, paragraphs: list[str], title: str, at=T0, via: str | None = None) -> Page:
    url = BASE + slug + "/"
    aliases = {urls.url_key(url)} | ({urls.url_key(via)} if via else set())
    return Page(
        article_id=urls.article_id(url),
        url=url,
        site="gazette",
        fetched_at=at,
        snapshot=Snapshot.of(title, paragraphs),
        aliases=sorted(aliases),
        raw_html=b"<html></html>",
    )


def test_a_new_slug_with_the_same_id_and_text_is_the_next_version(db):
    persist_batch(db, [story("council-passes-budget-41", body(6), "Council passes budget")], T0)
    later = T0 + timedelta(hours=2)
    renamed = story("council-delays-budget-vote-41", body(6), "Council delays budget vote", later)
    [result] = persist_batch(db, [renamed], later)
    assert result.outcome == "changed" and result.version == 2
    assert db.articles.count_documents({}) == 1
    store = ArticleStore(db)
    old = store.find_by_url_key(urls.url_key(BASE + "council-passes-budget-41/"))
    new = store.find_by_url_key(urls.url_key(BASE + "council-delays-budget-vote-41/"))
    assert old["_id"] == new["_id"] and new["url"] == BASE + "council-delays-budget-vote-41/"
    version = db.versions.find_one({"article_id": new["_id"], "version": 2})
    assert version["change"]["kinds"] == ["headline"]


def test_the_same_trailing_number_with_another_text_is_another_article(db):
    persist_batch(db, [story("covid-19", body(6), "Clinic hours")], T0)
    other = [f"A different report on the harbour, part {i}, with its own words." for i in range(6)]
    [result] = persist_batch(db, [story("flu-season-19", other, "Flu season")], T0)
    assert result.outcome == "new"
    assert db.articles.count_documents({}) == 2


def test_a_page_reached_through_an_old_address_continues_that_article(db):
    persist_batch(db, [story("council-passes-budget", body(6), "Council passes budget")], T0)
    later = T0 + timedelta(hours=1)
    # no number in the slug: the redirect from the old address is what ties them
    moved = story(
        "budget-vote-delayed",
        body(6, extra=" again"),
        "Budget vote delayed",
        later,
        via=BASE + "council-passes-budget/",
    )
    [result] = persist_batch(db, [moved], later)
    assert result.outcome == "changed"
    assert db.articles.count_documents({}) == 1


@pytest.mark.slow
def test_a_slug_change_on_the_local_network_keeps_one_article(tmp_path, crawl_env, db):
    with LocalNetwork(seed=7, hostile=False) as net:
        config = net.write_config(tmp_path / "sites.yaml")
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        newscrawl("crawl", "harbour-times", "--config", str(config), env=crawl_env)
        before = db.articles.count_documents({})
        net.clock.advance(minutes=5)
        old, new = net.world.rename("harbour-times", 1, "Harbour board delays the vote to spring")
        base = net.base("harbour-times")
        newscrawl("crawl", "harbour-times", "--config", str(config), env=crawl_env)
        # and a re-check, which revisits the old address through its redirect
        newscrawl("crawl", "harbour-times", "--recheck", "--config", str(config), env=crawl_env)
    assert db.articles.count_documents({}) == before
    article = ArticleStore(db).find_by_url_key(urls.url_key(base + new))
    assert article is not None and article["url"] == base + new
    assert article["version_count"] == 2
    assert ArticleStore(db).find_by_url_key(urls.url_key(base + old))["_id"] == article["_id"]
    history = newscrawl("history", base + old, "--json", env=crawl_env)
    assert history.returncode == 0 and '"version": 2' in history.stdout
