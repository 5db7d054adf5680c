"""An article is retired only after repeated 404/410 answers spread over time (crawler.version.revisit)."""

from __future__ import annotations

from datetime import timedelta

from crawler.clock import SteppedClock
from crawler.store import ArticleStore
from crawler.version.revisit import GONE_SPAN, MIN_INTERVAL, missing_retry
from tests.store.test_store import T0, body, page

KEY = "example.test/a1"


def _due(store: ArticleStore, clock: SteppedClock) -> list[str]:
    return [a["_id"] for a in store.due_for_revisit("example", clock(), 10)]


def test_a_temporary_404_keeps_the_article_and_three_over_two_days_retire_it(db):
    clock = SteppedClock(T0)
    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4), at=clock()))
    clock.advance(timedelta(days=1))
    first = clock()
    store.mark_url_gone(KEY, 404, clock())  # a CMS hiccup
    article = db.articles.find_one({"_id": "a1"})
    assert article.get("status") != "gone" and article["missing"]["answers"] == 1
    assert _due(store, clock) == []  # not hammered: looked at again after a back-off
    clock.advance(missing_retry(1))
    assert _due(store, clock) == ["a1"]
    store.mark_url_gone(KEY, 404, clock())
    # a feed lists it meanwhile and it answers 404 once more: three answers, but within hours
    clock.advance(timedelta(hours=1))
    store.mark_url_gone(KEY, 410, clock())
    assert db.articles.find_one({"_id": "a1"}).get("status") != "gone"
    assert _due(store, clock) == []
    clock.advance(missing_retry(3))
    assert clock() - first >= GONE_SPAN
    assert _due(store, clock) == ["a1"]  # still in the queue, two days after the first 404
    assert store.mark_url_gone(KEY, 410, clock()) is True
    article = db.articles.find_one({"_id": "a1"})
    assert article["status"] == "gone" and article["gone_status"] == 410
    assert article["missing"]["answers"] == 4 and article["missing"]["since"] == first
    clock.advance(timedelta(days=30))
    assert _due(store, clock) == []  # retired: out of the revisit queue


def test_an_answer_between_404s_starts_the_count_again(db):
    clock = SteppedClock(T0)
    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4), at=clock()))
    for _ in range(2):
        clock.advance(timedelta(days=1))
        store.mark_url_gone(KEY, 404, clock())
    clock.advance(timedelta(hours=1))
    store.save_snapshot(page("a1", body(4), at=clock()))  # it answered: the 404s were a hiccup
    assert "missing" not in db.articles.find_one({"_id": "a1"})
    clock.advance(timedelta(days=1))
    store.mark_url_gone(KEY, 404, clock())
    article = db.articles.find_one({"_id": "a1"})
    assert article["missing"]["answers"] == 1 and article.get("status") != "gone"


def test_the_back_off_grows_and_is_bounded():
    assert missing_retry(1) < missing_retry(2) < missing_retry(3)
    assert missing_retry(10) == missing_retry(20) == timedelta(days=2)


def test_an_article_that_keeps_answering_with_a_wall_is_looked_at_less_often(db):
    """Degraded fetches (not the article) bring the article back soon, then back off;
    the article's real text answering again ends the run."""
    from crawler.text.nonarticle import Evidence

    clock = SteppedClock(T0)
    store = ArticleStore(db)
    store.save_snapshot(page("a1", body(4), at=clock()))
    clock.advance(timedelta(days=3))
    waits = []
    for _ in range(4):
        wall = page("a1", body(4), at=clock())
        wall.evidence = Evidence(cut="the HTML ends mid-element")
        assert store.save_snapshot(wall).outcome == "degraded"
        article = db.articles.find_one({"_id": "a1"})
        waits.append(article["next_check_at"] - clock())
        clock.advance(article["next_check_at"] - clock())
    assert waits[0] == MIN_INTERVAL and waits == sorted(waits) and waits[-1] > waits[0]
    assert db.articles.find_one({"_id": "a1"})["degraded_fetches"] == 4
    store.save_snapshot(page("a1", body(4), at=clock()))  # the article again
    assert "degraded_fetches" not in db.articles.find_one({"_id": "a1"})
