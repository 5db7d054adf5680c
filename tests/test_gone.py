"""An article is retired only after repeated 404/410 answers spread over time (crawler.revisit)."""

from __future__ import annotations

from datetime import timedelta

from crawler.clock import SteppedClock
from crawler.revisit import GONE_SPAN, missing_retry
from crawler.store import ArticleStore
from tests.test_store import T0, body, page

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
