"""What two texts share, weighed by how much of each it is and where it sits (issue 33,
item 2; crawler.stories.placement.more_than_a_sentence).

Modelled on real pages of the wire set (bench/data/wire_copies.jsonl): a portal's own
obituary that printed the agency's lede inside the uncredited photo caption at its top
(yahoo.com's Buffett piece), a sports desk's report that reproduced one two-sentence
wire paragraph (newsday.com's Pelé piece), a regional edit that reworded the lede and
kept the next two sentences (aljazeera.com's Roe page), two desks' short takes of one
item (news4jax.com, iheartradio.ca). Every text here is invented.
"""

from __future__ import annotations

import itertools

import pytest

from crawler.stories.shingles import is_gallery, shingle_hashes
from crawler.text import normalize
from tests.stories.test_matching_adversarial import COLLECTIONS, lede, place
from tests.stories.test_story_matching import WIRE

# a portal's own report: the wire's lede sits in the photo caption at the top (a
# description of the photo, then the lede, as the agency writes its captions, printed
# without the credit), and the rest is the portal's own
REPORT_WITH_LEDE_IN_CAPTION = [
    "Water money for small towns",
    "A crew works on a burst water main on a residential street in Dauphin, Man., on "
    "March 3, 2024, the second break on that street this winter. " + lede(WIRE),
    "Towns across the Prairies have waited years for help with their water systems, and "
    "many of their mayors say the announcement is only a start.",
    "In Dauphin, the east-side main has burst twice since January, and residents have "
    "been boiling their drinking water for most of the winter.",
    "Mayor Allan Tomlinson said the town would apply as soon as the program opens, and "
    "that its engineers already have a plan for the worst of the pipes.",
    "Neighbouring Gilbert Plains and Grandview face the same problem, with pipes laid "
    "before most of their residents were born.",
    "Provincial officials did not say how the money would be shared among the towns, or "
    "when the first agreements would be signed.",
    "A public hearing on Dauphin's plan is set for the first week of next month at the arena.",
]
# the wire's own short takes: a photo description and the lede; the lede and a line
CAPTION_AND_LEDE = [
    "Residents fill jugs at a water station in Dauphin, Man., on March 3, 2024, after the "
    "town's main burst for the second time this year.",
    lede(WIRE),
]
LEDE_AND_A_LINE = [
    lede(WIRE),
    "Manitoba towns are expected to be among the first to apply, a provincial spokesperson said.",
]


