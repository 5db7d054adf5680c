"""What stories match by, as users rely on it: a copy with look-alike letters is the same
copy, one borrowed sentence is not a copy, a caption page with the wire's lede is one,
and quoted speech in French and German typography is left out like English quotes."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest

from crawler.stories import Member, StoryIndex, shingle_hashes
from crawler.stories.shingles import (
    ANCHOR_MODULUS,
    is_caption,
    is_credit_line,
    is_gallery,
    is_teaser,
    lede_shingles,
    ledes_of,
    match_words,
    split_sentences,
)
from crawler.text import normalize

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)

WIRE = [
    "OTTAWA (CP) — The federal government announced Tuesday it will spend $2 billion over "
    "five years to repair aging water systems in small communities across the country.",
    "The money will flow through provincial agreements signed over the coming months, with "
    "the first projects expected to break ground in rural Manitoba and northern Ontario.",
    "Municipal leaders had lobbied for years for help with pipes and treatment plants built "
    "in the 1960s, many of which now leak more water than they deliver to homes.",
    "The infrastructure minister said communities of fewer than 10,000 people would get "
    "priority, along with First Nations that have lived under boil-water advisories.",
    "Critics said the sum falls far short of the estimated $30 billion backlog identified "
    "by a national survey of municipal infrastructure published last spring.",
]
# Latin letters swapped for Cyrillic and Greek look-alikes, as scraper sites do
LOOKALIKE = str.maketrans({"o": "о", "a": "а", "e": "е", "s": "ѕ", "i": "і", "p": "р", "c": "с"})


def member(article_id: str, paragraphs: list[str], site: str = "s") -> Member:
    return Member(
        article_id=article_id,
        site=site,
        url=f"https://{site}.test/{article_id}",
        title="T",
        paragraphs=normalize.clean_paragraphs("\n".join(paragraphs)),
        published=None,
        seen_at=T0,
    )


def place(db, *texts: tuple[str, list[str]]) -> list[str]:
    index = StoryIndex(db)
    for article_id, paragraphs in texts:
        db.articles.insert_one({"_id": article_id, "title": "T", "text": "\n".join(paragraphs)})
    return [index.assign(member(a, p, site=f"site-{a}"), T0).story_id for a, p in texts]


def test_a_copy_in_look_alike_letters_joins_the_story_and_keeps_its_own_text(db):
    disguised = [p.translate(LOOKALIKE) for p in WIRE]
    assert shingle_hashes(disguised) == shingle_hashes(WIRE)
    wire, copy = place(db, ("wire", WIRE), ("spam", disguised))
    assert copy == wire
    # matching sees the skeleton; what is stored is the page's own text
    assert "о" in db.articles.find_one({"_id": "spam"})["text"]
    # compatibility forms and zero-width characters are folded the same way
    assert match_words("ﬁve ｙｅａｒｓ of re\u00adpairs\u200d") == [
        "five",
        "years",
        "of",
        "repairs",
    ]


def test_accented_letters_are_not_taken_for_look_alikes():
    assert match_words("Müller à Montréal, Straße") == ["müller", "à", "montréal", "strasse"]


def station_page() -> list[str]:
    """A station's own short report that lifts one sentence of the wire, word for word."""
    return [
        "Council members in Dauphin spent most of Tuesday evening arguing over which of the "
        "town's three water mains should be replaced first when money finally arrives.",
        WIRE[0].split("— ", 1)[1],
        "Mayor Allan Tomlinson told the meeting the east-side main has burst twice since "
        "January and residents there have had enough of boiling their drinking water.",
        "A public hearing on the plan is set for the first week of next month at the arena.",
    ]


