"""Which news agency a copy comes from: AP, CP (and La Presse canadienne), Reuters, AFP, dpa.

What media monitors ask of a story first. Read per article, from what the copy
says of itself, strongest first:
1. the dateline ("OTTAWA (CP) —", "Berlin (dpa) -", "(dpa/lnw)", "(AFP)");
2. the byline (the extractor's authors: "The Associated Press", "Reuters Staff");
3. credit and byline lines in the text ("The Associated Press", "— The Canadian
   Press", "By Jane Doe, The Canadian Press", "Par La Presse Canadienne, 2025",
   "This report by The Canadian Press was first published ...", "(Reporting by
   ...; Editing by ...)" for Reuters, "© dpa-infocom", "La Presse Canadienne");
4. the page's JSON-LD names (author, publisher, sourceOrganization,
   copyrightHolder), which the extractor passes on as credits.
"With files from The Associated Press" in a CP story names a contributor, not
the agency, and is not read. Hand-written: no library names agencies; the
patterns are the agencies' own published credit styles.

A story's agency is its originating copy's when that one is known, else the
agency most of its members name (crawler.stories.members).

Photo credits ("(AP Photo/Jane Doe)", "REUTERS/Jane Doe", "Foto: Jo Doe/dpa") are
weaker evidence, read apart (`photo_agency_of`): a staff-written local story often
runs with an agency's photo. A story is named from them only when no member names
an agency in its text and the story is carried by PHOTO_MIN_SITES sites or more
(`story_attribution`): a text republished across sites is syndicated, and its
photo credits are then the best remaining hint of the syndicator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from crawler.stories.shingles import narrative_paragraphs

UNKNOWN = "unknown"
AGENCIES = ("AP", "CP", "Reuters", "AFP", "dpa")

# names as they appear in bylines, credits and JSON-LD, to the agency
_NAMES = (
    (re.compile(r"\bassociated press\b|^\s*ap\s*$|\bap (?:staff|news)\b", re.I), "AP"),
    (
        re.compile(r"\b(?:the )?canadian press\b|\bpresse canadienne\b|^\s*(?:cp|pc)\s*$", re.I),
        "CP",
    ),
    (re.compile(r"\breuters\b", re.I), "Reuters"),
    (re.compile(r"\bagence france[- ]presse\b|^\s*afp\s*$|\bafp\b", re.I), "AFP"),
    (re.compile(r"\bdpa\b|deutsche presse-agentur", re.I), "dpa"),
)
_DATELINE = re.compile(
    r"^[^\n]{0,60}?\((AP|CP|PC|Reuters|AFP|dpa(?:/[a-z]{2,4})?|La Presse [Cc]anadienne"
    r"|(?:The )?Associated Press|(?:The )?Canadian Press|Agence France-Presse)\)\s*[-—–]"
)
_DATELINE_NAMES = {
    "ap": "AP",
    "cp": "CP",
    "pc": "CP",
    "reuters": "Reuters",
    "afp": "AFP",
    "associated press": "AP",
    "the associated press": "AP",
    "agence france-presse": "AFP",
}
# a credit line: short, and nothing but the agency (with a dash, a copyright sign, a
# year, "Staff", "by"), or an agency's fixed formula
_CREDIT = re.compile(
    r"^\s*(?:[-—–©]|\(c\)|copyright|by)?\s*(?:\d{4}\s*)?(?:the\s+)?"
    r"(associated press|canadian press|la presse canadienne|reuters|agence france-presse|"
    r"afp|dpa(?:-infocom)?)(?:\s+staff)?[\s.,]*(?:\d{4}\.?)?\s*(?:all rights reserved\.?)?\s*$",
    re.I,
)
# a byline in the text: "By Alessia Passafiume, The Canadian Press", "Par La Presse
# Canadienne, 2025", "Von dpa": short, opening with by / par / von
_BYLINE = re.compile(r"^\s*(?:by|par|von)\s", re.I)
BYLINE_MAX_WORDS = 15
_FORMULA = (
    (re.compile(r"this (?:report|story) by the canadian press was first published", re.I), "CP"),
    (re.compile(r"^\s*\(reporting by [^)]{3,200}(?:editing by|writing by)", re.I), "Reuters"),
    (re.compile(r"copyright \d{4} the associated press", re.I), "AP"),
    (re.compile(r"associated press writers? [A-Z][^.]{2,120} contributed", re.I), "AP"),
    # German papers glue dpa's credit to the end of the last paragraph: "... getragen
    # werden. dpa", "... zu rechnen. (dpa/lnw)"
    (re.compile(r"[.!?»“\"]\s+\(?dpa(?:/[a-z]{2,4})?\)?\s*$"), "dpa"),
)
# a reporter's signature closing (or opening) a copy: "Patrice Bergeron, La Presse
# Canadienne", "Jane Doe, The Associated Press": a name of two to four words, a comma,
# and nothing but the agency
_SIGNATURE = re.compile(
    r"^\s*[-—–]?\s*(?:[A-ZÀ-Þ][\w'’.-]+\s+){1,3}[A-ZÀ-Þ][\w'’.-]+\s*,\s*(?i:the\s+)?"
    r"(?i:(associated press|canadian press|la presse canadienne|reuters|agence france-presse"
    r"|afp|dpa))[\s.]*$"
)
_WITH_FILES = re.compile(r"with files from|contributed to this report|mit material von", re.I)
CREDIT_PARAGRAPHS = 4  # credit lines sit at the top or the bottom of a copy
# lines of this many words or fewer ("ici", "likes", "Imprimer", "19 septembre 2024") are a
# page's menus and share buttons left in: they do not use up the CREDIT_PARAGRAPHS window
FURNITURE_MAX_WORDS = 3


def agency_of(
    paragraphs: Sequence[str],
    authors: Iterable[str] = (),
    credits: Iterable[str] = (),
) -> str:
    """The agency a copy names itself by (AGENCIES), or UNKNOWN."""
    return (
        _from_dateline(paragraphs)
        or _from_names(authors)
        or _from_credit_lines(paragraphs)
        or _from_names(credits)
        or UNKNOWN
    )


DATELINE_PARAGRAPHS = 6  # a site's header lines and photo captions may come before it


def _from_dateline(paragraphs: Sequence[str]) -> str | None:
    """The dateline opens one of the first narrative paragraphs: a page's own header
    lines (the site's date and weather, the headline repeated) and photo captions may
    come first, so it is looked for past them, at the start of a paragraph only."""
    for paragraph in narrative_paragraphs(paragraphs)[:DATELINE_PARAGRAPHS]:
        match = _DATELINE.search(paragraph[:200])
        if match:
            name = match.group(1).casefold()
            if name.startswith("dpa"):
                return "dpa"
            return _DATELINE_NAMES.get(name, "CP")
    return None


def _from_names(names: Iterable[str]) -> str | None:
    for name in names:
        if not isinstance(name, str) or _WITH_FILES.search(name):
            continue
        for pattern, agency in _NAMES:
            if pattern.search(name):
                return agency
    return None


def _from_credit_lines(paragraphs: Sequence[str]) -> str | None:
    edges = _edge(paragraphs) + _edge(paragraphs[::-1])[::-1]
    for paragraph in edges:
        if _WITH_FILES.search(paragraph):
            continue
        match = (
            (_CREDIT.match(paragraph) or _SIGNATURE.match(paragraph))
            if len(paragraph) <= 80
            else None
        )
        if match:
            found = _from_names([match.group(1)])
            if found:
                return found
        if _BYLINE.match(paragraph) and len(paragraph.split()) <= BYLINE_MAX_WORDS:
            found = _from_names([paragraph])
            if found:
                return found
        for pattern, agency in _FORMULA:
            if pattern.search(paragraph):
                return agency
    return None


def _edge(paragraphs: Sequence[str]) -> list[str]:
    """The paragraphs up to the CREDIT_PARAGRAPHS-th that is more than a menu line: a
    page's copy opens under its navigation and share buttons ("Nous joindre", "ici",
    "likes", "imprimante"), which would otherwise push "Par La Presse Canadienne" out
    of a window of four paragraphs."""
    edge: list[str] = []
    substantive = 0
    for paragraph in paragraphs:
        edge.append(paragraph)
        substantive += len(paragraph.split()) > FURNITURE_MAX_WORDS
        if substantive == CREDIT_PARAGRAPHS:
            break
    return edge


def story_agency(origin: Mapping[str, object] | None, counts: Mapping[str, int]) -> str:
    """A story's agency: its originating copy's when known, else the one most members
    name (ties: the first in AGENCIES), else UNKNOWN."""
    named = str((origin or {}).get("agency") or UNKNOWN)
    if named != UNKNOWN:
        return named
    return most_named(counts)


# -- photo credits ----------------------------------------------------------------------
# Hand-written for the same reason as the rest of this module: no library reads caption
# credits. The styles are the agencies' own and their clients' (checked on the wire set's
# pages and stored pages of AP, CP, Reuters, AFP and dpa photos):
#   "(AP Photo/Ana Ruiz)", "(AP Photo)", "(AP Photo/Jane Doe, File)", "(AP File
#   Photo)", "Photo: AP file", "[Luc Morel, AFP]", "© Paul R. MARTIN / AFP", "(AFP
#   PHOTO / Jo Doe)", "(Photo: AFP / Jo Doe)", "(Photo by Jo Doe / AFP)", "THE CANADIAN
#   PRESS/Sam Kerr", "PHOTO JO DOE, LA PRESSE CANADIENNE", "REUTERS/Jane Doe/File
#   Photo", "Foto: Jan Vogel/dpa", "Foto: dpa Picture-Alliance", "Photograph: Jo Doe/AP".
# A credit is split into its parts (at "/", ",", ";", "|"); a part that is nothing but an
# agency's name, once the words "Photo", "File", "Foto" ... are taken off, names it. A
# credit is short (100 characters at most): a longer run is a sentence that mentions one.
FROM_TEXT = "text"
FROM_PHOTOS = "photo credits"
PHOTO_MIN_SITES = 2  # a story on one site is that site's story, whatever its photos say

_PHOTO_WORD = re.compile(
    r"\b(?:photos?|fotos?|photograph|picture|pic|image|bild|file|crédit photo)\b", re.I
)
# a credit in brackets: "(AP Photo/Jane Doe)", "[Luc Morel, AFP]"
_BRACKETED = re.compile(r"[(\[](?P<credit>[^()\[\]]{1,100})[)\]]")
# a labelled credit, up to a closing bracket or the paragraph's end: "Photo: AP file",
# "Foto: Jan Vogel/dpa", "Photo by Jo Doe / AFP", "Crédit photo : PC"
_LABELLED = re.compile(
    r"(?:\b(?:photos?|fotos?|photograph|picture|pic|image|bild|credit|crédit(?: photo)?)"
    r"\s*(?::|\bby\b|\bvon\b)|©)\s*(?P<credit>[^()\[\]©]{1,100}?)\s*(?:[)\]]|$)",
    re.I,
)
# a credit closing a caption without brackets: "... in Winnipeg. THE CANADIAN PRESS/Jo
# Doe", "REUTERS/Jane Doe", "Jo Doe/AP", "PHOTO JO DOE, LA PRESSE CANADIENNE"
_TAIL = re.compile(
    r"(?:^|[.!?][\"”’»]?\s+)(?P<credit>[^.!?]{1,100})$",
)
_PARTS = re.compile(r"\s*[/,;|]\s*")
# the words around an agency's name in a credit, taken off before it is read
_CREDIT_NOISE = re.compile(
    r"\b(?:photos?|fotos?|photograph|picture[- ]alliance|pictures?|pic|images?|bild|"
    r"file|files|archives?|archiv|handout|pool|credit|crédit|copyright|by|von|par)\b|©|\(c\)",
    re.I,
)
# a picture service that resells every agency's photos to anyone ("AFP via Getty
# Images", "AP/REX/Shutterstock"): its credit says nothing of who syndicated the text
_DISTRIBUTOR = re.compile(
    r"\bvia\b|\bgetty\b|shutterstock|\brex\b|alamy|\bimago\b|\bzuma\b|\bsipa\b|abaca|newscom",
    re.I,
)
_PHOTO_NAMES = {
    "ap": "AP",
    "associated press": "AP",
    "the associated press": "AP",
    "cp": "CP",
    "pc": "CP",
    "canadian press": "CP",
    "the canadian press": "CP",
    "la presse canadienne": "CP",
    "reuters": "Reuters",
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "dpa": "dpa",
    "dpa-zentralbild": "dpa",
    "dpa-bildfunk": "dpa",
}


def photo_agency_of(
    paragraphs: Iterable[str], credits: Iterable[str] = (), captions: Iterable[str] = ()
) -> str:
    """The agency most of the page's photo credits name (ties: the first in AGENCIES), or
    UNKNOWN: credits read in its paragraphs and its figures' `captions` (`photo_credits`),
    and `credits` known to be a photo's credit (a figure's credit element, JSON-LD image
    creditText). Read apart from `agency_of`'s evidence (see the module)."""
    counts: dict[str, int] = {}
    found = [a for paragraph in paragraphs for a in photo_credits(paragraph)]
    found += [a for caption in captions for a in photo_credits(caption, caption=True)]
    found += [a for credit in credits for a in _credit_agency(credit)]
    for agency in found:
        counts[agency] = counts.get(agency, 0) + 1
    return most_named(counts)


