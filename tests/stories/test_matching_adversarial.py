"""Story matching against realistic adversarial pages (issue 33), as a reviewer attacked it.

Every text here is invented (no publisher's text), written the way regional news pages
print them: slideshows and briefs pages carrying several stories, credit styles of CP,
dpa and CBC, look-alike and invisible characters, titles and ordinal dates that are no
sentence end, teaser boxes, order of arrival tried both ways round. Cases marked
``FAILS`` are the known limits listed in docs/design/matching.md (section 2): they are
``xfail(strict=True)``, so a change that fixes one shows as XPASS and must unmark it.
"""

from __future__ import annotations

import re

import pytest

from crawler.stories import StoryIndex
from crawler.stories.shingles import (
    is_caption,
    is_gallery,
    ledes_of,
    match_words,
    sentence_shingles,
    split_sentences,
)
from crawler.text import normalize
from tests.stories.test_story_matching import T0, WIRE, member

FAILS = pytest.mark.xfail(
    strict=True, reason="known limit (docs/design/matching.md, section 2, known limits)"
)
COLLECTIONS = ("fingerprints", "stories", "story_members", "articles")


def place(db, *texts: tuple[str, list[str]]) -> dict[str, str]:
    """Place the texts one by one in this order; each text's story id by its name, as the
    stories collection has it at the end (a later merge may have moved an earlier text)."""
    index = StoryIndex(db)
    assigned = {}
    for article_id, paragraphs in texts:
        db.articles.insert_one({"_id": article_id, "title": "T", "text": "\n".join(paragraphs)})
        page = member(article_id, paragraphs, f"site-{article_id}")
        assigned[article_id] = index.assign(page, T0).story_id
    live = {
        doc["_id"]: doc["story_id"]
        for doc in db.story_members.find({"_id": {"$in": list(assigned)}})
    }
    return {a: live.get(a, story) for a, story in assigned.items()}


def both_orders(db, first: tuple[str, list[str]], *rest: tuple[str, list[str]]):
    """The texts placed in the given order, then (on an emptied index) the reverse."""
    texts = [first, *rest]
    forward = place(db, *texts)
    for name in COLLECTIONS:
        db[name].delete_many({})
    backward = place(db, *texts[::-1])
    return forward, backward


# --- the stories ------------------------------------------------------------------------

WATER = WIRE  # a Canadian Press story (test_story_matching's wire copy)
FIRE = [  # another Canadian Press story, of another event
    "PRINCE GEORGE, B.C. (CP) — An out-of-control wildfire north of Prince George forced "
    "about 2,000 people from their homes overnight as strong winds pushed the flames toward "
    "the edge of the city.",
    "The BC Wildfire Service said the blaze grew to more than 40 square kilometres by "
    "Wednesday morning, and that crews had been pulled back from the north flank for safety.",
    "Evacuees were directed to a reception centre at the city's exhibition grounds, where "
    "the Red Cross handed out cots, meals and vouchers for hotel rooms.",
    "Forecasters expect temperatures in the mid-30s for the rest of the week, with no rain "
    "in sight and gusts of up to 50 kilometres an hour on Thursday afternoon.",
    "The province has recorded more than 300 fires since April, about twice the ten-year "
    "average for this point in the season.",
]
FERRY = [  # a third story of another event, an AP one
    "SEATTLE (AP) — A state ferry lost power and drifted for nearly an hour in Puget Sound "
    "on Sunday with more than 600 passengers aboard before tugboats towed it back to port.",
    "Washington State Ferries said an electrical fault shut down both engines shortly after "
    "the vessel left the Fauntleroy terminal for Vashon Island in calm weather.",
    "No injuries were reported, and the Coast Guard said the ferry never came close to the "
    "shore or to other vessels while crews worked to restore power.",
    "The agency has cancelled dozens of sailings this summer because of crew shortages and "
    "an aging fleet, and lawmakers have promised money for new hybrid-electric boats.",
]


def lede(story: list[str]) -> str:
    """A story's first paragraph without its dateline ("CITY (AP) — ", "Stadt (dpa) - ")."""
    return re.split(r"\) [-—] ", story[0], maxsplit=1)[1]


# --- 1. look-alike letters -----------------------------------------------------------------

# what scraper sites swap in: Cyrillic and Greek capitals and small letters, capital I as well
SWAP = str.maketrans(
    {
        "a": "а",
        "c": "с",
        "e": "е",
        "i": "і",
        "o": "о",
        "p": "р",
        "s": "ѕ",
        "I": "І",  # Cyrillic capital І (U+0406), the capital of the "і"
        "T": "Т",
        "O": "О",
    }
)


def test_capital_i_in_cyrillic_or_greek_is_read_as_i_not_l():
    """Failed in review. Cyrillic "І" (U+0406) and Greek "Ι" (U+0399) are the look-alikes of a
    capital I, but the confusables data give them the skeleton "l" (TS #39 maps I to l as
    well, and the ASCII-to-ASCII half of the skeleton is not applied). So "Іn", "Іt",
    "Іran", "Іndigenous" do not match "In", "It", "Iran", "Indigenous": every 5-gram
    holding such a word is lost, in a disguised copy of a story on Iran or Israel
    (every mention), and in the bench's own made copies (bench/lookalike.py maps I to
    U+0406)."""
    assert match_words("Іn Іran, Ιt said") == match_words("In Iran, It said")


def test_a_copy_with_zero_width_spaces_inside_its_words_joins_the_story(db):
    """Failed in review. Spam copies put a zero-width space inside words as well as swapping
    letters. match_words drops U+200B, but the text never reaches it with one: the
    extractor's normalize.clean_paragraphs has already turned every U+200B into a SPACE
    (_BREAKING_INVISIBLE), so "re\\u200bpair" is read as two words "re pair". A trimmed
    disguised copy with one in most words shares nothing and is a story of its own."""
    disguised = []
    for paragraph in WATER[:3]:
        words = paragraph.translate(SWAP).split(" ")
        disguised.append(" ".join(w[:2] + "\u200b" + w[2:] if len(w) > 4 else w for w in words))
    found = place(db, ("wire", WATER), ("spam", disguised))
    assert found["spam"] == found["wire"]


