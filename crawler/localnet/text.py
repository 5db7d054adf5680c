"""Deterministic news text: events, wire copies, regional rewrites, independent reports.

Everything is generated from a seed with a small random grammar; no third-party
text is copied in. Independent articles about the same event share its names,
places and numbers but not its sentences, as real independent reporting does;
rewrites share the wire copy's sentences with the edits syndication makes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

FIRST = [
    "Amara",
    "Ellis",
    "Jonah",
    "Petrov",
    "Lucia",
    "Navarro",
    "Tomas",
    "Reyes",
    "Ingrid",
    "Halvorsen",
    "Samuel",
    "Okafor",
    "Priya",
    "Raman",
    "Declan",
    "Murphy",
    "Hana",
    "Sato",
    "Marcus",
    "Webb",
    "Elena",
    "Rossi",
    "Kwame",
    "Mensah",
    "Olivia",
    "Tran",
    "Rafael",
    "Duarte",
    "Nadia",
    "Kowalski",
    "Felix",
    "Brandt",
    "Grace",
    "Liang",
    "Omar",
    "Haddad",
    "Ruth",
    "Abernathy",
    "Victor",
    "Lindqvist",
    "Maya",
    "Thornton",
    "Isaac",
    "Feldman",
    "Leah",
    "Morrow",
    "Daniel",
    "Osei",
    "Clara",
    "Jimenez",
    "Henry",
    "Blackwood",
    "Zoe",
    "Castellanos",
]
PLACES = [
    "Marlow Creek",
    "Ashford Valley",
    "Port Kessel",
    "Bramble Hill",
    "Eastwick Junction",
    "Silver Lake",
    "Corran Bay",
    "Halden Falls",
    "Pine Ridge",
    "Westmere",
    "Okotoks Flats",
    "Tamsin Harbour",
    "Greyford",
    "Lowell Crossing",
    "Redmoor",
    "Sable Point",
    "Kinross Heights",
    "Willow Bend",
    "Fenwick",
    "Northgate",
]
TOPICS = [
    ("flood", "flooding", "river", "evacuation order", "sandbags"),
    ("fire", "wildfire", "blaze", "fire crews", "containment lines"),
    ("budget", "council budget", "property tax", "capital plan", "reserve fund"),
    ("election", "byelection", "ballot", "polling stations", "turnout"),
    ("strike", "transit strike", "union", "bargaining table", "bus routes"),
    ("storm", "ice storm", "power lines", "outages", "warming centres"),
    ("hospital", "hospital expansion", "emergency ward", "wait times", "nursing staff"),
    ("mine", "mine closure", "layoffs", "royalties", "retraining fund"),
    ("bridge", "bridge collapse", "detour", "inspection report", "steel girders"),
    ("school", "school closure", "enrolment", "trustees", "portable classrooms"),
    ("drought", "drought", "water restrictions", "reservoir levels", "irrigation"),
    ("festival", "harvest festival", "vendors", "attendance", "parade route"),
]
GLUE_PAIRS = [
    ("ISIS", "militants"),
    ("RCMP", "officers"),
    ("NATO", "allies"),
    ("OPEC", "ministers"),
    ("FEMA", "teams"),
    ("UNESCO", "inspectors"),
]
AGENCIES = [
    ("The Associated Press", "(AP) —"),
    ("The Canadian Press", "(CP) —"),
    ("Reuters", "(Reuters) -"),
]

VERBS = [
    "approved",
    "rejected",
    "delayed",
    "expanded",
    "reviewed",
    "funded",
    "questioned",
    "defended",
    "announced",
    "cancelled",
    "extended",
    "inspected",
    "promised",
    "doubled",
    "trimmed",
    "monitored",
    "reopened",
    "challenged",
    "confirmed",
    "postponed",
    "endorsed",
    "proposed",
    "tightened",
    "relaxed",
    "audited",
]
ADJ = [
    "provincial",
    "municipal",
    "regional",
    "emergency",
    "temporary",
    "revised",
    "preliminary",
    "independent",
    "federal",
    "long-awaited",
    "controversial",
    "unexpected",
    "modest",
    "sweeping",
    "local",
    "rural",
    "downtown",
    "northern",
    "southern",
    "coastal",
    "seasonal",
    "urgent",
    "formal",
    "detailed",
    "partial",
    "costly",
]
NOUNS = [
    "plan",
    "report",
    "motion",
    "contract",
    "study",
    "survey",
    "permit",
    "grant",
    "agreement",
    "proposal",
    "review",
    "program",
    "assessment",
    "timeline",
    "estimate",
    "inquiry",
    "request",
    "strategy",
    "framework",
    "mandate",
    "forecast",
    "schedule",
    "petition",
    "licence",
    "bylaw",
    "policy",
]
GROUPS = [
    "residents",
    "officials",
    "engineers",
    "volunteers",
    "farmers",
    "merchants",
    "parents",
    "commuters",
    "inspectors",
    "councillors",
    "paramedics",
    "landlords",
    "students",
    "retirees",
    "contractors",
]
PREPS = [
    "across",
    "near",
    "around",
    "beyond",
    "outside",
    "throughout",
    "along",
    "inside",
    "toward",
    "within",
]
TIMES = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "the weekend",
    "next month",
    "the spring",
    "the fall",
    "year's end",
    "mid-December",
    "early January",
]
CONNECT = [
    "Meanwhile",
    "However",
    "Still",
    "Separately",
    "Earlier",
    "Later",
    "By contrast",
    "In a statement",
    "According to officials",
    "At a briefing,",
]


@dataclass
class Event:
    id: str
    topic: tuple[str, str, str, str, str]
    place: str
    people: list[str]
    numbers: list[int]
    glue: tuple[str, str]


@dataclass
class Article:
    """One article as first published; `edits` are applied as the clock passes their offsets."""

    id: str
    title: str
    paragraphs: list[str]
    author: str
    story_label: str  # ground truth: articles with the same label are the same story
    event_id: str
    kind: str  # wire | rewrite | independent | local
    dateline: str = ""
    agency: str = ""
    edits: list[tuple[float, str, str]] = field(default_factory=list)  # (hours, kind, arg)


class Writer:
    """Sentence generator for one article: its own random stream, the event's facts."""

    def __init__(self, rng: random.Random, event: Event, voice: str = "wire"):
        self.rng = rng
        self.event = event
        self.voice = voice  # "wire": the agency's phrasing; "reporter": a local reporter's own

    def _person(self) -> str:
        return self.rng.choice(self.event.people)

    def _num(self) -> str:
        return f"{self.rng.choice(self.event.numbers):,}"

    def sentence(self) -> str:
        r, e = self.rng, self.event
        t = e.topic
        forms = [
            lambda: (
                f"{self._person()} said the {r.choice(ADJ)} {r.choice(NOUNS)} on the {t[1]} "
                f"was {r.choice(VERBS)} {r.choice(PREPS)} {e.place} after {self._num()} {r.choice(GROUPS)} "
                f"raised concerns about the {t[2]}."
            ),
            lambda: (
                f"{r.choice(CONNECT)} {r.choice(GROUPS)} {r.choice(PREPS)} {e.place} "
                f"{r.choice(VERBS)} a {r.choice(ADJ)} {r.choice(NOUNS)} tied to the {t[3]}, "
                f"with {self._num()} people affected by {r.choice(TIMES)}."
            ),
            lambda: (
                f"The {r.choice(ADJ)} {r.choice(NOUNS)} {r.choice(VERBS)} by {self._person()} "
                f"covers {self._num()} {r.choice(GROUPS)} and the {t[4]} {r.choice(PREPS)} the "
                f"{r.choice(ADJ)} district."
            ),
            lambda: (
                f'"We {r.choice(VERBS)} the {r.choice(NOUNS)} because the {t[2]} '
                f'{r.choice(["cannot wait", "keeps growing", "is not over", "changed everything"])}," '
                f"{self._person()} told {r.choice(GROUPS)} on {r.choice(TIMES)}."
            ),
            lambda: (
                f"Officials in {e.place} {r.choice(VERBS)} the {t[3]} and "
                f"{r.choice(VERBS)} a {r.choice(ADJ)} {r.choice(NOUNS)} worth {self._num()} dollars."
            ),
        ]
        if self.voice == "reporter":
            forms = self._reporter_forms()
        return r.choice(forms)()

    def _reporter_forms(self) -> list[Callable[[], str]]:
        """Another writer's sentences about the same facts: the names, places and numbers
        recur, the phrasing does not. Nearly every word is drawn from a pool, so two
        reporters (or a reporter and the agency) rarely print the same five words in a
        row: real independent reports of one event share almost no word 5-grams outside
        quotes (bench/clustering.py, real copies)."""
        r, e = self.rng, self.event
        t = e.topic

        def pick(*options: str) -> str:
            return r.choice(options)

        return [
            lambda: (
                f"{self._person()}, {pick('a longtime critic', 'who chairs the committee', 'a neighbour', 'speaking for residents', 'an organizer')}, "
                f"{pick('called', 'described', 'labelled', 'branded')} the {t[1]} "
                f"{r.choice(ADJ)} {pick('and warned', 'adding', 'and predicted', 'but conceded')} "
                f"{pick('more', 'other', 'several', 'few')} {r.choice(GROUPS)} {pick('would', 'might', 'could', 'will')} "
                f"{pick('follow', 'object', 'join in', 'push back', 'walk away')}."
            ),
            lambda: (
                f"{pick('Roughly', 'Nearly', 'About', 'More than', 'Some')} {self._num()} "
                f"{pick('residents', 'people', 'locals', 'taxpayers', 'parents')} "
                f"{pick('crowded', 'filled', 'packed', 'jammed')} {pick('a hall', 'the gym', 'a church basement', 'the arena')} "
                f"{r.choice(TIMES)} {pick('to question', 'to confront', 'to hear', 'to grill')} {self._person()}."
            ),
            lambda: (
                f"{pick('Records', 'Documents', 'Budget papers', 'Invoices')} "
                f"{pick('seen by', 'obtained by', 'reviewed by', 'shared with')} "
                f"{pick('this paper', 'our newsroom', 'reporters', 'the Post')} "
                f"{pick('show', 'suggest', 'indicate', 'put')} {pick('spending', 'costs', 'the bill', 'outlays')} "
                f"{pick('near', 'above', 'around', 'under')} {self._num()} dollars."
            ),
            lambda: (
                f'"{pick("Who pays", "Why now", "What next", "Who decided", "Where does it end")}?" '
                f"{self._person()} {pick('asked', 'wondered', 'demanded', 'said')}."
            ),
            lambda: (
                f"{pick('Opponents', 'Critics', 'Skeptics', 'Some owners')} "
                f"{pick('say', 'argue', 'complain', 'insist')} {r.choice(GROUPS)} "
                f"{pick('never had', 'lacked', 'were denied', 'did not get')} "
                f"{pick('a say', 'a vote', 'a hearing', 'any notice')} on the {t[4]}."
            ),
        ]

    def paragraph(self, sentences: int | None = None) -> str:
        count = sentences or self.rng.randint(2, 3)
        return " ".join(self.sentence() for _ in range(count))

    def title(self) -> str:
        r, e = self.rng, self.event
        return r.choice(
            [
                f"{e.place} {r.choice(GROUPS)} face {r.choice(ADJ)} {e.topic[1]} {r.choice(NOUNS)}",
                f"{e.topic[1].capitalize()} in {e.place}: {r.choice(NOUNS)} {r.choice(VERBS)}",
                f"{self._person()} {r.choice(VERBS)} {e.topic[1]} {r.choice(NOUNS)} for {e.place}",
            ]
        )