def photo_credits(paragraph: str, caption: bool = False) -> list[str]:
    """The agency of each photo credit in a line of text, in order (one per credit).
    `caption`: the line is known to be a photo's caption (a page's <figcaption>), so an
    agency alone in brackets closing it ("... on Aug. 31, 2019. (AP)") is its credit; in
    running text that is the copy's own credit, read by `agency_of` when at all."""
    found: list[str] = []
    rest = paragraph
    for match in list(_BRACKETED.finditer(paragraph)):
        credit = match.group("credit")
        closes = not paragraph[match.end() :].strip()
        if (
            _PHOTO_WORD.search(credit)
            or (closes and _names_a_person(credit))
            or (closes and caption and _agency_part(credit) is not None)
        ):
            found += _credit_agency(credit)
            rest = rest.replace(match.group(0), " ")
    for match in list(_LABELLED.finditer(rest)):
        found += _credit_agency(match.group("credit"))
        rest = rest.replace(match.group(0), " ")
    tail = _TAIL.search(rest.strip())
    if tail:
        credit = tail.group("credit")
        bracketed = credit.lstrip().startswith(("(", "["))  # read above, or no credit
        if not bracketed and ("/" in credit or re.match(r"\s*photo\b", credit, re.I)):
            found += _credit_agency(credit)
    return found