@pytest.mark.parametrize(
    "invisible",
    ["\u180e", "\ufe0f", "\U000e0041", "\u2066", "\u061c", "\u17b4", "\u3164", "\u115f"],
    ids=["MVS", "VS16", "tag", "LRI", "ALM", "Khmer", "Hangul filler", "Hangul choseong filler"],
)
def test_other_invisible_characters_inside_a_word_are_ignored(invisible):
    """Failed in review. _FORMAT_CHARS lists ten format characters; the Unicode property made
    for this, Default_Ignorable_Code_Point (what renders as nothing), has ~4,000: the
    Mongolian vowel separator, variation selectors, tag characters, bidi isolates, the
    Arabic letter mark (all split the word, being no \\w), Khmer inherent vowels, and
    the Hangul fillers (letters to \\w: they make a new word). Spam kits use them as
    they use U+200B."""
    page = normalize.clean_paragraphs(f"re{invisible}pairs to aging water systems")
    assert match_words(page[0]) == ["repairs", "to", "aging", "water", "systems"]


def test_a_copy_mixing_cyrillic_greek_and_fullwidth_letters_joins(db):
    """Held in review. Cyrillic small letters, Greek omicron and full-width letters mixed in
    one trimmed copy (no capital I, no zero-width space): NFKC and the skeleton fold them."""
    full = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "bdfghklmnrtuw"})
    mixed = [
        " ".join(
            w.translate(SWAP).replace("о", "ο") if i % 2 else w.translate(full)
            for i, w in enumerate(p.replace("I", "i").split(" "))
        )
        for p in WATER[:2]
    ]
    fwd, back = both_orders(db, ("wire", WATER), ("spam", mixed))
    assert fwd["spam"] == fwd["wire"]
    assert back["spam"] == back["wire"]


# --- 2. captions: agency photo credits other than AP's ----------------------------------------

CP_CAPTION = (
    "Smoke from the Chief Lake wildfire rises behind homes on the northern edge of Prince "
    "George, B.C., on Tuesday, July 8, 2025. THE CANADIAN PRESS/Marc Olsen"
)
STATION_FIRE = [  # a TV station's own report, its photo (CP's) on top with CP's caption
    CP_CAPTION,
    "Residents of the Hart Highway area had about twenty minutes to pack their cars before "
    "RCMP officers went door to door on Tuesday night telling them to leave.",
    "Karen Willis, who has lived on Chief Lake Road for 31 years, said she grabbed her cat, "
    "her passport and a box of photos, and watched the glow from the highway.",
    "The regional district opened a second reception centre at the College of New "
    "Caledonia gym after the first one filled up before midnight.",
    "Our reporter at the scene said traffic on Highway 97 was backed up for kilometres as "
    "people headed south toward Quesnel and Williams Lake.",
]
PAPER_FIRE = [  # the local paper's own report, with the same agency photo and caption
    CP_CAPTION,
    "City council held an emergency meeting on Wednesday morning and declared a local state "
    "of emergency, which lets staff spend money on sandbags and sprinklers without a vote.",
    "The mayor asked people in the evacuation zone not to return for belongings, saying "
    "wardens could not guarantee anyone's safety if the wind shifted again.",
    "Three schools in the area will stay closed until at least Monday, the school district "
    "said in a letter sent to parents overnight.",
    "Local businesses have started collecting water, diapers and pet food for the families "
    "staying at the exhibition grounds.",
]

DPA_CAPTION = (
    "Einsatzkräfte der Feuerwehr räumen nach dem Tornado umgestürzte Bäume von einer Straße "
    "im Bocholter Ortsteil Biemenhorst. Foto: Jonas Berger/dpa"
)
WDR_STYLE = [  # a broadcaster's own report
    DPA_CAPTION,
    "Der Wirbelsturm hatte am Mittwochabend nach Angaben der Stadt mehr als dreißig Häuser "
    "beschädigt, einige davon so schwer, dass sie vorerst nicht bewohnt werden dürfen.",
    "Bürgermeister Thomas Kerkhoff sprach von einem Bild der Verwüstung und dankte den "
    "Helfern, die bis in die Nacht Dächer mit Planen abgedeckt hatten.",
    "Verletzt wurde nach bisherigen Erkenntnissen niemand, teilte die Polizei im Kreis "
    "Borken am Donnerstagmorgen mit.",
]
LOCAL_PAPER_DE = [  # the local paper's own report, same dpa photo and caption
    DPA_CAPTION,
    "In Biemenhorst sind am Donnerstag die Aufräumarbeiten angelaufen, Anwohner und "
    "Nachbarn aus den umliegenden Straßen packten gemeinsam mit an.",
    "Die Stadtwerke hatten die Stromversorgung in dem Viertel nach wenigen Stunden wieder "
    "hergestellt, nur einzelne Straßen blieben bis zum Morgen dunkel.",
    "Für Samstag ruft die Kirchengemeinde zu einer Sammelaktion für die betroffenen Familien "
    "auf, Spenden werden im Pfarrheim angenommen.",
]


@pytest.mark.parametrize(
    "caption",
    [
        CP_CAPTION,
        DPA_CAPTION,
        "Le premier ministre François Legault s'adresse aux journalistes à Québec, mardi. "
        "LA PRESSE CANADIENNE/Jacques Boissinot",
        "Le premier ministre s'adresse aux journalistes à Québec, mardi. (Jacques "
        "Boissinot/La Presse Canadienne)",
        "Ein Auto wurde zehn Meter weit durch die Luft geschleudert. Bild: picture "
        "alliance/dpa | Jonas Berger",
        "Crews clear fallen trees from Main Street on Tuesday morning. (Jane Doe/CBC)",
        "Finance Minister Jane Doe speaks to reporters on Parliament Hill. The Hill Times "
        "photograph by John Roe",
    ],
    ids=["CP", "dpa", "PC", "PC in brackets", "picture alliance", "CBC", "photograph by"],
)
def test_agency_photo_captions_with_a_trailing_credit_are_captions(caption):
    """Failed in review. The caption patterns know AP's "(AP Photo/...)", "Photo:" opening a line
    and parenthesised credits. The Canadian Press prints "... THE CANADIAN PRESS/Jo Doe"
    (French: "LA PRESSE CANADIENNE/Jo Doe") after the caption, dpa's German clients
    "... Foto: Jo Doe/dpa" or "Bild: picture alliance/dpa | Jo Doe". Those captions
    count as narrative, and as a page's first lede when the photo is on top."""
    assert is_caption(caption)