def make_event(rng: random.Random, index: int) -> Event:
    topic = TOPICS[index % len(TOPICS)]
    place = rng.choice(PLACES)
    people = [f"{rng.choice(FIRST)} {rng.choice(FIRST)}" for _ in range(3)]
    numbers = [rng.randint(12, 9000) for _ in range(4)]
    return Event(f"e{index}", topic, place, people, numbers, rng.choice(GLUE_PAIRS))


def wire_story(rng: random.Random, event: Event, label: str, paragraphs: int = 10) -> Article:
    writer = Writer(rng, event)
    agency, dateline = rng.choice(AGENCIES)
    paras = [writer.paragraph() for _ in range(paragraphs)]
    glue_at = rng.randrange(1, paragraphs)
    a, b = event.glue
    paras[glue_at] = paras[glue_at] + f" Reports of {a} {b} near {event.place} were not confirmed."
    city = event.place.upper()
    paras[0] = f"{city} {dateline} {paras[0]}"
    return Article(
        id=label,
        title=writer.title(),
        paragraphs=paras,
        author=agency,
        story_label=label,
        event_id=event.id,
        kind="wire",
        dateline=dateline,
        agency=agency,
    )


REWRITE_EDITS = ("headline", "intro", "glue", "lede_twice", "trim", "reorder", "no_dateline")


