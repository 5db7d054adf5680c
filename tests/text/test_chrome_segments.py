"""Chrome glued to the article inside one block: learned and trimmed part by part."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crawler.pipeline.processing import persist_batch
from crawler.store import Page, ensure_indexes
from crawler.text.chrome import SiteChrome, segments
from crawler.version.decide import Snapshot

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)
PLACES = ["Brandon", "Selkirk", "Steinbach", "Morden", "Dauphin", "Gimli", "Thompson"]
WRITERS = ["Ann Lee", "Bo Tran", "Cy Ruiz", "Di Moss", "Ed Kahn", "Flo Park", "Gus Webb"]
TOPICS = ["housing", "transit", "libraries", "wildfire", "hockey", "schools", "harvest"]


def bar(n: int) -> str:
    return (
        f"Home WebMail Wednesday, November {20 + n % 7}, 2024, {n % 12 + 1:02d}:{n * 7 % 60:02d} AM"
        f" | Calgary | {n % 30 - 20}.{n % 10}°C | Regions Advertise Login | Our platform is in "
        "maintenance mode. Some URLs may not be available. | World"
    )


def body(n: int) -> list[str]:
    topic, place = TOPICS[n % len(TOPICS)], PLACES[n % len(PLACES)]
    return [
        f"By {WRITERS[n % len(WRITERS)]} · Updated {n % 50 + 2} minutes ago",
        f"Officials in {place} say the {topic} plan will cost far more than the council was "
        f"told in spring, and residents want to know who signed off on the {topic} contract.",
        f"The {topic} debate in {place} has dragged on for months, with neighbours packing "
        f"every meeting and the mayor promising a full accounting by the end of the year. "
        f"{n * 37 % 4000 + 40:,} readers online",
    ]


def page(n: int, k: int = 0) -> list[str]:
    """Article n, fetched for the k-th time: the glued chrome changed, the text did not."""
    paragraphs = body(n + 100 * k)
    own = body(n)
    return [
        bar(n + k),
        own[0].split(" · ")[0] + " · " + paragraphs[0].split(" · ")[1],
        own[1],
        own[2].rsplit(". ", 1)[0] + ". " + paragraphs[2].rsplit(". ", 1)[1],
    ]


def test_a_block_splits_at_bars_middle_dots_and_an_unfinished_tail():
    text = "He said Monday. 1,234 readers online"
    assert [text[a:b] for a, b in segments(text)] == ["He said Monday.", "1,234 readers online"]
    byline = "By Jane Doe · Updated 5 minutes ago"
    assert [byline[a:b] for a, b in segments(byline)] == ["By Jane Doe", "Updated 5 minutes ago"]
    finished = "He said Monday. The vote is on Friday."
    assert segments(finished) == [(0, len(finished))]


def test_chrome_glued_to_the_text_is_trimmed_and_the_text_kept():
    model = SiteChrome("s")
    for n in range(3):
        model.learn(page(n), T0)
    stripped = model.strip(page(7, k=3))
    own = body(7)
    assert stripped == [
        own[0].split(" · ")[0],  # the byline without "Updated N minutes ago"
        own[1],
        own[2].rsplit(" ", 3)[0],  # the last paragraph without the reader count
    ]
    # a part in the middle of the writer's text is never taken, even when it is chrome-shaped
    middle = "Turnout was low. 1,234 readers online | Officials will meet again on Friday."
    assert model.strip([middle, *own[1:2]]) == [middle, own[1]]


def test_a_part_that_changes_between_fetches_of_two_articles_is_chrome_a_correction_not():
    model = SiteChrome("s")
    model.learn(page(1), T0)
    model.learn(page(2), T0)
    count = page(1)[-1].rsplit(". ", 1)[1]
    assert not model.is_chrome(count)  # two articles: not yet
    model.learn(page(1, k=1), T0 + timedelta(hours=1))  # the same article, its count changed
    assert not model.is_chrome(count)  # one article changed: could be an edit
    model.learn(page(2, k=1), T0 + timedelta(hours=1))
    assert model.is_chrome(count)  # it changes on every article it stands on
    # a number corrected once in a short line two articles share is an edit, not chrome
    vote = "The vote is set for March {day}."
    model.learn([vote.format(day=11), *body(3)[1:2]], T0)
    model.learn([vote.format(day=11), *body(4)[1:2]], T0)
    model.learn([vote.format(day=12), *body(3)[1:2]], T0 + timedelta(hours=1))
    assert not model.is_chrome(vote.format(day=12))


def _page(n: int, paragraphs: list[str], at: datetime) -> Page:
    return Page(
        article_id=f"a{n}",
        url=f"http://site.test/story-{n}",
        site="s",
        fetched_at=at,
        snapshot=Snapshot.of(f"Story {n}", paragraphs),
    )


def test_chrome_glued_in_blocks_makes_no_version_and_an_added_sentence_does(db):
    ensure_indexes(db)
    persist_batch(db, [_page(n, page(n), T0) for n in range(5)], T0)
    stored = db.articles.find_one({"_id": "a2"})["text"]
    assert "readers online" not in stored and "WebMail" not in stored and "Updated" not in stored
    later = T0 + timedelta(hours=2)
    again = [page(n, k=1) for n in range(5)]
    again[3] = [
        *again[3],
        "The council will vote on the plan again in the new year, officials said.",
    ]
    outcomes = [
        o.outcome
        for o in persist_batch(db, [_page(n, p, later) for n, p in enumerate(again)], later)
    ]
    assert outcomes == ["unchanged", "unchanged", "unchanged", "changed", "unchanged"]


def test_the_rows_and_numbers_of_data_tables_are_never_taken_for_chrome():
    model = SiteChrome("s")
    rivals = ["Red Deer Rebels", "Kamloops Blazers", "Brandon Wheat Kings", "Swift Current"]
    for n in range(4):  # every results page of the site: the home team's row first
        model.learn([f"| Calgary Hitmen | {rivals[n]} | {n + 3}-1 |", *body(n)[1:]], T0)
    row = "| Calgary Hitmen | Medicine Hat Tigers | 4-2 |"
    assert model.strip([row, *body(9)[1:]])[0] == row
    # a number alone between bars is a datum or a clock: never judged as a part
    assert model.strip([f"{body(9)[1]} | 2-1", body(9)[2]])[0].endswith("| 2-1")