@pytest.mark.parametrize(
    "reports", [(STATION_FIRE, PAPER_FIRE), (WDR_STYLE, LOCAL_PAPER_DE)], ids=["CP", "dpa"]
)
def test_two_own_reports_opening_with_the_same_agency_photo_stay_apart(db, reports):
    """Failed in review, precision. Two independent reports of one event, each opening with
    the same agency photo and its caption (CP's or dpa's trailing credit, not recognised
    as a caption): the caption is both pages' first lede, so the lede rule (same first
    lede, 0.05 containment, two anchors: the lede's own bottom-k anchors) says
    "write-thru" and makes them one story, in either order."""
    first, second = reports
    fwd, back = both_orders(db, ("a", first), ("b", second))
    assert fwd["a"] != fwd["b"]
    assert back["a"] != back["b"]


def test_two_own_reports_opening_with_the_same_ap_photo_stay_apart(db):
    """Held in review: with AP's inline credit the caption is recognised and left out."""
    ap = CP_CAPTION.replace(" THE CANADIAN PRESS/Marc Olsen", " (AP Photo/Marc Olsen)")
    fwd, back = both_orders(db, ("a", [ap, *STATION_FIRE[1:]]), ("b", [ap, *PAPER_FIRE[1:]]))
    assert fwd["a"] != fwd["b"]
    assert back["a"] != back["b"]


# --- 3. the gallery rule ------------------------------------------------------------------------

# "Photos of the week": unrelated AP photos, captions in the agency's style (the photo's
# description, then the story's lede), each with its credit line under it
SLIDESHOW = [
    "The week in pictures: a selection of news photos from around North America.",
    "Firefighters watch a hillside burn near Prince George, B.C., on Tuesday. " + lede(FIRE),
    "The Associated Press",
    "A woman fills jugs at a water station in Shamattawa, Man., on Monday. " + lede(WATER),
    "The Associated Press",
    "Tugboats guide a disabled ferry into the Fauntleroy terminal in Seattle on Sunday. "
    + lede(FERRY),
    "AP Photo/Lindsey Wasson",
    "A young fan reaches for a foul ball during the seventh inning of a minor league game "
    "in Spokane, Wash., on Saturday, July 5, 2025.",
    "AP Photo/Young Kwak",
]


def test_a_slideshow_of_unrelated_photos_does_not_glue_their_stories_together(db):
    """Failed in review, precision, serious. A "week in pictures" slideshow carries, in the
    agency's caption style, the ledes of several unrelated stories. It is a gallery, so
    it "carries the lede" of each; crawled first, every one of those stories arriving
    later joins the slideshow's story: three unrelated stories become one. (Crawled
    last, it joins the smallest story id of the three, which is wrong too, but bounded.)
    """
    found = place(db, ("slideshow", SLIDESHOW), ("fire", FIRE), ("water", WATER), ("ferry", FERRY))
    assert len({found["fire"], found["water"], found["ferry"]}) == 3


def test_a_slideshow_crawled_last_does_not_merge_the_stories_it_shows(db):
    """Held in review: crawled after them, the slideshow verifies against all three, and
    the bridge rule (their own texts share nothing) keeps the three apart."""
    found = place(db, ("fire", FIRE), ("water", WATER), ("ferry", FERRY), ("slideshow", SLIDESHOW))
    assert len({found["fire"], found["water"], found["ferry"]}) == 3


# one set of agency photos of the fire, with long captions in the agency's style
FIRE_PHOTOS = [
    "Smoke rises behind houses on Chief Lake Road north of Prince George, B.C., on Tuesday, "
    "July 8, 2025, as an out-of-control wildfire pushed toward the edge of the city, "
    "forcing residents of several rural subdivisions to leave their homes with little "
    "warning. (AP Photo/Marc Olsen)",
    "A firefighter with the BC Wildfire Service sprays water on hot spots along a fire "
    "guard near the Hart Highway north of Prince George on Wednesday, July 9, 2025, after "
    "crews were pulled back from the fire's northern flank because of strong winds. (AP "
    "Photo/Marc Olsen)",
    "Evacuees line up for cots and meal vouchers at the reception centre set up at the "
    "exhibition grounds in Prince George on Wednesday, July 9, 2025, after about 2,000 "
    "people were ordered out of their homes overnight by the regional district. (AP "
    "Photo/Marc Olsen)",
]


@pytest.mark.parametrize("flip", [False, True], ids=["station first", "paper first"])
def test_two_own_reports_with_the_same_three_agency_photos_stay_apart(db, flip):
    """Failed in review, precision. A short station report and the local paper's own report of
    the same fire each carry the same three agency photos inline, with the agency's long
    captions. Captions are left out of a report's narrative, but three captions holding
    half the words make each page a "gallery", whose captions ARE its text: the two
    reports now share three long sentences (containment > 0.5) and are one story. A
    short web story with three photos is the commonest page a TV station publishes.
    Since the second validation sample, a gallery's captions must follow one another:
    these reports' photos sit between their paragraphs, so they are no galleries, and
    their captions are no narrative."""
    station = [STATION_FIRE[1], FIRE_PHOTOS[0], STATION_FIRE[2], FIRE_PHOTOS[1], FIRE_PHOTOS[2]]
    paper = [PAPER_FIRE[1], FIRE_PHOTOS[0], PAPER_FIRE[2], FIRE_PHOTOS[1], FIRE_PHOTOS[2]]
    assert not is_gallery(normalize.clean_paragraphs("\n".join(station)))
    order = [("station", station), ("paper", paper)]
    found = place(db, *(order[::-1] if flip else order))
    assert found["station"] != found["paper"]


