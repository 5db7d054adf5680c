"""A site's chrome learned from its pages: what is chrome, what stays article, what is kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crawler.pipeline.processing import persist_batch
from crawler.store import Page, ensure_indexes
from crawler.text import chrome
from crawler.text.chrome import ChromeBook, SiteChrome
from crawler.version.decide import Snapshot

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)
BAR = "Friday, December {day}, 2026 {hh}:{mm} | Winnipeg {t}°C {sky} | Regions | Advertise | Login"


TOPICS = ["housing", "transit", "libraries", "wildfire", "hockey", "schools", "harvest", "bridges"]
PLACES = ["Brandon", "Selkirk", "Steinbach", "Morden", "Dauphin", "Gimli", "Thompson", "Portage"]


def article(n: int, *extra: str) -> list[str]:
    """A distinct article (its own words, not a template with other numbers), plus the lines."""
    topic, place = TOPICS[n % len(TOPICS)], PLACES[n // len(TOPICS) % len(PLACES)]
    body = [
        f"Officials in {place} say the {topic} plan will cost far more than the council was "
        f"told in spring, and residents want to know who signed off on the {topic} contract "
        "before the public hearing was ever announced.",
        f"The {topic} debate in {place} has dragged on for months, with neighbours packing "
        f"every meeting and the mayor of {place} promising a full accounting by the end of "
        "the year, something critics doubt will happen.",
    ]
    return [*extra, *body]


def bar(n: int, sky: str = "Light snow") -> str:
    return BAR.format(
        day=4 + n % 2, hh=f"{6 + n % 12:02d}", mm=f"{n * 7 % 60:02d}", t=n - 20, sky=sky
    )


def test_a_line_on_three_different_articles_with_only_digits_changed_is_chrome():
    model = SiteChrome("s")
    for n in range(2):
        model.learn(article(n, f"{100 + n:,} people are reading this"), T0)
    assert not model.is_chrome("5,120 people are reading this")  # two articles: not yet
    model.learn(article(2, "1,204 people are reading this"), T0)
    assert model.is_chrome("5,120 people are reading this")
    assert model.strip(article(9, "77 people are reading this")) == article(9)
    # the article's own paragraphs are never judged by their shape
    assert not any(model.is_chrome(p) for p in article(1))


def test_a_bar_whose_weather_word_changes_is_chrome_by_its_near_shapes():
    model = SiteChrome("s")
    for n, sky in enumerate(["Light snow", "Clear", "Fog"]):
        model.learn(article(n, bar(n, sky)), T0)
    assert model.is_chrome(bar(30, "Sunny"))
    assert model.is_chrome(bar(31, "Light snow"))
    assert not model.is_chrome("Friday's game was postponed by the league after the storm hit")


def test_a_wire_story_published_twice_does_not_teach_its_short_paragraphs_as_chrome():
    quote = "“We are devastated by what happened here,” the mayor said on Friday."
    model = SiteChrome("s")
    copy = article(1, quote)
    for _ in range(3):  # the same story under three URLs: one content key
        model.learn(copy, T0)
    assert not model.is_chrome(quote)
    assert model.strip(copy) == copy


def test_never_more_than_half_a_page_is_taken_for_chrome():
    model = SiteChrome("s")
    for n in range(3):
        model.learn(article(n, "Sponsored content from our partners appears below"), T0)
    short = ["Sponsored content from our partners appears below", "Storm closes highway."]
    assert model.strip(short) == short


def test_shapes_are_bounded_and_forgotten(monkeypatch):
    monkeypatch.setattr(chrome, "MAX_SHAPES", 50)
    model = SiteChrome("s")
    for n in range(3):
        model.learn(article(n, "Advertisement - story continues below"), T0)
    for n in range(100):  # lines only one story has: words differ, not digits
        line = f"only here {chr(97 + n % 26) * 3} {chr(97 + n // 26) * 4} and nowhere else"
        model.learn(article(100 + n, line), T0 + timedelta(minutes=n))
    model.prune(T0 + timedelta(days=1))
    assert len(model.shapes) == 50
    assert model.is_chrome("Advertisement - story continues below")  # chrome is kept first
    model.prune(T0 + chrome.FORGET_AFTER + timedelta(days=2))
    assert model.shapes == {}


def test_what_a_crawl_learned_is_read_back_and_judged_the_same(db):
    ensure_indexes(db)
    book = ChromeBook(db)
    for n in range(4):
        book.model("s").learn(article(n, f"{n * 13} comments", bar(n)), T0)
    book.save("s", T0)
    again = ChromeBook(db).model("s")
    lines = ["812 comments", bar(40, "Fog"), article(5)[0]]
    assert [again.is_chrome(x) for x in lines] == [book.model("s").is_chrome(x) for x in lines]
    assert [again.is_chrome(x) for x in lines] == [True, True, False]
    # one bounded document per site, listing what users want to see: the chrome itself
    doc = db.site_chrome.find_one({"_id": "s"})
    assert db.site_chrome.count_documents({}) == 1
    assert "# comments" in doc["chrome"] and any("advertise login" in c for c in doc["chrome"])


def _page(n: int, paragraphs: list[str], at: datetime, title: str = "") -> Page:
    return Page(
        article_id=f"a{n}",
        url=f"http://site.test/story-{n}",
        site="s",
        fetched_at=at,
        snapshot=Snapshot.of(title or f"Story {n}", paragraphs),
    )


def test_chrome_changes_make_no_version_and_a_correction_in_a_short_line_does(db):
    ensure_indexes(db)
    vote = "The vote is set for March {day}."

    def fetch(n: int, k: int, at: datetime, day: int = 11) -> Page:
        own = [vote.format(day=day)] if n == 2 else []
        chrome_lines = (bar(n + k), f"{n * 31 + k} people are reading this")
        return _page(n, [*article(n, *chrome_lines), *own], at)

    persist_batch(db, [fetch(n, 0, T0) for n in range(6)], T0)
    stored = db.articles.find_one({"_id": "a2"})
    assert "people are reading this" not in stored["text"] and "Advertise" not in stored["text"]
    assert vote.format(day=11) in stored["text"]

    later = T0 + timedelta(hours=2)
    again = [fetch(n, 5, later, day=12) for n in range(6)]  # new chrome; one real correction
    outcomes = [o.outcome for o in persist_batch(db, again, later)]
    assert outcomes == ["unchanged", "unchanged", "changed", "unchanged", "unchanged", "unchanged"]
    version = db.versions.find_one({"article_id": "a2", "version": 2})
    assert version["change"]["kinds"] == ["correction"], version["change"]["diff"]
    assert version["change"]["stats"]["corrected"] == ["11. -> 12."]