def test_one_borrowed_sentence_is_not_a_copy_but_a_caption_page_with_the_lede_is(db):
    station = station_page()
    ours = shingle_hashes(station)
    shared = len(ours & shingle_hashes(WIRE)) / len(ours)
    assert 0.2 <= shared < 0.5  # containment alone would call it a copy
    gallery = [
        "FILE - Water pours from a broken main on a street in Brandon, Man., on March 3, 2024. "
        "(Tim Smith/The Canadian Press via AP Photo)",
        WIRE[0],
        "Photo: A worker inspects a treatment plant near Thompson, Man.",
    ]
    wire, borrowed, caption_page = place(
        db, ("wire", WIRE), ("station", station), ("gallery", gallery)
    )
    assert borrowed != wire
    assert caption_page == wire
    # the lede page verified against both, and bridges nothing: one sentence in common
    assert db.story_members.find_one({"_id": "station"})["story_id"] == borrowed
    # the other way round: the full copy arriving after the station's page does not join it
    db.fingerprints.delete_many({})
    db.stories.delete_many({})
    db.story_members.delete_many({})
    db.articles.delete_many({})
    first, later = place(db, ("station2", station), ("wire2", WIRE))
    assert later != first


def test_two_shared_sentences_still_join_a_trimmed_copy(db):
    trimmed = [WIRE[0], WIRE[1], "Read more on our website."]
    wire, copy = place(db, ("wire", WIRE), ("trim", trimmed))
    assert copy == wire


def test_captions_are_no_narrative():
    assert is_caption("FILE - A crowd gathers in 2019. (AP Photo/Jane Doe)")
    assert is_caption("Foto: dpa")
    assert is_caption("(Jane Doe, Copyright 2022 The Associated Press. All rights reserved.)")
    assert not is_caption(WIRE[1])


@pytest.mark.parametrize(
    "stamp",
    ["date 2022-06-24", "Published: June 24, 2022 10:31 a.m.", "24.06.2022, 10:31 Uhr |"],
)
def test_a_date_stamp_before_the_first_words_is_not_part_of_the_lede(db, stamp):
    """Pages print when they were put up before the text; two copies of one lede stamped
    at different times are still the same lede, and share the same shingles."""
    stamped = [f"{stamp} {WIRE[0]}"] + WIRE[1:]
    assert ledes_of(stamped)[0] == ledes_of(WIRE)[0]
    assert shingle_hashes(stamped) == shingle_hashes(WIRE)
    # a year that opens the sentence is the sentence's own, and so is a date written out
    assert ledes_of(["2022 was the year " + WIRE[1]])[0].startswith("2022 was the year")
    assert ledes_of(["Sept. 11, 2001, changed " + WIRE[1]])[0].startswith("sept 11 2001")


def test_a_short_stock_sentence_shared_besides_a_borrowed_one_is_no_copy(db):
    """ "He was 96." or "He died at his home in Ottawa." reads the same in any report of
    the event: shared next to one borrowed sentence, it does not make a copy."""
    stock = "He was born and raised in a town near Brandon."
    station = station_page()[:2] + [stock] + station_page()[2:]
    wire_text = WIRE[:2] + [stock] + WIRE[2:]
    wire, borrowed = place(db, ("wire", wire_text), ("station", station))
    assert borrowed != wire


def test_quoted_speech_in_french_and_german_is_left_out_of_the_narrative():
    statement = "nous allons reconstruire chaque maison détruite par les inondations cette année"
    french_a = [
        f"Le premier ministre a déclaré : « {statement} », devant les sinistrés de Baie-Saint-Paul.",
        "Les eaux ont envahi le centre-ville mardi soir après des pluies torrentielles sur la région.",
        "Des dizaines de bénévoles ont rempli des sacs de sable toute la nuit pour protéger "
        "l'église et l'hôtel de ville, sans pouvoir empêcher l'eau d'entrer dans les sous-sols.",
    ]
    french_b = [
        f"« {statement} », a lancé le chef du gouvernement lors d'une conférence de presse jeudi.",
        "Selon la Sécurité civile, plus de trois cents résidences ont été touchées par la crue.",
        "Les municipalités riveraines ont ouvert des centres d'hébergement dans les écoles et "
        "les arénas, où les familles évacuées pourront dormir jusqu'à la fin de la semaine.",
    ]
    assert not shingle_hashes(french_a) & shingle_hashes(french_b)
    zitat = "wir werden jedes zerstörte Haus in der Region so schnell wie möglich wieder aufbauen"
    german_a = [
        f"Der Ministerpräsident sagte am Dienstag: „{zitat}“, und versprach schnelle Hilfe vor Ort.",
        "Das Hochwasser hatte in der Nacht mehrere Orte im Ahrtal überflutet und Brücken zerstört.",
        "Hunderte Helfer von Technischem Hilfswerk und Bundeswehr waren bis zum Morgen im "
        "Einsatz, um Straßen zu räumen und eingeschlossene Anwohner zu versorgen.",
    ]
    german_b = [
        f"‚{zitat}‘, so der Regierungschef bei einem Besuch in der betroffenen Gemeinde am Mittwoch.",
        "Nach Angaben der Feuerwehr mussten mehr als zweihundert Menschen gerettet werden.",
        "Die Landesregierung kündigte ein Soforthilfeprogramm für betroffene Familien und "
        "Betriebe an, das bereits in der kommenden Woche beantragt werden kann.",
    ]
    assert not shingle_hashes(german_a) & shingle_hashes(german_b)


