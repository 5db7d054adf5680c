"""Pages that answer 200 without the article, judged directly (crawler.text.nonarticle via decide)."""

from __future__ import annotations

from crawler.text import nonarticle
from crawler.text.nonarticle import Evidence, RunTally, response_cut
from crawler.version.decide import Snapshot, decide

STORY = [
    "The regional council voted on Tuesday night to close the Elm Street bridge for repairs "
    "that engineers say cannot wait another winter.",
    "Engineers told councillors that corrosion in the bridge's steel girders had advanced "
    "faster than a 2019 inspection predicted, and that heavy trucks should be kept off it.",
    "The closure will send about 9,000 vehicles a day onto the Main Street crossing, which "
    "the city's traffic department says is already near its capacity at rush hour.",
    "Businesses on the east bank worry that customers will not make the detour, and the "
    "chamber of commerce asked the council to phase the work over two construction seasons.",
    "The mayor said the city would look at a temporary footbridge for pedestrians and cyclists, "
    "and that the repairs should be finished by the end of next October if the weather holds.",
    "Residents can comment on the detour plan at an open house at the library on Thursday "
    "evening, where the engineering firm will present the inspection report in full.",
]
TITLE = "Council closes Elm Street bridge for repairs"
WALL = [
    "Subscribe to keep reading. Get unlimited access to local news from only $1 a week.",
    "Already a subscriber? Log in to continue reading this article and every story on our site.",
]
ERROR = [
    "Something went wrong on our end and the page you asked for could not be shown right now.",
    "Our engineers have been told about the problem. Please try again in a few minutes, "
    "or return to the front page to read the latest news from the region.",
]


def snap(title: str = TITLE, paras: list[str] = STORY) -> Snapshot:
    return Snapshot.of(title, list(paras))


def test_a_body_cut_mid_sentence_is_degraded_and_a_clean_shortening_is_a_version():
    base = snap()
    cut = [*STORY[:3], STORY[3][:70]]  # lost its tail, mid-sentence, at 60 % of the words
    decision = decide(base, snap(paras=cut))
    assert decision.outcome == "degraded" and decision.reason.startswith("cut:"), decision.reason
    # the same loss where the page's HTML stopped unclosed, even at a sentence end
    unclosed = decide(base, snap(paras=STORY[:4]), evidence=Evidence(unclosed=True))
    assert unclosed.outcome == "degraded" and unclosed.reason.startswith("cut:")
    # a story shortened to a clean end in a complete page: a real edit
    shortened = decide(base, snap(paras=STORY[:4]))
    assert shortened.outcome == "changed" and "body_removed" in shortened.change_kinds
    # a closing sentence trimmed off is an edit too
    trimmed = STORY[:-1] + [STORY[-1].split(", where")[0] + "."]
    assert decide(base, snap(paras=trimmed)).outcome == "changed"


def test_paragraphs_taken_out_of_the_middle_are_a_version():
    """A legal takedown of two paragraphs: the rest of the article stands, ending cleanly."""
    takedown = [*STORY[:2], *STORY[4:]]
    decision = decide(snap(), snap(paras=takedown))
    assert decision.outcome == "changed" and "body_removed" in decision.change_kinds


def test_a_wall_or_an_error_page_is_degraded_against_the_article_s_own_history():
    wall = decide(snap(), snap(paras=[STORY[0], *WALL]))
    assert wall.outcome == "degraded" and wall.reason.startswith("wall:"), wall.reason
    error = decide(snap(), snap(title="Something went wrong", paras=ERROR))
    assert error.outcome == "degraded" and error.reason.startswith("error:"), error.reason
    # phrases only name the kind: a page in the article's place with none of them
    # (the site's front page served instead) is degraded all the same
    front = [
        "Hockey club opens its new season at home against the league champions.",
        "Weekend forecast: sunshine for the farmers market, with showers late on Sunday.",
        "Obituaries, classifieds and the crossword are in the Saturday print edition.",
    ]
    other = decide(snap(), snap(title="Front page", paras=front))
    assert other.outcome == "degraded" and other.reason.startswith("not-article:"), other.reason


def test_a_consent_page_in_the_article_s_place_is_degraded_and_named():
    consent = [
        "We and our 842 partners use cookies and similar technologies to store and access "
        "information on your device, to personalise ads and content, and to measure them.",
        "You can accept all cookies, or manage your preferences at any time.",
    ]
    decision = decide(snap(), snap(title="Before you continue", paras=consent))
    assert decision.outcome == "degraded" and decision.reason.startswith("consent:")


