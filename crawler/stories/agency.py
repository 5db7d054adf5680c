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
    known = {a: n for a, n in counts.items() if a != UNKNOWN and n > 0}
    if not known:
        return UNKNOWN
    order = {a: i for i, a in enumerate(AGENCIES)}
    return max(known, key=lambda a: (known[a], -order.get(a, len(AGENCIES))))