def test_sentences_and_datelines_in_french_and_german():
    text = "Le président M. Macron a parlé. « Non », a-t-il dit. Die Polizei, u.a. Beamte, kam."
    assert split_sentences(text) == [
        "Le président M. Macron a parlé.",
        "« Non », a-t-il dit.",
        "Die Polizei, u.a. Beamte, kam.",
    ]
    lede = "La police a arrêté trois suspects mardi après une série de vols dans la région."
    assert ledes_of([f"MONTRÉAL — {lede}"]) == ledes_of([lede])
    satz = (
        "Die Polizei hat am Dienstag drei Verdächtige nach einer Serie von Einbrüchen festgenommen."
    )
    assert ledes_of([f"Düsseldorf (dpa/lnw) - {satz}"]) == ledes_of([satz])


# a dpa regional item as many German pages print it: the whole item as one paragraph
DPA_ITEM = (
    "Offenbach (dpa/lnw) - Der Deutsche Wetterdienst warnt für Dienstagabend und die Nacht "
    "zu Mittwoch vor Unwettern im Westen von Nordrhein-Westfalen. Ob die Gewitter tatsächlich "
    "kommen, lasse sich noch nicht sicher sagen, sagte ein Sprecher. Lokal sei mit Hagel und "
    "Starkregen zu rechnen. Betroffen sei die Region von der Eifel bis ins Ruhrgebiet. Auch "
    "in der Nacht sei örtlich mit starkem Wind und Sturmböen zu rechnen."
)
# the agency's write-thru hours later: the first sentence kept (one word added), the rest new
DPA_WRITE_THRU = (
    "Offenbach/Essen (dpa/lnw) - Der Deutsche Wetterdienst warnt für Dienstagabend und die "
    "Nacht zu Mittwoch vor neuen Unwettern im Westen von Nordrhein-Westfalen. Am Dienstag "
    "blieb es zunächst heiß, mit Werten bis an die dreißig Grad im Rheinland. Am Mittwoch "
    "soll es im Westen etwas kühler werden, im Osten bleibt es sommerlich. In der Nacht zum "
    "Donnerstag steige die Gefahr noch deutlich an, hieß es aus Essen."
)
# a paper's own report of the same warning, in its own words
OWN_REPORT = (
    "Bielefeld - Für den Abend rechnen Meteorologen mit kräftigen Gewittern, die von den "
    "Niederlanden her über das Münsterland ziehen könnten. In Ostwestfalen sollen vor allem "
    "der Raum Bielefeld und der Kreis Gütersloh betroffen sein. Die Warnung gilt bis zwei Uhr "
    "in der Nacht, danach lasse das Gewitter nach, so der Wetterdienst."
)


def test_a_dpa_write_thru_printed_as_one_paragraph_joins_by_its_first_sentence(db):
    # the lede of a one-paragraph item is its first sentence, not its first 60 words
    assert ledes_of([DPA_ITEM])[0].endswith("von nordrhein westfalen")
    wire, write_thru, own = place(
        db, ("dpa", [DPA_ITEM]), ("welt", [DPA_WRITE_THRU]), ("wb", [OWN_REPORT])
    )
    assert write_thru == wire
    assert own != wire