def rewrite(
    rng: random.Random, wire: Article, event: Event, site_name: str, edits: tuple[str, ...]
) -> Article:
    """A regional republication of a wire story with the given syndication edits."""
    paras = list(wire.paragraphs)
    title = wire.title
    writer = Writer(rng, event)
    if "no_dateline" in edits:
        paras[0] = paras[0].split(wire.dateline, 1)[-1].strip()
    if "glue" in edits:
        a, b = event.glue
        paras = [p.replace(f"{a} {b}", f"{a}{b}") for p in paras]
    if "reorder" in edits and len(paras) > 5:
        middle = paras[2:-2]
        rng.shuffle(middle)
        paras = paras[:2] + middle + paras[-2:]
    if "trim" in edits:
        paras = paras[: max(4, int(len(paras) * 0.6))]
    if "lede_twice" in edits:
        paras = [paras[0], *paras]
    if "intro" in edits:
        paras = [f"Local reaction: {writer.paragraph(2)}", *paras]
    if "headline" in edits:
        title = writer.title()
    return Article(
        id=f"{wire.id}-{site_name}",
        title=title,
        paragraphs=paras,
        author=wire.agency,
        story_label=wire.story_label,
        event_id=event.id,
        kind="rewrite",
        dateline=wire.dateline,
        agency=wire.agency,
    )