# German and French galleries print the credit on a line of its own, in their own words
def german_gallery() -> list[str]:
    captions = [
        "Ein Dach liegt nach dem Unwetter im Garten eines Hauses in Biemenhorst.",
        "Helfer des Technischen Hilfswerks sichern ein beschädigtes Haus mit Planen, am "
        "Donnerstagmorgen in Bocholt. " + lede(DPA_TORNADO),
        "Umgestürzte Bäume blockieren eine Straße am Stadtrand von Bocholt.",
        "Anwohner räumen Trümmer von einem Parkplatz vor einem Supermarkt.",
    ]
    page = ["Tornado in Bocholt: die Bilder der Zerstörung"]
    for caption, credit in zip(
        captions,
        [
            "Foto: Jonas Berger/dpa",
            "Foto: Jonas Berger/dpa",
            "Bild: picture alliance/dpa",
            "© Jonas Berger/dpa",
        ],
        strict=True,
    ):
        page += [caption, credit]
    return page


DPA_TORNADO = [
    "Bocholt (dpa/lnw) - Ein Tornado hat am Mittwochabend in Bocholt im Münsterland "
    "zahlreiche Häuser beschädigt und Bäume entwurzelt.",
    "Nach Angaben eines Stadtsprechers wurden mehr als dreißig Gebäude in Mitleidenschaft "
    "gezogen, einige Dächer seien komplett abgedeckt worden.",
    "Der Deutsche Wetterdienst bestätigte am Donnerstag, dass es sich um einen Tornado "
    "gehandelt habe, und stufte ihn vorläufig in die Stärke F2 ein.",
    "Verletzt wurde nach ersten Erkenntnissen niemand. Die Aufräumarbeiten sollen "
    "mehrere Tage dauern.",
]


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "gallery first"])
def test_a_german_gallery_with_dpa_credit_lines_joins_the_story_whose_lede_it_carries(
    db, wire_first
):
    """Failed in review, recall. The gallery rule's credit lines are English ("Associated
    Press", "AP Photo/...", "... file, 1987"); a German site's gallery prints "Foto: Jo
    Doe/dpa", "Bild: picture alliance/dpa" or "© Jo Doe/dpa" under each photo. The first
    two are captions to is_caption, not credit lines, so the description above them
    does not count as a caption: the page is no gallery, its one dpa sentence is a
    borrowed sentence, and the gallery of the story stays apart from it."""
    gallery = german_gallery()
    order = [("dpa", DPA_TORNADO), ("gallery", gallery)]
    found = place(db, *(order if wire_first else order[::-1]))
    assert found["gallery"] == found["dpa"]


# --- 4. order of arrival: a page carrying several stories, crawled before them --------------------

BRIEFS = [  # a "news in brief" page: the first two paragraphs of three wire items
    "NATIONAL NEWS IN BRIEF",
    "Feds pledge $2B for small-town water systems",
    *WATER[:2],
    "Wildfire forces 2,000 from homes near Prince George",
    *FIRE[:2],
    "Disabled ferry drifts for an hour in Puget Sound",
    *FERRY[:2],
]


@FAILS
def test_a_news_in_brief_page_crawled_first_does_not_merge_the_stories_it_carries(db):
    """Failed in review, precision, serious. A briefs page (three wire items, two paragraphs
    each) crawled before the items' full copies is a story of its own; each full copy
    then verifies against it (two shared sentences, containment ~0.4) and joins it:
    three unrelated stories are one. Crawled after them, the briefs page joins one and
    the bridge rule keeps them apart: the answer depends on the order of arrival."""
    found = place(db, ("briefs", BRIEFS), ("water", WATER), ("fire", FIRE), ("ferry", FERRY))
    assert len({found["water"], found["fire"], found["ferry"]}) == 3


def test_a_news_in_brief_page_crawled_last_merges_nothing(db):
    """Held in review: the other order of arrival of the case above."""
    found = place(db, ("water", WATER), ("fire", FIRE), ("ferry", FERRY), ("briefs", BRIEFS))
    assert len({found["water"], found["fire"], found["ferry"]}) == 3


# --- 5. the teaser rule ----------------------------------------------------------------------


def cut(paragraphs: list[str], words: int = 40) -> str:
    """A teaser as a recommended-items box prints it: the first words, cut with ' ...'."""
    return " ".join(" ".join(paragraphs).split()[:words]) + " ..."


VIDEO_PAGE = [  # a site's video page: a one-line description, then its recommended box
    "VIDEO: The premier speaks to reporters at the legislature",
    "RECOMMENDED FOR YOU",
    "Feds pledge $2B for small-town water systems",
    cut([lede(WATER), *WATER[1:]]),
    "Wildfire forces 2,000 from homes near Prince George",
    cut([lede(FIRE), *FIRE[1:]]),
]


def test_a_video_page_with_a_recommended_box_glues_nothing_together(db):
    """Failed in review, precision, serious. The teaser rule keeps teasers when leaving them out
    leaves under 20 shingles ("a page that is only a cut lede is that lede"). A video or
    photo page has almost no text of its own, so its whole recommended box becomes its
    narrative: crawled first, each story it teases joins it (each teaser is two whole
    sentences of its story, containment 0.36), and two unrelated stories are one."""
    found = place(db, ("video", VIDEO_PAGE), ("water", WATER), ("fire", FIRE))
    assert found["water"] != found["fire"]


def test_a_video_page_crawled_last_joins_none_of_the_stories_it_recommends(db):
    """Failed in review, precision, minor: crawled after them, the same page joins the first
    teased story (smallest id), though it is a copy of neither."""
    found = place(db, ("water", WATER), ("fire", FIRE), ("video", VIDEO_PAGE))
    assert found["video"] not in {found["water"], found["fire"]}


def test_a_page_that_is_only_a_cut_lede_still_joins_its_story(db):
    """Held in review: one teaser and nothing else is that story's lede (either order)."""
    page = ["Feds pledge $2B for small-town water systems", cut([lede(WATER), *WATER[1:]], 45)]
    fwd, back = both_orders(db, ("wire", WATER), ("teaser", page))
    assert fwd["teaser"] == fwd["wire"]
    assert back["teaser"] == back["wire"]


# --- 6. the borrowed-sentence rule -----------------------------------------------------------