# another wire story of the same week, which a regional site recommends under the first
POLL = [
    "Canadians are biting their nails and ready to wave the flag in the face of repeated "
    "threats from the White House, a new poll suggests.",
    "The survey found a large majority of respondents fear the president will use the "
    "country's dependence on trade to push it into a closer union with its neighbour.",
    "Respondents in the Atlantic provinces were the most worried, at 90 per cent, and those "
    "in Alberta the least, at 76 per cent, with the other provinces near the average.",
    "But the threats have also brought a surge of national pride, with 85 per cent saying "
    "they are proud to be Canadian and more than half saying they are very proud.",
]


def cut(paragraphs: list[str], words: int = 40) -> str:
    """A teaser as a related-stories box prints it: the first words, cut with ' ...'."""
    return " ".join(" ".join(paragraphs).split()[:words]) + " ..."


def test_a_related_stories_box_does_not_join_the_stories_it_teases(db):
    # a regional site's copy of the water story, with its box of recommended items under it
    page = WIRE[:3] + [
        "RECOMMENDED FOR YOU",
        "February 12, 2025",
        "Worry fuels a surge of national pride, poll suggests",
        cut(POLL),
    ]
    assert is_teaser(page[-1]) and not is_teaser(WIRE[0])
    wire, copy, poll = place(db, ("wire", WIRE), ("regional", page), ("poll", POLL))
    assert copy == wire
    assert poll != wire
    # the other way round: the poll story is known first, the page still joins the water one
    for name in ("fingerprints", "stories", "story_members", "articles"):
        db[name].delete_many({})
    poll, copy, wire = place(db, ("poll2", POLL), ("regional2", page), ("wire2", WIRE))
    assert copy == wire != poll
    # a page that is nothing but a cut lede is that lede: it still joins its story
    assert shingle_hashes([cut(POLL)])
    (summary,) = place(db, ("summary", [cut(POLL, 45)]))
    assert summary == poll


def test_the_sentence_rule_reads_the_same_whichever_text_arrives_first(db):
    """A regional desk ran two short wire sentences together into one long one of its
    own: counted in its text, that is one shared sentence; in the wire's, two. Either
    order of arrival makes one story."""
    glued = (
        "Officials in the province said on Tuesday that the money will flow through "
        "provincial agreements signed over the coming months, with the first projects "
        "expected to break ground in rural Manitoba and northern Ontario, and that municipal "
        "leaders had lobbied for years for help with pipes and treatment plants built in the "
        "1960s, many of which now leak more water than they deliver to homes."
    )
    regional = [
        "Brandon's council will ask for a share of a new federal fund for aging water systems "
        "when it meets with provincial officials in the new year, the mayor said.",
        glued,
        "The city's own engineers put the cost of replacing its east-side main at $40 million, "
        "more than twice what the council set aside in this year's capital budget.",
    ]
    wire, later = place(db, ("wire", WIRE), ("regional", regional))
    assert later == wire
    for name in ("fingerprints", "stories", "story_members", "articles"):
        db[name].delete_many({})
    first, wire_later = place(db, ("regional2", regional), ("wire2", WIRE))
    assert wire_later == first


def test_a_caption_page_with_a_reworded_lede_and_one_wire_sentence_joins(db):
    """A station's photo page: a credit line, a caption, the wire's lede reworded in its
    own words and one wire sentence. Containment is low (the lede shares few 5-grams),
    but half of its narrative is the wire's: a copy, not a report that borrowed a line."""
    gallery = [
        "(Tim Smith, Copyright 2026 The Canadian Press. All rights reserved.)",
        "Water pours from a broken main in Brandon, Man., on March 3. (AP Photo/Tim Smith)",
        "Small towns and reserves across the country will get federal money over the next "
        "five years to repair their old and leaking water systems, the government said in "
        "Ottawa on Tuesday.",
        WIRE[1],
    ]
    wire, caption_page = place(db, ("wire", WIRE), ("gallery", gallery))
    assert caption_page == wire