def test_a_report_carrying_the_wire_lede_in_its_photo_caption_stays_apart_in_any_order(db):
    """The two short takes share one sentence with the report: half of each of them,
    and one sentence in eight of the report, which does not open with it. They are
    copies of the wire (which opens with it), the report is not, in all 24 orders."""
    texts = {
        "wire": WIRE,
        "report": REPORT_WITH_LEDE_IN_CAPTION,
        "caption": CAPTION_AND_LEDE,
        "edit": LEDE_AND_A_LINE,
    }
    for order in itertools.permutations(texts):
        for name in COLLECTIONS:
            db[name].delete_many({})
        found = place(db, *((name, texts[name]) for name in order))
        assert found["caption"] == found["wire"] == found["edit"], order
        assert found["report"] != found["wire"], order


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "page first"])
def test_a_caption_page_joins_the_wire_that_opens_with_its_lede(db, wire_first):
    """The caption page alone with the wire: one sentence shared, half of the page and a
    fifth of the wire, whose first words the page carries (the larger text opens as the
    smaller one does). In the case above it can also join through the wire's short take,
    which hid this rule: nothing failed when it was taken out."""
    texts = [("wire", WIRE), ("caption", CAPTION_AND_LEDE)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["caption"] == found["wire"]


# a sports desk's own report, which reproduces one wire paragraph of two sentences
# (WIRE[2] and WIRE[3]) in its middle, after six sentences of its own
REPORT_WITH_A_WIRE_PARAGRAPH = [
    "For the mayors of Manitoba's smallest towns, Tuesday's news from Ottawa was the first "
    "good word about their pipes in more than a decade.",
    "Gilbert Plains has patched the same stretch of main on its main street four times "
    "since 2019, and the council has no money left in this year's budget for a fifth.",
    "Grandview's water tower, built in 1962, leans far enough that residents joke about "
    "it, though nobody on council laughs when the engineers' report is read out.",
    "Reeve Sandra Kowalchuk said she had written to three ministers in five years and had "
    "received three letters promising that help was coming.",
    "The town's own engineers estimate that replacing the worst two kilometres of pipe "
    "would cost more than the municipality collects in property taxes in a year.",
    "Residents on the east side have been told to boil their water three times since "
    "the fall, and the school has been bringing in bottled water for its students.",
    WIRE[2] + " " + WIRE[3],
    "Whether the towns will see any of the money before next winter is another matter, "
    "and the reeve said she would believe it when the crews arrived.",
    "Council meets again on the 14th, when it will decide whether to borrow for the work "
    "in the meantime or wait for Ottawa's agreements to be signed.",
]
# a regional edit: the lede reworded, the next two wire sentences kept, then its own
EDIT_WITH_A_REWORDED_LEDE = [
    "Ottawa is putting $2 billion into the leaking pipes and treatment plants of the "
    "country's small towns, a plan announced on Tuesday that will take five years.",
    WIRE[1],
    WIRE[2],
    "In Brandon, councillors said they would ask for a share of the money for the city's "
    "east-side main, which has burst twice since January.",
    "Brandon's engineers put the cost of a new main at $40 million, more than twice what "
    "the council set aside this year.",
    "The city's request is due before the end of the spring session of council.",
]


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "text first"])
def test_one_wire_paragraph_in_the_middle_of_a_report_is_no_copy(db, wire_first):
    """Two shared sentences, 0.4 of the wire's narrative: enough containment. But they
    start the wire's third sentence and the report's seventh (as newsday.com's Pelé
    piece): a paragraph lifted into a report of its own, not a copy, which keeps the
    wire's order from the top, under at most a few lines of the site's own."""
    texts = [("wire", WIRE), ("report", REPORT_WITH_A_WIRE_PARAGRAPH)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["report"] != found["wire"]


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "text first"])
def test_one_wire_paragraph_closing_a_report_is_no_copy(db, wire_first):
    """The same paragraph as the last of the report: the shared sentences run to the
    report's end, as a trimmed copy's do under lines of its site's own, but a trimmed copy
    keeps the wire from its lede, and these start at the wire's third sentence."""
    own = [p for p in REPORT_WITH_A_WIRE_PARAGRAPH if not p.startswith(WIRE[2])]
    texts = [("wire", WIRE), ("report", [*own, WIRE[2] + " " + WIRE[3]])]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["report"] != found["wire"]


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "text first"])
def test_a_regional_edit_keeping_the_two_sentences_after_a_reworded_lede_joins(db, wire_first):
    """The same two shared sentences, neither text's opening (the edit reworded the
    lede), and most of neither text: but they are the second and third of both, where a
    copy that rewrote its lede keeps them."""
    texts = [("wire", WIRE), ("edit", EDIT_WITH_A_REWORDED_LEDE)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["edit"] == found["wire"]


def test_two_short_takes_sharing_one_sentence_that_is_much_of_both_join(db):
    """Two desks' early takes of one wire item, each with the lede in its own words: they
    share one wire sentence, which is half of the one and a third of the other. Neither
    has a narrative of its own it was lifted into: one story (without the wire, which
    would bridge them)."""
    first = [
        "Small towns will get federal money over five years to fix their old and leaking "
        "water systems, Ottawa said Tuesday.",
        WIRE[1],
    ]
    second = [
        "The federal government says $2 billion is coming for small communities whose "
        "water pipes and treatment plants are failing.",
        "Manitoba towns are expected to be among the first to apply for the money.",
        WIRE[1],
    ]
    found = place(db, ("first", first), ("second", second))
    assert found["second"] == found["first"]


def test_a_desk_take_that_rewords_each_of_the_first_sentences_in_part_joins(db):
    """An early take that rewords the wire's first three sentences, each keeping a third
    to a half of its words in order, then goes on in its own words: no sentence is
    shared whole, two and a half are shared in part, at the top of both texts. A
    reworded sentence marks where the shared part starts as a whole one does."""
    take = [
        "The federal government announced Tuesday it will spend $2 billion on the pipes and "
        "plants of small towns, with the work to be done over five years.",
        "The money will flow through provincial agreements signed over the coming months, "
        "the minister said, with work starting in the spring.",
        "Municipal leaders had lobbied for years for help with pipes and treatment plants "
        "built long ago, many of which are now past their useful lives.",
        "In Manitoba, the first towns to apply are likely to be Dauphin and Gilbert Plains, "
        "where mains have burst this winter.",
        "Dauphin's council will discuss its application at its next meeting, the mayor said "
        "on Wednesday.",
        "Gilbert Plains has patched the same stretch of main four times since 2019.",
    ]
    found = place(db, ("wire", WIRE), ("take", take))
    assert found["take"] == found["wire"]


def test_a_trimmed_copy_under_a_sites_own_lines_joins(db):
    """A regional page printed three lines of its own above the wire's first two
    sentences (a newsletter pitch, the day's weather, a subscription appeal), which the
    extractor kept: less than half of the page is the wire's, and the shared sentences
    start at its fourth, still near its top."""
    page = [
        "Sign up for our morning newsletter and get the day's local headlines, obituaries "
        "and road reports in your inbox before seven, every weekday and on Saturdays.",
        "Today in Dauphin: 4 degrees and cloudy, with flurries expected later this afternoon "
        "and a low of minus 9 overnight, and more snow on the way for the weekend.",
        "Our newsroom relies on readers like you, so please consider a subscription today; "
        "it costs less than a cup of coffee a week and keeps local reporting going.",
        WIRE[0],
        WIRE[1],
    ]
    found = place(db, ("wire", WIRE), ("page", page))
    assert found["page"] == found["wire"]


def test_a_report_run_on_past_its_top_photo_credit_is_no_photo_page():
    """A page of nothing but a caption is a photo page (a gallery of one photo), which
    joins the story whose lede its caption carries. A report whose line breaks were lost
    runs on past the credit of its top photo into its own sentences: that is no photo
    page (gainesvilletimes.com's Rosalynn Carter profile, second validation sample)."""
    caption = (
        "Water pours from a broken main on a street in Brandon, Man., on March 3, 2024. "
        + lede(WIRE)
        + " (CP Photo/Tim Smith, File)"
    )
    assert is_gallery([caption])
    run_on = (
        caption + " Nobody in Dauphin remembers a winter like this one, and the town's "
        "public works crew has been out on the east side every week since January."
    )
    assert not is_gallery([run_on])


# a local paper's own report: three agency photos between its paragraphs, each caption
# in the agency's style (the photo's description, then the story's lede: over 80 words),
# as queenspost.com printed its Tony Bennett report (second validation sample)
def agency_caption(description: str) -> str:
    return f"{description} {lede(WIRE)} (CP Photo/Tim Smith, File)"


REPORT_WITH_THREE_AGENCY_PHOTOS = [
    agency_caption(
        "Water pours from a broken main on a residential street in Brandon, Man., on "
        "Sunday, March 3, 2024, the second break on that street this winter, as crews "
        "from the city's public works department wait for parts to arrive from Winnipeg "
        "and neighbours carry buckets and jugs from a tanker truck parked at the corner "
        "of the street since early morning."
    ),
    "Dauphin's council heard on Tuesday that the east-side main has burst twice since "
    "January, and residents there have been boiling their drinking water since.",
    agency_caption(
        "A town worker checks a valve on a water main in Dauphin, Man., on Monday, March "
        "4, 2024, a day after the line burst under the highway for the second time in "
        "three months, flooding the basements of two businesses on Main Street and "
        "closing the highway's southbound lanes to traffic for most of the afternoon "
        "while crews dug down to the pipe."
    ),
    "Mayor Allan Tomlinson said the town would apply as soon as the program opens, and "
    "that its engineers already have a plan for the worst of the pipes.",
    agency_caption(
        "Residents fill jugs at a water station in Dauphin, Man., on Tuesday, March 5, "
        "2024, after the town's main burst for the second time this year, leaving the "
        "east side of town under a boil-water advisory that health officials say could "
        "last for several more weeks while the line is repaired and tested again."
    ),
    "A public hearing on the plan is set for the first week of next month at the arena.",
]


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "report first"])
def test_a_report_with_agency_photos_between_its_paragraphs_stays_apart(db, wire_first):
    """Its photos sit between its paragraphs, so it is no gallery (a gallery's captions
    follow one another), and an agency caption that ends with its credit is a caption
    even past 80 words: the page's narrative is its own, and it shares no sentence with
    the wire, nor with a gallery that printed the same photo."""
    assert not is_gallery(REPORT_WITH_THREE_AGENCY_PHOTOS)
    gallery = [
        "Photos: a winter of broken water mains",
        REPORT_WITH_THREE_AGENCY_PHOTOS[0],
        REPORT_WITH_THREE_AGENCY_PHOTOS[2],
        REPORT_WITH_THREE_AGENCY_PHOTOS[4],
    ]
    assert is_gallery(gallery)
    texts = [("wire", WIRE), ("gallery", gallery), ("report", REPORT_WITH_THREE_AGENCY_PHOTOS)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["gallery"] == found["wire"]
    assert found["report"] != found["wire"]


def test_a_short_report_with_a_later_wire_sentence_stays_apart_when_the_wires_text_is_gone(db):
    """A two-sentence report whose second sentence is the wire's fourth: half of the
    report, a fifth of the wire, which does not open with it; it stays apart because the
    wire's sentences, read from its stored article, show that. When that article is gone
    or has no text (the fingerprint outlives it), the wire's sentences are unknown, which
    is no reason to join: unknown is not "a third of the wire shared"."""
    report = [
        "Wormleysburg council says it will be first in line when the federal water money opens.",
        WIRE[3],
    ]
    found = place(db, ("wire", WIRE))
    db.articles.update_one({"_id": "wire"}, {"$unset": {"text": ""}})
    found.update(place(db, ("report", report)))
    assert found["report"] != found["wire"]
    # the same report with the wire's text at hand: apart, by the wire's own count
    for name in COLLECTIONS:
        db[name].delete_many({})
    found = place(db, ("wire", WIRE), ("report", report))
    assert found["report"] != found["wire"]


def test_two_own_texts_of_the_same_size_sharing_one_sentence_read_the_same_in_either_order(db):
    """Two texts of their own sharing one wire sentence (the wire's fourth): half of a
    two-sentence brief, a fifth of a five-sentence report, which does not open with it.
    The one-sentence rule asks how much of the *larger* text it is; with shingle sets of
    the same size, the larger was whichever was indexed first, so the pair joined in one
    order of arrival and stayed apart in the other. On a tie each is the larger: apart,
    in both orders."""
    report = [
        "Gilbert Plains residents packed the community hall on Tuesday evening to hear what "
        "the town plans to do.",
        "The reeve spoke for nearly an hour about the town's pipes.",
        WIRE[3],
        "Several farmers asked about wells outside the town limits.",
        "A vote is expected at the next meeting in the spring.",
    ]

    def size(paragraphs: list[str]) -> int:
        return len(shingle_hashes(normalize.clean_paragraphs("\n".join(paragraphs))))

    padding = (
        "as the council heard from engineers residents and staff about the cost of new "
        "pipes pumps and a treatment plant for the east side of town this year"
    )
    words = iter(padding.split())
    first = "Dauphin council met late on Tuesday night to go over its list of aging water mains"
    while size([first + ".", WIRE[3]]) < size(report):
        first += " " + next(words)
    brief = [first + ".", WIRE[3]]
    assert size(brief) == size(report)
    texts = [("brief", brief), ("report", report)]
    found = place(db, *texts)
    assert found["brief"] != found["report"]
    for name in COLLECTIONS:
        db[name].delete_many({})
    found = place(db, *texts[::-1])
    assert found["brief"] != found["report"]


# a write-thru: the agency rewrote the top and kept the early take's body
WRITE_THRU_TOP = [
    "Ottawa will spend $2 billion over five years on the water systems of small towns and "
    "First Nations, the infrastructure minister said Tuesday, calling the plan overdue.",
    "The minister said the first agreements with the provinces could be signed before the "
    "end of the summer, and that towns under boil-water advisories would be served first.",
    "Opposition critics called the program too small for a backlog they put at $30 billion "
    "and said the money would take years to reach the ground.",
]
WRITE_THRU = [*WRITE_THRU_TOP, *WIRE[1:4]]
EARLY_TAKE = WIRE[:4]
# a photo page of the story, its text the write-thru's new top only
SLIDE = [*WRITE_THRU_TOP, "(CP Photo/Tim Smith)"]


@pytest.mark.parametrize(
    "order",
    [("early", "slide", "write-thru"), ("slide", "early", "write-thru")],
    ids="-".join,
)
def test_a_write_thru_arriving_last_merges_its_early_take_and_a_slide_of_its_new_top(db, order):
    """The early take and the slide share nothing: the write-thru, arriving after both,
    verifies against each. A roundup page verifies against two stories the same way, and
    the bridge rule keeps those apart when the two texts share nothing; but a roundup
    carries each item's lede, where the write-thru carries the slide's and not the early
    take's, which it rewrote. Crawled in any order, the three are one story (the dpa
    Bocholt story of the third validation sample split in two orders of five)."""
    texts = {"early": EARLY_TAKE, "slide": SLIDE, "write-thru": WRITE_THRU}
    found = place(db, *((name, texts[name]) for name in order))
    assert found["early"] == found["slide"] == found["write-thru"]


# a regional page of the wire item as vn.at printed dpa's (third validation sample): two
# photo captions without a credit the rules know and a line of its own above a reworded
# lede, then two of the wire's sentences, then lines of its own again
PAGE_UNDER_ITS_OWN_LINES = [
    "Crews dig down to a burst water main on a street in Dauphin, Man., on a cold "
    "Wednesday morning, as neighbours look on.",
    "A tanker truck hands out drinking water to residents of the east side of town while "
    "the repairs go on.",
    "Residents of several Prairie towns have spent much of the winter boiling their water.",
    "Small places across Canada are to share in a multibillion-dollar federal program for "
    "their ageing pipes and treatment plants, Ottawa said.",
    WIRE[2],
    WIRE[3],
    "Dauphin's mayor said the town would apply as soon as the program opens its doors.",
    "The town's engineers have already drawn up a list of the worst pipes to replace first.",
]


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "page first"])
def test_two_wire_sentences_under_four_lines_of_a_pages_own_join(db, wire_first):
    """The two shared sentences start at the page's fifth sentence and the wire's third:
    not the same place, not running to the page's end, not most of either text, and
    together. A page opening prints captions, a line of its own and a reworded lede
    above the wire's text; the fifth sentence is still its top (OPENING_SENTENCES)."""
    texts = [("wire", WIRE), ("page", PAGE_UNDER_ITS_OWN_LINES)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["page"] == found["wire"]
