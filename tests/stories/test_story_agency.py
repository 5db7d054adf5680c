"""Which agency a story comes from, as media monitors read it: from each copy's dateline,
byline, credit lines and JSON-LD, kept on the member and the story, shown by `stories`."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from crawler.cli.inspect import story_rows
from crawler.pipeline.processing import FetchedPage, persist_batch, prepare
from crawler.stories.agency import agency_of, story_agency
from crawler.text.extract import extract
from tests.stories.test_story_matching import WIRE, place

# a page opening as a Quebec regional site prints it: navigation, kicker, headline, share
# buttons, then the credit line and the copy
MENUS = [
    "Nous joindre",
    "Rechercher",
    "Publicité",
    "Déclaration",
    "Alerte: François Legault souhaite que le gouvernement tombe",
    "durée 12h00",
    "19 septembre 2024",
    "ici",
    "commentaires",
    "likes",
    "imprimante",
    "email",
]
BODY = [
    "François Legault demande au Bloc québécois de renverser le gouvernement mardi prochain.",
    "Lors d'une courte déclaration jeudi matin, M. Legault a laissé entendre qu'il était exaspéré.",
    "Il a dit au chef péquiste de parler au leader de son parti frère à Ottawa.",
    "Or, le Bloc a déjà dit qu'il allait appuyer le gouvernement dans ce vote de confiance.",
    "Rappelons que le gouvernement est minoritaire et a besoin de l'appui d'un autre parti.",
]


@pytest.mark.parametrize(
    "paragraphs, authors, agency",
    [
        (["OTTAWA (CP) — The government said Tuesday it would act."], [], "CP"),
        (["WASHINGTON (AP) — The Senate voted Tuesday."], [], "AP"),
        (["LONDON (Reuters) - Britain's economy grew."], [], "Reuters"),
        (["PARIS (AFP) - La grève a commencé mardi."], [], "AFP"),
        (["VATICAN CITY (Associated Press) — The Vatican says the pope died."], [], "AP"),
        (
            ["Düsseldorf (dpa/lnw) - Die Polizei hat am Dienstag drei Männer festgenommen."],
            [],
            "dpa",
        ),
        (["MONTRÉAL — La police a arrêté trois suspects.", "La Presse Canadienne"], [], "CP"),
        # dpa's credit glued to the end of the last paragraph, as merkur.de and others print it
        (["Die Regeln werden verlängert.", "Die Maskenpflicht bleibt. dpa"], [], "dpa"),
        (["Die Regeln werden verlängert.", "Es bleibt warm. (dpa/lni)"], [], "dpa"),
        # a paragraph that only ends with the word is no credit
        (["Die Regeln werden verlängert.", "Das meldete die Agentur dpa"], [], "unknown"),
        (["The Senate voted on Tuesday."], ["The Associated Press"], "AP"),
        (
            ["Britain's economy grew.", "(Reporting by Jane Doe; Editing by John Roe)"],
            [],
            "Reuters",
        ),
        (
            [
                "Ottawa said Tuesday it would act.",
                "This report by The Canadian Press was first published Jan. 4, 2024.",
            ],
            [],
            "CP",
        ),
        (["The mayor spoke at length.", "— The Associated Press"], [], "AP"),
        (["Par La Presse Canadienne, 2025", "OTTAWA — La Fédération a refusé."], [], "CP"),
        (["By Alessia Passafiume, The Canadian Press", "The federation said no."], [], "CP"),
        # La Presse Canadienne's reporters sign the end of a copy
        (["Le Bloc a parlé mardi.", "Stéphane Rolland, La Presse Canadienne"], [], "CP"),
        (["The mayor spoke at length.", "Jane Doe, The Associated Press"], [], "AP"),
        (["Le Bloc a parlé mardi.", "selon lui, la presse canadienne"], [], "unknown"),
        # a regional site's menus and share buttons left above the copy are no paragraphs
        (MENUS + ["Par La Presse Canadienne"] + BODY, [], "CP"),
        # a credit line in the middle of a copy is not read
        (BODY + ["Par La Presse Canadienne"] + BODY, [], "unknown"),
        # a photo credit names the photo's agency, not the story's
        (
            ["The federation said no.", "Chartrand speaks in Winnipeg. THE CANADIAN PRESS/Jo Doe"],
            [],
            "unknown",
        ),
        # a contributor named, not the agency of the copy
        (["Ottawa said it would act.", "With files from The Associated Press"], [], "unknown"),
        (["The council met on Tuesday night to discuss the budget."], ["Jane Doe"], "unknown"),
        # the site's own header lines and a photo caption come before the dateline
        (
            [
                "Friday, July 5, 2024",
                "27 C",
                "Brunei Town",
                "FILE - The actress in 2010. (AP Photo/Jane Doe)",
                "LOS ANGELES (AP) – The actress died Friday at her home.",
            ],
            [],
            "AP",
        ),
        # a dateline quoted deep in the text is no dateline of this copy
        (
            ["One.", "Two.", "Three.", "Four.", "Five.", "Six.", "LONDON (AP) — Seven."],
            [],
            "unknown",
        ),
    ],
)
def test_a_copy_names_its_agency(paragraphs, authors, agency):
    assert agency_of(paragraphs, authors) == agency


def test_the_dateline_comes_before_a_contributing_agency_s_credit():
    paragraphs = ["TORONTO (CP) — Ontario said Tuesday it would act.", "— Reuters"]
    assert agency_of(paragraphs, ["Reuters"]) == "CP"


def _dpa_page() -> str:
    return (
        "<html><head><title>Flood</title><script type='application/ld+json'>"
        + json.dumps(
            {
                "@type": "NewsArticle",
                "headline": "Flood waters rise",
                "author": {"@type": "Person", "name": "Staff"},
                "sourceOrganization": {"@type": "Organization", "name": "dpa"},
            }
        )
        + "</script></head><body><article><h1>Flood waters rise</h1>"
        + "".join(f"<p>{p}</p>" for p in WIRE[1:])
        + "</article></body></html>"
    )


def test_json_ld_credits_name_the_agency():
    page = extract(_dpa_page(), "https://example.test/flood")
    assert "dpa" in page.credits
    assert agency_of(page.paragraphs, page.authors, page.credits) == "dpa"


def test_a_crawled_page_s_story_is_named_from_its_json_ld(db):
    """The pipeline's path: the worker reads the agency with the page, the story keeps it."""
    when = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    url = "https://example.test/flood"
    prepared = prepare(FetchedPage("s", url, url, _dpa_page().encode(), when))
    assert prepared.page is not None and prepared.page.agency == "dpa"
    [outcome] = persist_batch(db, [prepared.page], when)
    assert db.stories.find_one({"_id": outcome.story_id})["agency"] == "dpa"
    assert db.story_members.find_one({"_id": prepared.page.article_id})["agency"] == "dpa"


def test_a_story_is_named_by_its_origin_else_by_most_members():
    assert story_agency({"agency": "CP"}, {"AP": 5, "CP": 1}) == "CP"
    assert story_agency({"agency": "unknown"}, {"AP": 2, "Reuters": 1, "unknown": 9}) == "AP"
    assert story_agency(None, {"unknown": 3}) == "unknown"


def test_members_and_stories_record_the_agency_and_stories_show_it(db):
    credited = [*WIRE[1:4], "The Canadian Press"]  # no dateline: a regional copy, credited
    bare = [f"{WIRE[0].split('— ', 1)[1]}", *WIRE[1:4]]  # no dateline, no credit
    place(db, ("regional", bare), ("credited", credited), ("wire", WIRE))
    members = {m["_id"]: m["agency"] for m in db.story_members.find()}
    assert members == {"regional": "unknown", "credited": "CP", "wire": "CP"}
    [story] = list(db.stories.find())
    assert story["agency"] == "CP" and story["agencies"] == {"unknown": 1, "CP": 2}
    assert story["origin"]["agency"] == "CP"  # the datelined copy became the origin
    [row] = story_rows(db)
    assert row["agency"] == "CP"
    assert {m["agency"] for m in row["members"]} == {"CP", "unknown"}