DPA_RULES = [
    "Hannover (dpa/lni) - Niedersachsen verlängert seine Corona-Regeln für Pflegeheime und "
    "Krankenhäuser bis zum 22. Juni, wie die Staatskanzlei in Hannover am Dienstag nach "
    "einer Kabinettssitzung mitteilte.",
    "Besucher müssen dort weiterhin einen negativen Test vorlegen und eine FFP2-Maske "
    "tragen, auch wenn sie vollständig geimpft sind.",
    "In Bussen und Bahnen gilt die Maskenpflicht nach Bundesrecht ohnehin weiter, in "
    "Geschäften und Schulen dagegen nicht mehr.",
    "Die Landesregierung will Ende Juni neu über die Lage beraten und dann auch die Zahl "
    "der Corona-Patienten auf den Intensivstationen berücksichtigen.",
]
OWN_REPORT_DE = [  # a broadcaster's own report that lifts dpa's first sentence, nothing else
    "Wer Angehörige im Pflegeheim besucht, muss sich auch in den kommenden Wochen vorher "
    "testen lassen, darauf hat sich die Landesregierung am Dienstag verständigt.",
    "Niedersachsen verlängert seine Corona-Regeln für Pflegeheime und Krankenhäuser bis zum "
    "22. Juni, wie die Staatskanzlei in Hannover am Dienstag nach einer Kabinettssitzung "
    "mitteilte.",
    "Sozialministerin Daniela Behrens sagte im Landtag, die Lage auf den Stationen sei "
    "zwar ruhiger geworden, doch gerade die Älteren bräuchten weiter besonderen Schutz.",
    "Die Heimbetreiber begrüßten die Entscheidung, beklagten aber den hohen Aufwand für "
    "die Tests am Eingang, für den ihnen seit Monaten Personal fehle.",
    "Der Landespflegerat forderte, die Kosten für die Schnelltests vollständig aus der "
    "Landeskasse zu übernehmen, statt sie den Heimen aufzubürden.",
]


@pytest.mark.parametrize("date", ["22. Juni", "5. Juni"], ids=["22. Juni", "5. Juni"])
def test_a_german_day_date_does_not_make_one_borrowed_sentence_two(db, date):
    """Failed in review, precision. split_sentences breaks after a number and a full stop before
    a capital unless the number is one digit: German writes day dates as ordinals ("bis
    zum 22. Juni", "am 15. März") and every noun with a capital, so one borrowed dpa
    sentence with a date from the 10th on counts as two shared sentences, and a
    broadcaster's own report that lifted it joins the dpa story, in either order. With
    "5. Juni" (one digit, no split) the same pages stay apart: Held in review."""
    dpa = [p.replace("22. Juni", date) for p in DPA_RULES]
    own = [p.replace("22. Juni", date) for p in OWN_REPORT_DE]
    fwd, back = both_orders(db, ("dpa", dpa), ("own", own))
    assert fwd["own"] != fwd["dpa"]
    assert back["own"] != back["dpa"]


def test_titles_before_names_do_not_split_sentences():
    """Failed in review, minor. Police and council titles common in regional copy ("Det.",
    "Const.", "Cpl.", "Insp.", "Supt.", "Coun.", "Rev."), German "Mio." / "Mrd." before
    "Euro" and Quebec addresses ("boul.", "av.") are not in the abbreviation list, so a
    sentence is split there (each piece then counts toward the two shared
    sentences of more_than_a_sentence, in proportion to its length)."""
    for text in [
        "RCMP Cpl. Jane Doe said the driver was taken to hospital with minor injuries.",
        "Det. Const. Jane Doe said the suspect was arrested Tuesday at a home in the east end.",
        "Coun. Jane Doe voted against the plan, saying it would raise water rates.",
        "Das Land stellt rund 2,5 Mio. Euro für die Beseitigung der Schäden bereit.",
        "Der Schaden liegt nach ersten Schätzungen bei rund 3 Mrd. Euro im ganzen Land.",
        "Le véhicule circulait sur le boul. Taschereau vers 22 h lorsque l'accident est survenu.",
        "Les policiers ont fermé l'av. Papineau pendant plusieurs heures mardi soir.",
    ]:
        assert len(split_sentences(text)) == 1, split_sentences(text)


def test_a_report_quoting_the_wire_lede_in_quotation_marks_stays_apart(db):
    """Held in review: a station report that quotes the agency's lede in quotation marks
    (English, French and German marks) shares no narrative with it, in either order."""
    for open_, close in (("“", "”"), ("« ", " »"), ("„", "“")):
        report = [
            "Council in Dauphin reacted on Wednesday to news from Ottawa, which The Canadian "
            f"Press summed up this way: {open_}{lede(WATER)}{close}",
            "Mayor Allan Tomlinson said the town would apply for money to replace its east-side "
            "main, which has burst twice since January and left residents boiling water.",
            "The town's public works director said the job would take two summers and "
            "close Main Street for most of one of them.",
        ]
        fwd, back = both_orders(db, ("wire", WATER), ("station", report))
        assert fwd["station"] != fwd["wire"]
        assert back["station"] != back["wire"]
        for name in COLLECTIONS:
            db[name].delete_many({})


def test_one_borrowed_english_sentence_with_a_date_stays_apart_in_either_order(db):
    """Held in review: the English counterpart of the German case ("July 8. The")
    does not over-split: the month comes before the day."""
    borrowed = lede(FIRE)
    report = [
        "Families from the Hart Highway area spent Tuesday night in their cars in a mall "
        "parking lot after the reception centre ran out of cots.",
        borrowed,
        "Several told our reporter they had not been told where to go, and that the first "
        "alert reached their phones half an hour after police knocked.",
        "The regional district said on Wednesday it would review how its alerts are sent.",
        "A community meeting is planned at the arena on Thursday evening.",
    ]
    fwd, back = both_orders(db, ("wire", FIRE), ("station", report))
    assert fwd["station"] != fwd["wire"]
    assert back["station"] != back["wire"]


# --- 7. date stamps, datelines --------------------------------------------------------------

LEGAULT = (
    "Le premier ministre François Legault a demandé mardi au Bloc québécois de faire tomber "
    "le gouvernement de Justin Trudeau dès que possible."
)