def independent_story(rng: random.Random, event: Event, label: str, author: str) -> Article:
    """Own reporting on the same event: same facts and names, different sentences."""
    writer = Writer(rng, event, voice="reporter")
    paras = [writer.paragraph() for _ in range(rng.randint(7, 10))]
    return Article(
        id=label,
        title=writer.title(),
        paragraphs=paras,
        author=author,
        story_label=label,
        event_id=event.id,
        kind="independent",
    )


@dataclass
class LabelledDoc:
    id: str
    site: str
    title: str
    text: str
    story: str
    event: str
    kind: str


def labelled_corpus(
    seed: int, events: int, copies: int = 4, independents: int = 2, chrome: bool = True
) -> list[LabelledDoc]:
    """A labelled set for clustering benchmarks: per event, a wire story with `copies`
    regional rewrites and `independents` independently written articles."""
    rng = random.Random(seed)
    docs: list[LabelledDoc] = []
    for index in range(events):
        event = make_event(rng, index)
        wire = wire_story(rng, event, f"w{index}")
        docs.append(_doc(wire, "wire", rng, chrome))
        for copy_no in range(copies):
            edits = tuple(e for e in REWRITE_EDITS if rng.random() < 0.45) or ("headline",)
            docs.append(
                _doc(rewrite(rng, wire, event, f"s{copy_no}", edits), f"s{copy_no}", rng, chrome)
            )
        for ind in range(independents):
            art = independent_story(
                rng, event, f"i{index}-{ind}", f"{rng.choice(FIRST)} {rng.choice(FIRST)}"
            )
            docs.append(_doc(art, f"s{ind}", rng, chrome))
    return docs


def _doc(article: Article, site: str, rng: random.Random, chrome: bool) -> LabelledDoc:
    paras = list(article.paragraphs)
    if chrome:
        paras = [
            f"{site.upper()} NEWS | Home | Local | Sports | Weather 4°C",
            *paras,
            f"Photo: {rng.choice(FIRST)} {rng.choice(FIRST)} / {site} staff",
            "Sign up for our newsletter. © Regional Media Group",
        ]
    return LabelledDoc(
        article.id,
        site,
        article.title,
        "\n".join(paras),
        article.story_label,
        article.event_id,
        article.kind,
    )