def test_real_edits_are_not_taken_for_non_articles():
    base = snap()
    added = decide(
        base, snap(paras=[*STORY[:3], WALL[0].replace("Subscribe", "Readers"), *STORY[3:]])
    )
    assert added.outcome == "changed" and "body_added" in added.change_kinds
    corrected = decide(base, snap(paras=[STORY[0], STORY[1].replace("2019", "2018"), *STORY[2:]]))
    assert corrected.outcome == "changed" and "correction" in corrected.change_kinds
    retitled = decide(base, snap(title="Elm Street bridge to close for a year"))
    assert retitled.outcome == "changed" and retitled.change_kinds == ["headline"]
    rewritten_lede = decide(
        base, snap(paras=["A new lede written by the desk tonight.", *STORY[1:]])
    )
    assert rewritten_lede.outcome == "changed"


def test_the_same_text_on_several_articles_of_one_run_is_not_an_article():
    """A wall that keeps each article's own headline and a long teaser: too much of the
    article for its history alone to tell, but the run served its text to every article."""
    tally = RunTally()
    teasers = [[STORY[i], *WALL] for i in range(4)]  # four different articles, the same wall
    for i, paras in enumerate(teasers):
        tally.add("site", f"a{i}", f"Story {i}", paras)
    ev = tally.evidence("site", "Story 0", teasers[0], None)
    assert ev.shared_pages == 4 and len(ev.shared) == 2
    first_fetch = decide(None, snap(title="Story 0", paras=teasers[0]), evidence=ev)
    assert first_fetch.outcome == "degraded" and first_fetch.reason.startswith("wall:")
    # one wire story printed under several addresses of the site is that story each time
    copies = RunTally()
    for i in range(4):
        copies.add("site", f"w{i}", "Wire story", STORY)
    ev = copies.evidence("site", "Wire story", STORY, None)
    assert ev.shared_pages == 4 and ev.title_pages == 4
    assert decide(None, snap(title="Wire story"), evidence=ev).outcome == "new"
    # but the same short error page for every new address of the run is not an article
    errors = RunTally()
    for i in range(4):
        errors.add("site", f"e{i}", "Something went wrong", ERROR)
    ev = errors.evidence("site", "Something went wrong", ERROR, None)
    ev = Evidence(**{**ev.__dict__, "hint": nonarticle.hint("Something went wrong", ERROR)})
    first = decide(None, snap(title="Something went wrong", paras=ERROR), evidence=ev)
    assert first.outcome == "degraded" and first.reason.startswith("error:"), first.reason
    # nor does one site's wall count for another site
    other = tally.evidence("other-site", "Story 0", teasers[0], None)
    assert decide(None, snap(title="Story 0", paras=teasers[0]), evidence=other).outcome == "new"


def test_an_error_page_whose_title_many_articles_got_this_run_is_degraded():
    """Each error page names its own request, so no paragraph repeats; the title does."""
    tally = RunTally()

    def error_page(i: int) -> list[str]:
        return [STORY[i], f"Request {i * 7919} failed; our newsroom systems are being updated."]

    for i in range(3):
        tally.add("site", f"a{i}", "Temporarily unavailable", error_page(i))
    ev = tally.evidence("site", "Temporarily unavailable", error_page(0), None)
    assert ev.title_pages == 3 and not ev.shared
    decision = decide(
        snap(), snap(title="Temporarily unavailable", paras=error_page(0)), evidence=ev
    )
    assert decision.outcome == "degraded" and "3 articles of this run" in decision.reason


def test_the_response_says_when_it_was_cut():
    whole = b"<html><body><article><p>Text.</p></article></body></html>"
    assert response_cut(whole, {"content-length": str(len(whole))}) == ("", False)
    short, _ = response_cut(whole[:30], {"content-length": str(len(whole))})
    assert "30 of the" in short
    mid, unclosed = response_cut(b"<html><body><article><p>The council vot", {})
    assert "mid-element" in mid and unclosed
    assert response_cut(b"<html><body><article><p>Text.</p>", {}) == ("", True)
    # a gzip body decoded by Scrapy keeps the smaller compressed length: not a cut
    assert response_cut(whole, {"content-length": "20"}) == ("", False)
    # Scrapy's flag on a body whose connection closed early (a chunked body has no length)
    assert "closed" in response_cut(whole, {}, ["dataloss"])[0]
    # whatever the text says, an incomplete response is never a version
    cut = decide(snap(), snap(), evidence=Evidence(cut=short))
    assert cut.outcome == "degraded" and cut.reason.startswith("cut:")
    assert decide(None, snap(), evidence=Evidence(cut=short)).outcome == "degraded"