@pytest.mark.parametrize(
    "stamp",
    [
        "Mis à jour le 12 mars 2025 à 14 h 05",
        "Publié le mercredi 12 mars 2025 à 14 h 05",
        "Stand: 12.03.2025, 14:05 Uhr",
        "Posted: Mar 12, 2025 / 02:05 PM EDT Updated: Mar 12, 2025 / 03:10 PM EDT",
        "Updated 2:31 PM EST, March 12, 2025",
        "Published Wednesday, March 12, 2025 2:05 PM EDT",
    ],
)
def test_more_date_stamps_before_the_first_words_are_not_part_of_the_lede(stamp):
    """Failed in review, minor (now read by shingles._stamp_end). The earlier date-stamp pattern knew "date 2022-06-24", "Published: June 24,
    2022 10:31 a.m." and "24.06.2022, 10:31 Uhr". French times are written "14 h 05",
    German broadcasters print "Stand:", Nexstar stations "Posted: ... / 02:05 PM EDT
    Updated: ...", AP "Updated 2:31 PM EST, March 12, 2025", and many sites a weekday:
    the stamp (or what is left of it) stays in the lede and in the first shingles.
    Measured: it costs the lede ratio 0.05-0.15, so it decides a join only for pages
    near the 0.75 line."""
    assert ledes_of([f"{stamp} {LEGAULT}"])[0] == ledes_of([LEGAULT])[0]


@pytest.mark.parametrize(
    "dateline",
    [
        "QUÉBEC — ",
        "QUÉBEC (La Presse Canadienne) — ",
        "Québec (La Presse Canadienne) — ",
        "Saint-Jean-sur-Richelieu (La Presse Canadienne) — ",
        "TROIS-RIVIÈRES — ",
        "L'ASSOMPTION — ",
        "Berlin/Hannover (dpa/lni) – ",
    ],
)
def test_french_and_german_datelines_are_left_out_of_the_lede(dateline):
    """Held in review (and see the report: "(La Presse Canadienne) — " alone, "Ottawa,
    12 mars 2025 (La Presse Canadienne) —" and "Hannover. " stay in, ratio >= 0.86)."""
    assert ledes_of([dateline + LEGAULT]) == ledes_of([LEGAULT])


# --- 8. captions out of a caption page's sentences ---------------------------------------------


def test_sentence_shingles_of_a_caption_page_are_its_lede_only():
    """Held in review: an AP caption page's sentences are the lede's (captions out)."""
    page = ["FILE - Smoke rises near Prince George, B.C. (AP Photo/Marc Olsen)", lede(FIRE)]
    assert len(sentence_shingles(page)) == 1


# --- 9. order of arrival: a borrowed-sentence report and a caption page of the same lede ----------

CAPTION_PAGE = [  # an AP photo page: the caption and the wire's lede, nothing else
    "FILE - Water pours from a broken main on a street in Brandon, Man., on March 3, 2024. "
    "(AP Photo/Tim Smith)",
    lede(WATER),
]
BORROWED = [  # a station's own report that lifts the wire's lede into its second paragraph
    "Council members in Dauphin spent most of Tuesday evening arguing over which of the "
    "town's three water mains should be replaced first when money finally arrives.",
    lede(WATER),
    "Mayor Allan Tomlinson told the meeting the east-side main has burst twice since "
    "January and residents there have had enough of boiling their drinking water.",
    "A public hearing on the plan is set for the first week of next month at the arena, "
    "and the town's engineers will present three options for the work.",
]


@pytest.mark.parametrize(
    "order",
    [
        ("wire", "caption", "station"),
        ("caption", "station", "wire"),
        ("caption", "wire", "station"),
        ("wire", "station", "caption"),
        ("station", "wire", "caption"),
        ("station", "caption", "wire"),
    ],
    ids="-".join,
)
def test_a_borrowed_sentence_report_stays_apart_whatever_the_order(db, order):
    """Failed in review in 3 of the 6 orders, precision. One borrowed sentence keeps the
    station's report out of the wire story when the two meet directly. But a lede-only
    caption page verifies against the report: containment is taken over the SMALLER
    text (the caption page, all of which is the borrowed sentence), so score >=
    MOSTLY_SHARED passes more_than_a_sentence at once. The issue's rule is "how much of
    EACH page's own narrative the match covers": here 100 % of the caption page's, 25 %
    of the report's. What the user sees, by order of arrival:
    - caption, station, wire: the report joins the caption page, the wire joins it
      too: the report is in the wire story;
    - caption, wire, station: the same, the report finding the indexed caption page;
    - station, caption, wire: the caption page joins the REPORT's story and, >= 0.9
      contained in it, is not indexed (adds_nothing), so the wire never finds it: the
      wire's own caption page sits in a station's story, the wire alone;
    - the other three orders hold (Held in review): the caption page is contained in the
      wire copy, not indexed, and the report meets only the wire."""
    texts = {"wire": WATER, "caption": CAPTION_PAGE, "station": BORROWED}
    found = place(db, *((name, texts[name]) for name in order))
    assert found["caption"] == found["wire"]
    assert found["station"] != found["wire"]


# --- 10. two galleries of one event, the same agency photos, no lede -------------------------------

AP_FIRE_CAPTIONS = [
    "Smoke rises behind houses on Chief Lake Road north of Prince George, B.C., on Tuesday, "
    "July 8, 2025.",
    "A firefighter sprays water on hot spots along a fire guard near the Hart Highway on "
    "Wednesday, July 9, 2025.",
    "Evacuees line up for cots and meal vouchers at the exhibition grounds in Prince George "
    "on Wednesday, July 9, 2025.",
    "A water bomber drops retardant on a ridge above a rural subdivision north of the city "
    "on Wednesday, July 9, 2025.",
]


