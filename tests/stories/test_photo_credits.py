"""Photo credits as a story's last hint of its agency: read from captions as agencies and
their clients print them, never taken for text evidence, and naming a story only when
it is syndicated (two sites or more) and no copy names an agency in its text."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from crawler.cli.cluster import cluster_documents
from crawler.cli.inspect import story_rows
from crawler.pipeline.processing import FetchedPage, persist_batch, prepare
from crawler.stories.agency import (
    FROM_PHOTOS,
    FROM_TEXT,
    agency_of,
    photo_agency_of,
    photo_credits,
    story_attribution,
)
from crawler.stories.index import StoryIndex
from tests.helpers import newscrawl
from tests.stories.test_story_matching import WIRE, member
from tests.stories.test_story_merge import _page, gallery_world

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
# the wire copy as regional sites print it without dateline or credit line
BARE = [WIRE[0].split("— ", 1)[1], *WIRE[1:]]
AP_CAPTION = (
    "A crew repairs a water main in Brandon, Man., Tuesday, Nov. 4, 2025. (AP Photo/Ana Ruiz)"
)

# a staff-written local story that runs with an AP photo
LOCAL = [
    "Council members in Dauphin spent most of Tuesday evening arguing over which of the "
    "town's ageing water mains should be replaced first when the new money arrives.",
    "Mayor Ann Roe said the works yard would draw up a list of the worst streets by the "
    "end of the month, and residents could comment at the next meeting in December.",
    AP_CAPTION,
]


@pytest.mark.parametrize(
    "line, agencies",
    [
        # AP's own caption style, and its clients' short forms
        (AP_CAPTION, ["AP"]),
        ("A catcher poses at the ballpark in New York, June 9, 1951. (AP Photo)", ["AP"]),
        ("The mayor visits the set in Manchester. (AP Photo/Tom Hale, File)", ["AP"]),
        ("The mayor enters city hall, June 2, 1953. (AP File Photo)", ["AP"]),
        (" date 2024-02-06 Photo: AP file", ["AP"]),
        ("The president speaks in the Rose Garden. Photograph: Ed Vance/AP", ["AP"]),
        # AFP: Taipei Times, Al Jazeera-style brackets, AFP's own copyright line
        ("A man places a candle on an actress's star in Los Angeles. Photo: AFP", ["AFP"]),
        ("Fans celebrate at the stadium on Sunday. [Luc Morel, AFP]", ["AFP"]),
        ("A composer waves in Hollywood, on November 7, 2018.  © Paul R. MARTIN / AFP", ["AFP"]),
        ("Fishermen sit on a boat on May 4, 2015. (AFP PHOTO / Marc DUVAL)", ["AFP"]),
        ("Lawyers pose in Paris. (Photo by Remi Blanc / AFP)", ["AFP"]),
        # CP, in English and French
        ("The chief speaks in Winnipeg on Tuesday. THE CANADIAN PRESS/Sam Kerr", ["CP"]),
        ("Le premier ministre à Québec. PHOTO LUC GAGNON, LA PRESSE CANADIENNE", ["CP"]),
        # Reuters
        ("The actress died at the age of 99 (REUTERS / Dan Mills / File Photo)", ["Reuters"]),
        (
            "A chef poses in Seattle, Washington, U.S. March 2, 2020. REUTERS/Dave Ray",
            ["Reuters"],
        ),
        # dpa, as German papers credit it
        ("Foto: Jan Vogel/dpa", ["dpa"]),
        ("Foto: Eva Stein/ dpa", ["dpa"]),
        ("Foto: picture alliance / dpa | Jan Vogel", ["dpa"]),
        # the Getty trap: AFP's photos resold by Getty run with everyone's stories
        ("Fans gather in Paris. (Photo by JO DOE/AFP via Getty Images)", []),
        ("Fans gather in Paris. JO DOE/AFP via Getty Images", []),
        ("A winner was announced. Credit: Nick Pappas/Getty Images", []),
        ("The senator speaks in Washington. Tim Walsh/AFP/Getty Images", []),
        ("The King in Windsor. Photo: AP/REX/Shutterstock", []),
        # a photo that one agency passes on from another: whose wire carried the text is open
        ("The president speaks in Washington. THE CANADIAN PRESS/AP/Ed Vance", []),
        # not photo credits: a dateline, dpa's text credit, a poll, a site's own photographer
        ("LOS ANGELES (AP) – The actress, a television mainstay, has died.", []),
        ("Es bleibt warm. (dpa/lni)", []),
        ("A Reuters/Ipsos poll found most voters undecided", []),
        ("The poll (Reuters/Ipsos) found most voters undecided about the measure.", []),
        ("Photo : Radio-Canada / Yves Roy", []),
        ("Symbolbild ©Ivo Novak auf Pixabay", []),
        ("(Reporting by Jane Doe; Editing by John Roe)", []),
        ("The mayor said the AP photo was taken in 2019.", []),
        # two photos in one caption block: one credit each
        ("Fans in Santos. (AP Photo/Jo Doe) Fans in Rio. (AP Photo/Ann Roe)", ["AP", "AP"]),
    ],
)
def test_a_caption_line_s_credits_name_the_photos_agency(line, agencies):
    assert photo_credits(line) == agencies


def test_a_page_s_photo_agency_is_the_one_most_of_its_credits_name():
    gallery = [AP_CAPTION, AP_CAPTION, "Fans in Santos. [Luc Morel, AFP]", *BARE]
    assert photo_agency_of(gallery) == "AP"
    # a figure's caption closed by the agency alone in brackets, as some US sites print it
    assert photo_agency_of(BARE, captions=["A ship leaves Miami, on Aug. 31, 2019. (AP)"]) == "AP"
    assert photo_agency_of([*BARE, "A ship leaves Miami, on Aug. 31, 2019. (AP)"]) == "unknown"
    # credit elements as the markup sets them apart, brackets and "Image copyright" included
    assert photo_agency_of(BARE, ["(Jo Saxon / Associated Press)"]) == "AP"
    assert photo_agency_of(BARE, ["Image copyright Reuters"]) == "Reuters"
    # ties go to the first in AGENCIES order, as for text evidence
    assert photo_agency_of(["Fans. [Jo Doe, AFP]", "Crowds. REUTERS/Jo Doe"]) == "Reuters"
    # credits the markup sets apart (a figure's credit element, JSON-LD creditText)
    assert photo_agency_of(BARE, ["AFP via Getty Images", "The Canadian Press"]) == "CP"
    assert photo_agency_of(BARE) == "unknown"


def test_a_photo_credit_is_no_text_evidence():
    page = [*BARE, AP_CAPTION]
    assert agency_of(page) == "unknown"
    assert photo_agency_of(page) == "AP"


def test_a_story_is_named_from_photo_credits_only_when_syndicated_and_without_text():
    assert story_attribution(None, {"unknown": 1}, {"AP": 1}, 1) == ("unknown", None)
    assert story_attribution(None, {"unknown": 2}, {"AP": 1, "unknown": 1}, 2) == (
        "AP",
        FROM_PHOTOS,
    )
    assert story_attribution(None, {"CP": 1, "unknown": 2}, {"AP": 3}, 3) == ("CP", FROM_TEXT)
    assert story_attribution({"agency": "dpa"}, {"dpa": 1}, {"AFP": 5}, 5) == ("dpa", FROM_TEXT)
    assert story_attribution(None, {"unknown": 2}, {"unknown": 2}, 2) == ("unknown", None)


def _join(db, article_id: str, site: str, paragraphs: list[str]) -> str:
    db.articles.insert_one({"_id": article_id, "title": "T", "text": "\n".join(paragraphs)})
    return StoryIndex(db).assign(member(article_id, paragraphs, site=site), T0).story_id


def _story(db, story_id: str) -> dict:
    return db.stories.find_one({"_id": story_id})


def test_a_two_site_story_with_only_photo_evidence_is_named_from_photo_credits(db, crawl_env):
    first = _join(db, "herald-1", "herald", [*BARE, AP_CAPTION])
    story = _story(db, first)
    assert (story["agency"], story["agency_from"]) == ("unknown", None)  # one site so far

    assert _join(db, "courier-1", "courier", BARE) == first  # no photo on this copy
    story = _story(db, first)
    assert (story["agency"], story["agency_from"]) == ("AP", FROM_PHOTOS)
    assert story["photo_agencies"] == {"AP": 1, "unknown": 1}
    assert story["agencies"] == {"unknown": 2}
    [row] = story_rows(db)
    assert (row["agency"], row["agency_from"]) == ("AP", FROM_PHOTOS)
    assert {m["photo_agency"] for m in row["members"]} == {"AP", "unknown"}
    # as users see it: the table marks the weaker attribution, --json says what named it
    [shown] = json.loads(newscrawl("stories", "--json", env=crawl_env).stdout)
    assert (shown["agency"], shown["agency_from"]) == ("AP", FROM_PHOTOS)
    assert "AP (photos)" in newscrawl("stories", env={**crawl_env, "COLUMNS": "200"}).stdout


def test_a_local_story_with_an_agency_photo_on_one_site_stays_unknown(db):
    story_id = _join(db, "dauphin-1", "dauphin", LOCAL)
    # the same page again under its mobile address: still one site
    assert _join(db, "dauphin-1-amp", "dauphin", LOCAL) == story_id
    story = _story(db, story_id)
    assert (story["agency"], story["agency_from"]) == ("unknown", None)
    assert story["photo_agencies"] == {"AP": 2}


def test_text_evidence_beats_photo_evidence(db):
    story_id = _join(db, "herald-1", "herald", [*BARE, AP_CAPTION])
    _join(db, "courier-1", "courier", [*BARE, AP_CAPTION])
    assert _story(db, story_id)["agency_from"] == FROM_PHOTOS
    # a copy whose credit line names CP: text evidence names the story from now on
    assert _join(db, "gazette-1", "gazette", [*BARE, "The Canadian Press"]) == story_id
    story = _story(db, story_id)
    assert (story["agency"], story["agency_from"]) == ("CP", FROM_TEXT)
    # and a datelined copy arriving later (a better origin) keeps it named from text
    assert _join(db, "wire-1", "wire", [*WIRE, AP_CAPTION]) == story_id
    story = _story(db, story_id)
    assert (story["agency"], story["agency_from"]) == ("CP", FROM_TEXT)
    assert story["origin"]["article_id"] == "wire-1"


def _page_html(paragraphs: list[str], figure: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<html><head><title>Water money</title></head><body><article><h1>Water money</h1>"
        f"{figure}{body}</article></body></html>"
    ).encode()


def test_crawled_pages_photo_captions_name_a_syndicated_story(db):
    """The crawl's path: the extractor leaves figures out of the body, so captions and
    credit elements are read from the markup with the page."""
    # other stories' thumbnails in a sidebar and in links are not this copy's photos
    teasers = "".join(
        f'<aside><figure><img src="t{n}.jpg"><figcaption>Elsewhere. (AFP Photo/Jo Roe {n})'
        f'</figcaption></figure></aside><a href="/more"><figure><img src="u{n}.jpg">'
        f"<figcaption>More news {n}. REUTERS/Ann Doe</figcaption></figure></a>"
        for n in range(2)
    )
    caption = f'<figure><img src="a.jpg"><figcaption>{AP_CAPTION}</figcaption></figure>'
    caption += teasers
    credit = (
        '<figure><img src="b.jpg"><figcaption><span>Pipes in Brandon</span>'
        '<span class="photo-credit">AP Photo/Jo Doe</span></figcaption></figure>'
    )
    outcomes = []
    for site, figure in (("herald", caption), ("courier", credit)):
        url = f"https://{site}.test/water"
        prepared = prepare(FetchedPage(site, url, url, _page_html(BARE, figure), T0))
        assert prepared.page is not None and prepared.page.photo_agency == "AP"
        assert prepared.page.agency == "unknown"
        [outcome] = persist_batch(db, [prepared.page], T0)
        outcomes.append(outcome.story_id)
    assert outcomes[0] == outcomes[1]
    story = _story(db, outcomes[0])
    assert (story["agency"], story["agency_from"]) == ("AP", FROM_PHOTOS)


def test_cluster_reads_sites_from_urls_and_says_what_named_each_story(mongo_uri):
    text = "\n\n".join([*BARE, AP_CAPTION])
    docs = [
        {"id": "a", "text": text, "url": "https://www.herald.test/water"},
        {"id": "b", "text": text, "url": "https://courier.test/water"},
        # one site's page and its print edition: a one-site story stays unknown
        {"id": "c", "text": "\n\n".join(LOCAL), "url": "https://dauphin.test/water"},
        {"id": "d", "text": "\n\n".join(LOCAL), "url": "https://www.dauphin.test/print/1"},
    ]
    rows = {row["id"]: row for row in cluster_documents(docs, mongo_uri)}
    assert rows["a"]["story"] == rows["b"]["story"] == "a"
    assert (rows["a"]["agency"], rows["a"]["agency_from"]) == ("AP", FROM_PHOTOS)
    assert rows["c"]["story"] == rows["d"]["story"] == "c"
    assert (rows["c"]["agency"], rows["c"]["agency_from"]) == ("unknown", None)


def _undated(paragraphs: list[str]) -> list[str]:
    """The generated wire copy without its dateline ("OTTAWA (Reuters) - "): no text evidence."""
    return [re.sub(r"^[^\n]{0,60}?\([^)]{1,30}\)\s*[-—–]\s*", "", p) for p in paragraphs]


def test_a_merged_story_counts_and_is_named_by_the_photo_credits_of_both(db):
    """A copy with an AP photo founds a one-site story; a gallery page founds another
    (the two share too little to be placed together). When a copy bridges them, the
    story the first went into carries three sites and its photo credit, counted once,
    and is named from it by the merge."""
    full, gallery, both = (_undated(text) for text in gallery_world())
    [f] = persist_batch(db, [replace(_page("wire-1", full), photo_agency="AP")], T0)
    [g] = persist_batch(db, [replace(_page("gallery-1", gallery), photo_agency="unknown")], T0)
    assert f.story_id != g.story_id
    assert _story(db, f.story_id)["agency"] == "unknown"  # one site: its photo names nothing

    [c] = persist_batch(db, [replace(_page("regional-1", both), photo_agency="unknown")], T0)

    survivor, merged = min(f.story_id, g.story_id), max(f.story_id, g.story_id)
    assert (c.story_id, merged) == (survivor, f.story_id)  # the photo's story was merged away
    story = _story(db, survivor)
    assert story["photo_agencies"] == {"AP": 1, "unknown": 2}
    assert (story["agency"], story["agency_from"]) == ("AP", FROM_PHOTOS)
    tombstone = _story(db, merged)
    assert all(n == 0 for n in tombstone["photo_agencies"].values())