def test_a_stamp_word_before_a_long_run_of_blanks_is_read_at_once():
    """A page's first paragraph "Date" followed by thousands of blanks the cleaning keeps
    (a control character between spaces): the date-stamp rule tried every way of sharing
    the blanks among its optional spaces (cubic: 200 blanks took 0.5 s, 5,000 would take
    hours, and placement runs in the crawl's writer thread). Run in a child with a limit
    far above what a linear scan needs, so that a hang fails the test instead of it."""
    code = (
        "from crawler.stories import shingle_hashes, ledes_of\n"
        "p = ['Date' + ' \\x1f' * 2500 + 'x', 'The council voted on Tuesday to raise taxes.']\n"
        "shingle_hashes(p); ledes_of(p)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_candidate_text_is_read_once_per_batch_however_many_pages_check_it(db, mongo_uri):
    """The more-than-a-sentence rule reads an indexed copy's text from `articles` when the
    placed page's own sentences do not decide; a batch of pages that each borrow a
    sentence of one wire copy checks the same copy each time, and reads it once."""
    from pymongo import MongoClient, monitoring

    place(db, ("wire", WIRE))

    class Reads(monitoring.CommandListener):
        def __init__(self) -> None:
            self.ids: list[object] = []

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name == "find" and event.command.get("find") == "articles":
                self.ids.append(event.command.get("filter", {}).get("_id"))

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    reads = Reads()
    client: MongoClient = MongoClient(mongo_uri, event_listeners=[reads])
    try:
        watched = client[db.name]
        pages = []
        for n, town in enumerate(["Dauphin", "Selkirk", "Morden"]):
            station = [p.replace("Dauphin", town) for p in station_page()]
            station[3] = (
                f"A public hearing on the plan is set for week {n + 2} at the {town} arena."
            )
            pages.append(member(f"station-{n}", station, site=f"site-{n}"))
        for page in pages:
            watched.articles.insert_one(
                {"_id": page.article_id, "title": "T", "text": "\n".join(page.paragraphs)}
            )
        assigned = StoryIndex(watched).assign_many(pages, T0)
    finally:
        client.close()
    wire_story = db.story_members.find_one({"_id": "wire"})["story_id"]
    assert all(a.story_id != wire_story for a in assigned)  # one borrowed sentence each
    assert reads.ids.count("wire") == 1


def test_a_candidate_whose_article_is_gone_shares_no_sentence(db):
    """An indexed copy whose article was deleted since (or stored without text) is read
    as no sentences: the page checking it is placed, apart, instead of failing."""
    wire = place(db, ("wire", WIRE))[0]
    db.articles.delete_one({"_id": "wire"})
    assert place(db, ("station", station_page())) != [wire]


PHOTOS = [
    "Water pours from a broken main on a street in Brandon, Man., on March 3, 2024.",
    "A worker inspects the filters of a treatment plant near Thompson, Man., in 2019.",
    "Residents of a northern reserve line up for bottled water during an advisory in 2021.",
    "The infrastructure minister speaks to reporters on Parliament Hill in January.",
]
CREDITS = ["The Canadian Press", "Winnipeg Free Press file, 2019", "The Canadian Press", "AP"]


def gallery_page(lede_caption: str, credits_inline: bool = False) -> list[str]:
    """A newspaper's photo gallery: a reworded intro, then captions, one of them carrying
    `lede_caption` after its description, each with its photo's credit on a line of its
    own, or inside the caption ("(AP Photo/Jane Doe)")."""
    captions = [PHOTOS[0] + " " + lede_caption, *PHOTOS[1:]]
    page = ["Small towns across the country will get federal money to fix their water pipes."]
    for caption, credit in zip(captions, CREDITS, strict=True):
        page += [f"{caption} (AP Photo/Jane Doe)"] if credits_inline else [caption, credit]
    return page


@pytest.mark.parametrize("credits_inline", [False, True], ids=["credit lines", "inline credits"])
@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "gallery first"])
def test_a_gallery_carrying_the_wire_lede_in_a_caption_joins_in_either_order(
    db, wire_first, credits_inline
):
    """A gallery's captions describe its photos, and the agency's caption style adds the
    story's lede to one: that lede is all it shares with the story, and all it says of the
    event, so it joins the story it illustrates, whichever page is crawled first."""
    gallery = gallery_page(
        "The federal government announced Tuesday it will spend $2 billion over five years "
        "to repair aging water systems in small communities.",
        credits_inline,
    )
    assert len(shingle_hashes(gallery) & shingle_hashes(WIRE)) / len(shingle_hashes(WIRE)) < 0.2
    order = [("wire", WIRE), ("gallery", gallery)]
    if not wire_first:
        order.reverse()
    found = dict(zip([name for name, _ in order], place(db, *order), strict=True))
    assert found["gallery"] == found["wire"]