def _names_a_person(credit: str) -> bool:
    """A bracketed group that closes a caption is a credit when one of its parts is a
    photographer's name ("[Luc Morel, AFP]"), not "(dpa/lnw)" or "(AP)"."""
    return any(part[:1].isupper() and _agency_part(part) is None for part in _PARTS.split(credit))


def _credit_agency(credit: str) -> list[str]:
    """The agency one credit names: none when it names none, a distributor, or more than
    one agency ("THE CANADIAN PRESS/AP/Ed Vance": whose wire carried the text is open)."""
    if _DISTRIBUTOR.search(credit):
        return []
    named = {a for a in map(_agency_part, _PARTS.split(credit)) if a is not None}
    return list(named) if len(named) == 1 else []


def _agency_part(part: str) -> str | None:
    bare = " ".join(_CREDIT_NOISE.sub(" ", part).split()).strip(" -–—.:()[]").casefold()
    return _PHOTO_NAMES.get(bare)


def most_named(counts: Mapping[str, int]) -> str:
    """The agency named most often (ties: the first in AGENCIES), or UNKNOWN."""
    known = {a: n for a, n in counts.items() if a != UNKNOWN and n > 0}
    if not known:
        return UNKNOWN
    order = {a: i for i, a in enumerate(AGENCIES)}
    return max(known, key=lambda a: (known[a], -order.get(a, len(AGENCIES))))


def story_attribution(
    origin: Mapping[str, object] | None,
    counts: Mapping[str, int],
    photo_counts: Mapping[str, int],
    site_count: int,
) -> tuple[str, str | None]:
    """A story's agency and the kind of evidence that named it (FROM_TEXT, FROM_PHOTOS or
    None): text evidence first (story_agency); photo credits only when no member has
    text evidence and the story is carried by PHOTO_MIN_SITES sites or more."""
    named = story_agency(origin, counts)
    if named != UNKNOWN:
        return named, FROM_TEXT
    if site_count >= PHOTO_MIN_SITES:
        photo = most_named(photo_counts)
        if photo != UNKNOWN:
            return photo, FROM_PHOTOS
    return UNKNOWN, None