def photo_gallery(title: str, credit: str) -> list[str]:
    page = [title]
    for caption in AP_FIRE_CAPTIONS:
        page += [caption, credit]
    return page


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "wire last"])
def test_galleries_of_the_same_agency_photos_without_the_lede_stay_out_of_the_story(db, wire_first):
    """Held in review (with a question for the lead). Two sites' galleries of the same AP
    photos, no lede in any caption: they stay out of the wire story, whatever the order.
    They do join EACH OTHER (they are copies of the agency's caption text, every caption
    shared): a "story" of the photo package beside the wire story. Whether the held-out
    set labels them one story is not known; what a user sees is two stories of one event,
    one of which is galleries only."""
    one = photo_gallery("Wildfire near Prince George: photos", "The Associated Press")
    two = photo_gallery("IN PICTURES: Evacuations as fire nears city", "AP Photo/Marc Olsen")
    texts = [("wire", FIRE), ("g1", one), ("g2", two)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["g1"] != found["wire"]
    assert found["g2"] != found["wire"]
    assert found["g1"] == found["g2"]


# --- 11. French copies whose accents were dropped, and aggregator pages ------------------------------

CP_FR = [
    "QUÉBEC — Le gouvernement du Québec a annoncé mardi qu'il repousse de cinq ans, à 2035, "
    "l'atteinte de sa cible de réduction des émissions de gaz à effet de serre.",
    "Le ministre de l'Environnement a expliqué que l'économie québécoise ne pourrait pas "
    "absorber le coût des mesures nécessaires pour réduire les émissions de 37,5 % d'ici 2030.",
    "Les groupes écologistes ont dénoncé un recul majeur, rappelant que le Québec s'était "
    "présenté pendant des années comme un chef de file de la lutte aux changements climatiques.",
    "L'opposition officielle a réclamé la publication des analyses économiques sur lesquelles "
    "repose la décision, qui a été prise sans consultation publique.",
]


def without_accents(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@pytest.mark.parametrize(
    ("copy_first", "paragraphs"),
    [
        pytest.param(False, 1, id="wire first-1 paragraph"),
        pytest.param(True, 1, id="copy first-1 paragraph"),
        pytest.param(False, 2, id="wire first-2 paragraphs"),
        pytest.param(True, 2, id="copy first-2 paragraphs"),
        pytest.param(False, 3, id="wire first-3 paragraphs"),
        pytest.param(True, 3, id="copy first-3 paragraphs"),
    ],
)
def test_a_french_copy_printed_without_accents_joins_the_story(db, copy_first, paragraphs):
    """Held in review narrowly, and Failed in review for a one-paragraph copy placed after the
    wire. ASCII-only scraper and aggregator sites (and old CMSs) print French wire copy
    with its accents dropped ("Le ministre de l'Environnement a explique que l'economie
    quebecoise ..."). The matching form keeps accents on purpose (matching.md section
    1), and most French 5-grams hold an accented word: these copies share 0.21-0.26 of
    their shingles with the story, just over the 0.2 line (a text denser in accents
    falls under it). Dropping combining marks after NFD in the matching form only would
    fold no two real words of one text apart at the 5-gram level.

    The one-paragraph copy joins when it is indexed first and not when the wire is: the
    lede rule's gate (LEDE_MIN_ANCHORS shared anchors) counts the PLACED text's anchors
    found in the candidate's shingles, and each text's anchors include the bottom-k of
    its own lede, so the count differs with the order of arrival (here 2 one way, 1 the
    other). Counting the anchors of both texts (anchors_of the candidate's shingles and
    ledes is cheap) would make the gate symmetric."""
    copy = [without_accents(p) for p in CP_FR[:paragraphs]]
    texts = [("wire", CP_FR), ("copy", copy)]
    found = place(db, *(texts[::-1] if copy_first else texts))
    assert found["copy"] == found["wire"]


AGGREGATOR = [  # a scraper's page: the copy's opening, cut, then its own standing text
    cut([lede(WATER), *WATER[1:]], 60),
    "Read the full story at the publisher's website.",
    "This page was put together automatically from public news feeds. We do not claim "
    "ownership of the content and link to the original source of every story we list.",
]


@pytest.mark.parametrize("copy_first", [False, True], ids=["wire first", "copy first"])
def test_an_aggregator_page_with_a_cut_copy_joins_the_story(db, copy_first):
    """Failed in review, recall. An aggregator prints the first 60 words of the wire copy cut
    with "...", then its standing disclaimer. The teaser rule takes the cut copy for a
    recommended-items teaser and keeps it only when what remains is under 20 shingles;
    the disclaimer is 25, so the page's "narrative" is its disclaimer and the copy
    joins nothing (and every page of that site shares the disclaimer). The rule decides
    by length where it should decide by what the cut text is: a teaser is one of
    several cut items under a heading, after the page's own text."""
    texts = [("wire", WATER), ("aggregator", AGGREGATOR)]
    found = place(db, *(texts[::-1] if copy_first else texts))
    assert found["aggregator"] == found["wire"]


# --- 12. one borrowed sentence, counted twice because of a quotation inside it --------------------

NURSES = [
    "WINNIPEG (CP) — Manitoba will spend $400 million over four years to hire nurses and "
    "reopen rural emergency rooms, the province announced Tuesday.",
    "Health Minister Jane Doe told reporters at the legislature on Tuesday afternoon that the "
    "plan would be “a turning point for health care outside Winnipeg” and that the first "
    "emergency rooms to reopen would be in Boissevain, Minnedosa and Gladstone by next spring.",
    "The Manitoba Nurses Union said the money was welcome but warned that more than 2,500 "
    "nursing positions remain vacant across the province.",
    "Opposition critics said the government had closed many of the same emergency rooms "
    "during its first term and was now taking credit for reopening them.",
    "The province will also offer signing bonuses of up to $15,000 for nurses who agree to "
    "work in rural communities for at least three years.",
]


def minnedosa_report(borrowed: str) -> list[str]:
    """A station's own report, lifting the wire's second sentence word for word."""
    return [
        "Staff at the Minnedosa Health Centre say they have been waiting four years for the "
        "emergency room to reopen, and many of them had stopped believing it would.",
        borrowed,
        "Dr. Alan Roe, who has worked in the town for three decades, said patients have been "
        "driving an hour to Brandon for stitches and X-rays since the closure.",
        "The town's mayor said council will hold a public meeting next week to hear from "
        "residents about what they need from the reopened department.",
        "Local business owners said the closure had made it harder to hire workers with "
        "young families.",
    ]


@pytest.mark.parametrize(
    "quoted",
    [pytest.param(True, id="with a quotation"), pytest.param(False, id="without")],
)
def test_a_borrowed_sentence_with_a_quotation_inside_is_still_one_sentence(db, quoted):
    """Failed in review, precision (the issue's "one borrowed sentence" class). Quoted speech is
    cut out of a paragraph by splitting it there (sentence_shingles: _QUOTED.sub(" \\\\n ")),
    so a sentence with a short quotation in its middle ("... the plan would be “a turning
    point for health care outside Winnipeg” and that ...") is counted as two sentences,
    each long enough to weigh in full: the station's report that lifted that one sentence
    shares "two sentences" and joins the wire story, in either order. The same report
    with the sentence lifted without the quotation stays apart (Held in review). Most
    sentences a station lifts from wire copy are of this kind: a paraphrase with a few
    quoted words."""
    wire = NURSES if quoted else [p.replace("“", "").replace("”", "") for p in NURSES]
    report = minnedosa_report(wire[1])
    fwd, back = both_orders(db, ("wire", wire), ("station", report))
    assert fwd["station"] != fwd["wire"]
    assert back["station"] != back["wire"]


# --- 13. the documented known limit: a report that opens with the wire's lede -------------------


@pytest.mark.parametrize(
    "wire_first",
    [
        pytest.param(True, marks=FAILS, id="wire first"),
        pytest.param(False, marks=FAILS, id="report first"),
    ],
)
def test_a_report_opening_with_the_wire_lede_and_its_own_rest_stays_apart(db, wire_first):
    """Failed in review, known limit (matching.md section 2, "Known limit"): a station that
    opens with the wire's lede, a word changed, and writes the rest itself is joined by
    the first-lede rule, which needs only 0.05 containment and two anchors. It is the
    commonest form of "one borrowed sentence" on station sites; the held-out set's two
    false pairs may well be of it. What would tell it from the set's write-thrus that
    kept the lede: the write-thru shares facts-level phrasing further down (a second
    sentence at half its shingles) or names the agency (dateline, credit; agency.py
    reads it, placement does not); the report shares nothing past its lede and names
    no agency.

    The review found the lede rule's anchor gate asymmetric here (it joined in one order
    only); the gate now counts the anchors of both texts, and the report joins in both."""
    report = [
        "Manitoba will spend $400 million over four years to hire nurses and reopen rural "
        "emergency rooms, the province said Tuesday.",
        *minnedosa_report("")[2:],
        "Staff at the Minnedosa Health Centre say they have been waiting four years for the "
        "emergency room to reopen, and many of them had stopped believing it would.",
    ]
    texts = [("wire", NURSES), ("station", report)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["station"] != found["wire"]


# --- 14. a caption page whose caption the rules do not know, and a French gallery ------------------

LONG_CP_CAPTION = (
    "Smoke rises behind homes on the northern edge of Prince George, B.C., on Tuesday, July "
    "8, 2025. Crews spent the night cutting fire guards along the Hart Highway as the wind "
    "picked up. THE CANADIAN PRESS/Marc Olsen"
)


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "caption page first"])
def test_a_caption_page_with_a_canadian_press_credit_joins_the_story(db, wire_first):
    """Failed in review, recall: the issue's "caption pages" class, with CP's credit style. A
    photo page: a two-sentence caption ending "THE CANADIAN PRESS/Jo Doe", then the wire's
    lede. Not recognised as a caption, the caption is narrative and the page's first
    lede: containment 0.4 (under MOSTLY_SHARED), one shared sentence of three, its first
    lede is not the wire's, and one caption is no gallery. With "(AP Photo/Jo Doe)" the
    same page joins (Held in review in test_story_matching's caption-page cases)."""
    page = [LONG_CP_CAPTION, FIRE[0]]
    texts = [("wire", FIRE), ("photo", page)]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["photo"] == found["wire"]


def french_gallery() -> list[str]:
    captions = [
        "Des manifestants écologistes devant l'Assemblée nationale, à Québec, mardi.",
        "Le ministre de l'Environnement en conférence de presse, mardi. " + CP_FR[0][9:],
        "Une cheminée d'usine dans le parc industriel de Bécancour.",
        "La circulation sur l'autoroute Métropolitaine, à Montréal, à l'heure de pointe.",
    ]
    page = ["Cibles climatiques : le Québec recule, en images"]
    for caption in captions:
        page += [caption, "Photo : La Presse Canadienne / Jacques Boissinot"]
    return page


@pytest.mark.parametrize(
    "wire_first",
    [pytest.param(True, id="wire first"), pytest.param(False, id="gallery first")],
)
def test_a_french_gallery_with_cp_credit_lines_joins_the_story_whose_lede_it_carries(
    db, wire_first
):
    """Failed in review, recall. As the German case: "Photo : La Presse Canadienne / Jacques
    Boissinot" under each photo is a caption to is_caption (it opens "Photo :") but no
    credit line to is_credit_line (43 characters after "Photo", over its 40), so the
    descriptions above do not count as captions and the page is no gallery.

    Crawled before the wire it joins anyway, by the lede rule (its first lede is the
    caption holding the wire's lede, ratio 0.86): the wire's anchors found in the
    gallery's shingles are 3; crawled after, the gallery's found in the wire's are 1,
    under LEDE_MIN_ANCHORS, and it stays apart. The anchor gate's asymmetry again."""
    assert CP_FR[0].startswith("QUÉBEC — ")
    texts = [("wire", CP_FR), ("gallery", french_gallery())]
    found = place(db, *(texts if wire_first else texts[::-1]))
    assert found["gallery"] == found["wire"]


# --- 15. the agency of a report with an agency photo ------------------------------------------------


@FAILS
def test_a_photo_credit_line_does_not_name_the_agency_of_an_own_report():
    """Failed in review, agency (matching.md section 4 says a photo credit names the photo's
    agency and is not read). A station's own report with a CP photo on top, its credit on
    a line of its own under the caption ("The Canadian Press", as is_credit_line expects
    a gallery to print it), is named CP: the credit-line rule of agency.py cannot tell
    the photo's credit line from a copy's agency credit line. The same photo credited
    "AP Photo/Jo Doe" is not read (unknown, right)."""
    from crawler.stories.agency import agency_of

    report = [
        "Smoke rises behind homes on the northern edge of Prince George, B.C., on Tuesday.",
        "The Canadian Press",
        *STATION_FIRE[1:],
    ]
    assert agency_of(report) == "unknown"