def test_a_gallery_without_the_lede_and_a_report_borrowing_it_stay_apart(db):
    """Photos of the event whose captions do not carry the story's lede are no copy of it;
    and a report of its own is no gallery: one sentence lifted from the wire is still one
    borrowed sentence (more_than_a_sentence decides for it)."""
    other_event = gallery_page("Crews worked through the night to restore service.")
    report = [
        "BRANDON, Man. — City crews in Brandon spent a third night this week chasing leaks in "
        "mains laid before most of today's residents were born.",
        "The federal government announced Tuesday it will spend $2 billion over five years to "
        "repair aging water systems in small communities across the country.",
        "Brandon's public works director said the city would apply as soon as the forms are "
        "out, and that the worst mains on the east side would come first.",
        "Residents at a council meeting on Monday asked why repairs promised in 2019 never "
        "started, and several said their water bills had doubled since then.",
        "The council will vote on its own repair budget at the end of the month, after a "
        "public hearing on the rates that pay for it.",
    ]
    wire, gallery, borrowed = place(db, ("wire", WIRE), ("photos", other_event), ("report", report))
    assert gallery != wire
    assert borrowed != wire


def test_a_gallery_is_told_from_a_copy_with_a_credit_line():
    assert is_gallery(gallery_page("Crews worked through the night."))
    assert is_gallery(gallery_page("Crews worked through the night.", credits_inline=True))
    assert is_credit_line("Winnipeg Free Press file, 2019")
    assert is_credit_line("AP Photo/Jane Doe")
    # a copy with its agency's credit under the headline is a copy, not photos
    assert not is_gallery(["By Jane Doe", "The Canadian Press", *WIRE])
    assert not is_credit_line(WIRE[0])


SINGER_WIRE = [
    "PARIS (AP) — Mireille Laval, the French singer whose smoky voice carried chansons to "
    "concert halls from Montreal to Tokyo for six decades, has died. She was 88.",
    "Her family said she died Tuesday at her home in Honfleur, in Normandy, after a long "
    "illness, surrounded by her children and the musicians of her last touring band.",
    "With admirers ranging from Charles Aznavour to Adele, Laval was one of the best-selling "
    'French singers of her era, known for "Bleu du port," "Le train de nuit," "Papier lune" '
    "and the hits she kept recording through the last three decades of her career, among "
    'them "Maisons de verre" and a cover of "Pluie d\'été."',
    "Born to a fisherman and a seamstress in Le Havre in 1937, she sang in cafes along the "
    "harbour before a radio producer heard her and signed her to a record deal at 19.",
    "She won the Grand Prix du Disque three times and kept touring into her eighties, "
    "filling the Olympia in Paris for a farewell run of twelve nights in 2019.",
]


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "report first"])
def test_a_lifted_sentence_that_names_songs_in_quotes_is_still_one_sentence(db, wire_first):
    """Quotes are left out of the shingles, and the words between song titles are what
    remain of the sentence: still one sentence. Counted as one per fragment, a station's
    own report that lifted it shared "three sentences" with the wire and joined it."""
    report = [
        "HONFLEUR, France — Fans gathered on the quays of Honfleur on Wednesday evening to lay "
        "flowers under the window of the flat where Mireille Laval spent her last years.",
        SINGER_WIRE[2],
        "The town's mayor said a square near the old harbour would carry her name by the "
        "summer, and that the municipal band would play her songs at the unveiling.",
        "Shopkeepers along the quay put her records in their windows, and a cafe where she "
        "used to sing as a girl opened its doors to anyone who wanted to listen.",
        "A memorial mass is planned for Saturday at the church of Sainte-Catherine, the "
        "wooden church she sang in as a child, her family said in a statement.",
    ]
    order = [("wire", SINGER_WIRE), ("report", report)]
    if not wire_first:
        order.reverse()
    found = dict(zip([name for name, _ in order], place(db, *order), strict=True))
    assert found["report"] != found["wire"]


def test_captions_glued_into_one_paragraph_and_a_one_photo_page_are_galleries(db):
    """Pages print an agency's captions glued into one long paragraph, or a single photo
    with its caption; in both the caption carries the lede, and both join the story."""
    lede = (
        "The federal government announced Tuesday it will spend $2 billion over five years "
        "to repair aging water systems in small communities."
    )
    glued = [
        "Towns across the country are to get money for their pipes.",
        " ".join(
            f"FILE - {photo} {lede if i == 0 else ''} (AP Photo/Jane Doe)"
            for i, photo in enumerate(PHOTOS)
        ),
    ]
    one_photo = [f"{PHOTOS[0]} {lede} (AP Photo/Jane Doe)"]
    assert is_gallery(normalize.clean_paragraphs("\n".join(glued)))
    assert is_gallery(one_photo)
    assert not is_gallery(WIRE)
    photo_first, wire, glued_later = place(
        db, ("photo", one_photo), ("wire", WIRE), ("glued", glued)
    )
    assert photo_first == wire == glued_later


def test_a_gallery_is_found_by_a_lede_that_sits_in_its_fourth_caption(db):
    """A lookup samples a text's shingles (0 modulo ANCHOR_MODULUS) and its ledes' smallest
    ones. A gallery's own ledes are its photos' descriptions, and the lede it carries may
    have no sampled shingle: a gallery is indexed by all its shingles, so the story's
    copy, arriving after it, still finds it by its lede."""
    lede = (
        "Ottawa announced Monday it will spend $7 million over 9 years to rebuild aging water "
        "systems in rural communities across the country."
    )
    # the case this test is about: none of the lede's shingles is sampled
    assert not any(h % ANCHOR_MODULUS == 0 for h in lede_shingles(" ".join(match_words(lede))))
    wire = [f"OTTAWA (CP) — {lede}", *WIRE[1:]]
    captions = [*PHOTOS[:3], f"{PHOTOS[3]} {lede}"]
    gallery = ["Towns across the country are to get money for their pipes."]
    for caption, credit in zip(captions, CREDITS, strict=True):
        gallery += [caption, credit]
    first, later = place(db, ("gallery", gallery), ("wire", wire))
    assert later == first


@pytest.mark.parametrize("wire_first", [True, False], ids=["wire first", "take first"])
def test_an_early_take_with_a_reworded_lede_joins_by_what_it_shares_in_part_too(db, wire_first):
    """An agency's early take: its lede reworded by the desk, one sentence kept whole and
    the next kept in part. A sentence shared in part counts in part: a whole one and most
    of another are more than half of the take's three sentences, where counting only
    sentences shared by half made it one sentence, a borrowed one."""
    take = [
        "OTTAWA (CP) — Ottawa said on Tuesday it would spend $2 billion over the next five "
        "years to fix ageing water systems in the country's small communities.",
        WIRE[1],
        "Municipal leaders had lobbied for years for help with pipes and treatment plants "
        "that were laid down long ago and now lose much of what they carry.",
    ]
    order = [("wire", WIRE), ("take", take)]
    if not wire_first:
        order.reverse()
    found = dict(zip([name for name, _ in order], place(db, *order), strict=True))
    assert found["take"] == found["wire"]


@pytest.mark.parametrize(
    "opening",
    [
        "Sept. 11, 2001, changed everything for the city.",
        "Tuesday, 12 people died in the crash on the highway.",
        "On March 12, 2025, the council voted to close the pool.",
        "Monday at 5 p.m. the council meets to vote on the budget.",
        "May the council find the money, the mayor said on Friday.",
    ],
)
def test_a_date_or_a_weekday_that_is_part_of_the_sentence_stays_in_it(opening):
    """A stamp is cut off a page's first words only when it has a date and a stamp word,
    a time or a mark: a sentence that opens with a date, a weekday or "May" keeps it."""
    assert ledes_of([opening + " " + WIRE[1]])[0].startswith(" ".join(match_words(opening))[:20])
