"""What a text is compared and looked up by: narrative shingles, ledes and anchors.

Anchors are the word 5-gram hashes that are 0 modulo ANCHOR_MODULUS (Broder's
mod-m sampling): the same shingle is sampled in every document that contains
it, so a copy holding 60 % of the wire text shares about 60 % of its anchors.
Why not MinHash LSH bands: a shortened wire copy is *contained* in the long
one, but its Jaccard similarity can be as low as 0.15 (docs/design/stories.md:
MinHash LSH at t=0.5 missed 18 % of trimmed copies). Each text also adds a bottom-k sketch of
each of its first ledes (LEDE_ANCHORS smallest shingles), so a copy that
shares little more than the lede is still found.

Shingles are taken within paragraphs, so reordered paragraphs keep theirs, and
from normalised text with repeated paragraphs already dropped (a lede printed
twice counts once).
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
import zlib
from array import array
from collections.abc import Iterable, Sequence

from bson import Binary

from crawler.text import normalize

SHINGLE_WORDS = 5
ANCHOR_MODULUS = 12
MIN_PARAGRAPH_WORDS = 6
LEDE_ANCHORS = 2
LEDE_WORDS = 12  # a paragraph of at least this many words can be a lede
LEDE_MAX_WORDS = 60  # the words of a lede compared; a longer paragraph is a whole item
LEDES_KEPT = 3
WIRE_MARK = re.compile(
    r"\((AP|CP|Reuters|AFP|dpa|UPI)\)\s*[-—–]|^\s*[A-Z][A-Z .'-]{2,}\s*[-—–]\s", re.M
)
WIRE_AGENCIES = re.compile(
    r"associated press|canadian press|reuters|agence france|\bap\b|\bafp\b", re.I
)


def shingle_hashes(paragraphs: Sequence[str]) -> set[int]:
    """32-bit hashes of the word 5-grams of each paragraph's own narrative.

    Quoted speech is left out: independent reports of one event quote the same
    statement word for word ("Our thoughts and prayers are with all affected
    passengers..."), while copies of one wire story share the agency's own
    sentences. A text that is nearly all quotes keeps them (QUOTES_KEPT_BELOW).
    Short lines such as captions are skipped.
    """
    own = narrative_paragraphs(paragraphs)
    narrative = _shingles(_QUOTED.sub(" \n ", p) for p in own)
    if len(narrative) >= QUOTES_KEPT_BELOW:
        return narrative
    return _shingles(own) or _shingles(paragraphs)


def narrative_paragraphs(paragraphs: Sequence[str]) -> list[str]:
    """The paragraphs that tell the page's own story: captions out (but for a photo
    gallery, whose captions are all it tells: is_gallery), and teasers (excerpts
    cut with "...", "…" or "[…]": a "related stories" box under the text, a summary
    repeated above it) out too, unless that leaves less than QUOTES_KEPT_BELOW shingles
    of narrative (a page that is nothing but a cut lede is that lede).

    A regional site's box of recommended items prints the first sentences of other
    wire stories; counted in, a copy of one story carries the ledes of two others and
    joins them all (three La Presse Canadienne stories of the wire set became one)."""
    if paragraphs:  # a date stamp printed before the first words (_stamp_end) is no narrative
        paragraphs = [_without_date_stamp(paragraphs[0]), *paragraphs[1:]]
    if is_gallery(paragraphs):  # a gallery's captions are its text (is_gallery)
        own = [p for p in paragraphs if p.strip() and not is_credit_line(p)]
    else:
        own = [p for p in paragraphs if p.strip() and not is_caption(p)]
    body = [p for p in own if not is_teaser(p)]
    # one cut item is the page's own text when little else is, or when the page opens
    # with it (an aggregator's excerpt above its standing text); two or more are a box
    if len(own) - len(body) == 1 and (
        len(_shingles(body)) < QUOTES_KEPT_BELOW or _opens_with_teaser(own)
    ):
        return own
    return body


def _opens_with_teaser(paragraphs: Sequence[str]) -> bool:
    """The first paragraph long enough to be a lede is a cut excerpt."""
    for paragraph in paragraphs:
        if is_teaser(paragraph):
            return True
        if len(paragraph.split()) >= LEDE_WORDS:
            return False
    return False


# an excerpt cut short: "... de cibler les ...", "... continue de …", "[…]", "(...)"
_CUT = re.compile(r"(?:\.{3}|…|\[(?:\.{3}|…)\]|\((?:\.{3}|…)\))\s*$")


def is_teaser(paragraph: str) -> bool:
    """An excerpt cut short with an ellipsis: the teaser of an item printed elsewhere,
    not the page's own narrative (narrative_paragraphs)."""
    return bool(_CUT.search(paragraph))


def _shingles(paragraphs: Iterable[str]) -> set[int]:
    hashes: set[int] = set()
    for paragraph in paragraphs:
        for part in paragraph.split("\n"):
            tokens = match_words(part)
            if len(tokens) < MIN_PARAGRAPH_WORDS:
                continue
            for i in range(len(tokens) - SHINGLE_WORDS + 1):
                hashes.add(_hash(tokens[i : i + SHINGLE_WORDS]))
    return hashes


def _hash(tokens: Sequence[str]) -> int:
    return zlib.crc32(" ".join(tokens).encode())


def sentence_shingles(paragraphs: Sequence[str]) -> list[set[int]]:
    """The narrative shingles of each sentence (those starting in it), quotes, captions and
    teasers left out as in shingle_hashes: how many sentences two texts share, which containment
    alone does not say (crawler.stories.placement.more_than_a_sentence).

    Sentences are the text's own, found before quotes are taken out: a sentence naming
    songs or books in quotation marks ("known for "Proud Mary," "River Deep" and ...")
    is one sentence whose words outside the quotes count, not one per fragment (a
    station that lifted that one sentence counted three, and joined the wire story)."""
    found: list[set[int]] = []
    for paragraph in narrative_paragraphs(paragraphs):
        bounds = _sentence_bounds(paragraph)
        first = len(found)
        found.extend(set() for _ in bounds)
        # quotes blanked to the same length, so the sentence bounds still hold; a quote
        # ends a run of words, as in shingle_hashes
        masked = _QUOTED.sub(lambda quote: "\n" + " " * (len(quote.group()) - 1), paragraph)
        offset = 0
        for part in masked.split("\n"):
            start, end = offset, offset + len(part)
            offset = end + 1
            owner: list[int] = []
            tokens: list[str] = []
            for index, (low, high) in enumerate(bounds):
                if max(low, start) < min(high, end):
                    words = match_words(masked[max(low, start) : min(high, end)])
                    owner += [first + index] * len(words)
                    tokens += words
            if len(tokens) < MIN_PARAGRAPH_WORDS:
                continue
            for i in range(len(tokens) - SHINGLE_WORDS + 1):
                found[owner[i]].add(_hash(tokens[i : i + SHINGLE_WORDS]))
    return [s for s in found if s]


# a full stop, then a space and a capital (or an opening quote, a digit): a new sentence,
# unless the word before is a known abbreviation or a single letter ("Gen. Smith", "J. Doe")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"”»“’)\]]*\s+(?=(?:«\s?|[\"“„‚‹(])?[^\W\d_a-zà-ÿ])")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "gen",
        "gov",
        "sen",
        "rep",
        "lt",
        "col",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "jan",
        "feb",
        "aug",
        "sept",
        "oct",
        "nov",
        "dec",
        "no",
        "nos",
        "vs",
        "inc",
        "corp",
        "co",
        "ltd",
        "jr",
        "sr",
        "mt",
        "ft",
        "ave",
        "blvd",
        "m",
        "mme",
        "mm",
        "mlle",
        "me",
        "dre",
        "prof",
        "nr",
        "hr",
        "fr",
        "frau",
        "bzw",
        "ca",
        "dt",
        "vgl",
        "abs",
        "art",
        "bd",
        "ste",
        # titles and units of regional copy
        "det",
        "const",
        "cpl",
        "insp",
        "supt",
        "coun",
        "ald",
        "rev",
        "mio",
        "mrd",
        "tsd",
        "jh",
        "boul",
        "av",
    ]
)
# a day written as an ordinal before its month ("bis zum 22. Juni", "am 15. März"): no
# sentence ends there
_ORDINAL_MONTH = re.compile(
    r"(?:jan|feb|mär|märz|apr|mai|jun|jul|aug|sep|okt|nov|dez)[a-zä]*\b", re.I
)


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, in any of the Latin-script languages crawled (English,
    French, German: capitals and quote marks of each). Hand-written: a tokenizer library
    (nltk's punkt, spaCy) brings models per language for what here only decides whether a
    shared passage is one sentence or more, where a rare wrong split costs little."""
    return [text[low:high] for low, high in _sentence_bounds(text) if text[low:high].strip()]


def _sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Where each sentence of split_sentences starts and ends in `text`."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        before = text[start : match.start()].rstrip('.!?…"”»“’)]').split()
        last = before[-1].casefold() if before else ""
        last = re.split(r"['’]", last)[-1]  # French elision: "l'av."
        if len(last) <= 1 or last in _ABBREVIATIONS or "." in last:
            continue
        if last.isdigit() and int(last) <= 31 and _ORDINAL_MONTH.match(text, match.end()):
            continue
        if _AGENCY_AFTER_DATELINE.match(text, match.end()):  # "HARRISBURG, Pa. (AP) — "
            continue
        bounds.append((start, match.start()))
        start = match.end()
    bounds.append((start, len(text)))
    return [(low, high) for low, high in bounds if text[low:high].strip()]


# "MEMPHIS, Tenn. (WMC) - ", "LOS ANGELES (AP) — ", "VATICAN CITY — ": where a copy was
# filed, not what it says; left in, it makes the same lede look reworded
_CAPS = "A-ZÀ-ÖØ-Þ"
_PAREN_AGENCY = r"\((?:[A-Za-z]{2,10}(?:/[a-z]{2,4})?|La Presse [Cc]anadienne)\)"
# a dateline's state or province ends in a full stop ("HARRISBURG, Pa. (AP) — ", "BRANDON,
# Man. (CP) — "): the agency's mark after it continues the dateline, no new sentence
_AGENCY_AFTER_DATELINE = re.compile(rf"{_PAREN_AGENCY}\s*[-—–]")
_DATELINE = re.compile(
    rf"^\s*(?:[{_CAPS}][{_CAPS}'.-]+(?:\s+[{_CAPS}][{_CAPS}'.-]+)*"
    rf"(?:,\s*[{_CAPS}][A-Za-zÀ-ÿ.]+(?:\s[{_CAPS}][A-Za-zÀ-ÿ.]+)?)?"
    rf"|[A-Za-zÀ-ÿ .,'’/-]{{2,40}}(?=\s*{_PAREN_AGENCY}))"
    rf"\s*(?:{_PAREN_AGENCY})?\s*[-—–]+\s+"
)
# a date stamp the page prints before the text: "date 2022-06-24", "Published: June 24,
# 2022 10:31 a.m.", "24.06.2022, 10:31 Uhr", "Mis à jour le 12 mars 2025 à 14 h 05",
# "Stand: 12.03.2025, 14:05 Uhr", "Posted: Mar 12, 2025 / 02:05 PM EDT Updated: ...",
# "Updated 2:31 PM EST, March 12, 2025", "Published Wednesday, March 12": when the copy was
# put up, not what it says; left in, it makes two copies of one lede look different in
# their first words. Read a word at a time (_stamp_end): linear however long the run.
_MONTHS = (
    r"(?:jan|feb|m[aä]r|apr|ma[iy]|jun|jul|aug|sep|o[ck]t|nov|d[eé]c|janv|f[eé]vr|avr|juin"
    r"|juil|ao[uû]t|sept|d[eé]z|janvier|f[eé]vrier|mars|avril|juillet|septembre|octobre"
    r"|novembre|d[eé]cembre)[a-zé]*\.?"
)
_MONTH = re.compile(_MONTHS, re.I)


def _without_date_stamp(paragraph: str) -> str:
    """The paragraph without a date stamp before its first words. A date written out with
    no stamp word, time or mark after it may be the sentence's own ("Sept. 11, 2001,
    changed everything"): it stays."""
    return paragraph[_stamp_end(paragraph) :]


_STAMP_WORDS = frozenset(
    [
        "date",
        "published",
        "updated",
        "posted",
        "last",
        "publié",
        "publiée",
        "modifié",
        "mis",
        "jour",
        "stand",
        "aktualisiert",
        "veröffentlicht",
    ]
)
_WEEKDAYS = re.compile(
    r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?|(?:lundi|mardi|mercredi|jeudi|vendredi|samedi"
    r"|dimanche|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)",
    re.I,
)
_STAMP_TIME = re.compile(
    r"\d{1,2}[:.h]\d{2}(?::\d{2})?|[ap]\.?m\.?|h|uhr|"
    r"(?:[ecmp][sd]t|et|ct|pt|utc|gmt|cet|cest|mez|mesz|bst)",
    re.I,
)
# a numeric date is a stamp by itself ("2022-06-24", "2022-06-24T10:31:00+02:00",
# "24.06.2022"); a written-out one needs a stamp word, a time or a mark beside it
_STAMP_DATE = re.compile(
    r"\d{4}-\d{2}(?:-\d{2})?(?:t\d{1,2}:\d{2}(?::\d{2})?(?:z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}",
    re.I,
)
_STAMP_NUMBER = re.compile(r"\d{1,4}")
_STAMP_MARKS = frozenset(["|", "·", "•", "—", "–", "-", "/"])
_STAMP_CONNECTORS = frozenset(["le", "à", "on", "at", "am", "um"])


def _stamp_end(paragraph: str) -> int:
    """Where a stamp of stamp words, weekdays, dates and times ends at the paragraph's start
    (0: none). Connecting words ("le", "à", "on") belong to it only between two of its
    words, so "Mis à jour le 12 mars 2025 Le premier ministre" keeps "Le". A stamp has a
    date, and a stamp word, a time or a mark (_without_date_stamp)."""
    end = 0
    has_date = has_sign = False
    for match in re.finditer(r"\S+", paragraph):
        token = match.group().strip(",;:()").casefold()
        if not token:
            end = match.end()
            continue
        if token in _STAMP_CONNECTORS:
            continue
        if token in _STAMP_WORDS or token in _STAMP_MARKS:
            has_sign = True
        elif _STAMP_DATE.fullmatch(token):
            has_date = has_sign = True
        elif _MONTH.fullmatch(token):
            has_date = True
        elif _STAMP_TIME.fullmatch(token):
            has_sign = True
        elif not (_WEEKDAYS.fullmatch(token) or _STAMP_NUMBER.fullmatch(token)):
            break
        end = match.end()
    if not (has_date and has_sign):
        return 0
    while end < len(paragraph) and paragraph[end].isspace():
        end += 1
    return end


# quoted speech in English (“ ” " "), French (« »), German („ “, ‚ ‘, » «) and Swiss (‹ ›)
# typography; the German pairs come first, as their closing mark is the English opening one
_QUOTED = re.compile(
    r"„[^“”]{0,2000}[“”]|‚[^‘’]{0,600}[‘’]|“[^”]{0,2000}”|\"[^\"]{0,2000}\"|«[^»]{0,2000}»"
    r"|»[^«»]{0,2000}«|‹[^›]{0,600}›"
)
QUOTES_KEPT_BELOW = 20  # narrative shingles: fewer than this and the quotes count too


def ledes_of(paragraphs: Sequence[str]) -> list[str]:
    """The first substantive paragraphs (narrative_paragraphs), quotes left out: where a
    wire copy shows itself even when an agency's write-thru or a regional desk rewrote
    the rest.

    A paragraph longer than the lede window (LEDE_MAX_WORDS) is a whole item printed as
    one paragraph (many dpa and La Presse canadienne pages, glued paragraphs): its lede
    is its first sentences up to LEDE_WORDS words, as the agency's own first paragraph
    would be. Otherwise a write-thru that kept the first sentence and rewrote the next
    ones compares 60 words of which only the first 20 are the same. Paragraphs within
    the window stay whole: a short first sentence alone ("critics say residents got no
    say on the plan") is too common a phrase to say two texts are one story."""
    found: list[str] = []
    for paragraph in narrative_paragraphs(paragraphs):
        body = _DATELINE.sub("", paragraph, count=1)
        tokens = match_words(_QUOTED.sub(" ", body))
        if len(tokens) > LEDE_MAX_WORDS:
            tokens = _first_sentences(body) or tokens
        if len(tokens) >= LEDE_WORDS:
            found.append(" ".join(tokens[:LEDE_MAX_WORDS]))
            if len(found) == LEDES_KEPT:
                break
    return found


def _first_sentences(body: str) -> list[str]:
    """The words of a paragraph's first sentences, quotes left out, up to LEDE_WORDS."""
    tokens: list[str] = []
    for sentence in split_sentences(body):
        tokens += match_words(_QUOTED.sub(" ", sentence))
        if len(tokens) >= LEDE_WORDS:
            return tokens
    return []


def lede_similarity(mine: Sequence[str], theirs: Sequence[str], enough: float = 0.0) -> float:
    """Best word-sequence ratio between one text's first two ledes and the other's three.

    A 5-gram measure misses a lede reworded in a few places ("12-storey", "with a
    roar", "(local time)"); difflib's ratio over words does not. With `enough`,
    the answer only has to say whether some pair reaches it: difflib's cheap upper
    bounds skip the pairs that cannot, and the search stops at the first that
    does (most candidates share a phrase or two with a text, not its lede).
    """
    best = 0.0
    pairs = {
        (a, b)
        for first, second in ((mine, theirs), (theirs, mine))
        for a in first[:2]
        for b in second
    }
    for a, b in sorted(pairs):
        matcher = difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False)
        if matcher.real_quick_ratio() < enough or matcher.quick_ratio() < enough:
            continue
        best = max(best, matcher.ratio())
        if enough and best >= enough:
            break
    return best


def lede_shingles(lede: str) -> set[int]:
    """The shingles of a lede as ledes_of gives it (its words, quotes left out)."""
    return _shingles([lede])


def anchors_of(
    hashes: Iterable[int], ledes: Sequence[str] = (), gallery: bool = False
) -> list[int]:
    """The shingles a text is looked up by: every one that is 0 modulo ANCHOR_MODULUS, and
    the LEDE_ANCHORS smallest of each of its first two ledes (a bottom-k sketch: two ledes
    that are nearly the same share most of them, however short the copy).

    A gallery (is_gallery) is looked up and found by all its shingles: the lede it
    carries sits inside one caption among many, where neither the sampled shingles nor
    its own first ledes (a photo's description) are likely to hold it, and the story's
    copies are found by their ledes' anchors. Galleries are few, so their longer
    anchor lists cost the index little."""
    if gallery:
        return sorted(set(hashes))
    pool = set(hashes)
    anchors = {h for h in pool if h % ANCHOR_MODULUS == 0}
    for lede in ledes:
        anchors.update(sorted(_shingles([lede]) & pool)[:LEDE_ANCHORS])
    return sorted(anchors) or sorted(pool)[:4]  # very short texts: a few shingles stand in


def match_words(text: str) -> list[str]:
    """The words a text is matched by: NFKC-folded, case-folded, format characters
    (zero-width joiners, soft hyphens) taken out and every letter mapped to its
    confusables skeleton (Unicode TS #39), so a copy whose Latin letters were swapped
    for Cyrillic or Greek look-alikes ("Тhе Аssосiаtеd") shingles as the original.
    Only matching sees this form: stored text and its hashes are unchanged."""
    plain = unicodedata.normalize("NFKC", _FORMAT_CHARS.sub("", text))
    return normalize.loose_form(plain.translate(_skeleton_table())).split()


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): what renders as
# nothing, whatever it is (soft hyphens, zero-width joiners, variation selectors, tags)
_FORMAT_CHARS = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


@functools.lru_cache(maxsize=1)
def _skeleton_table() -> dict[int, str]:
    """Each non-ASCII character that Unicode's confusables list (confusable-homoglyphs'
    copy of confusables.txt) gives an ASCII letter or digit look-alike for, mapped to
    it: the TS #39 skeleton restricted to what scrapers swap into Latin text. Accented
    letters (é, ü, ß) have no such look-alike and stay as they are."""
    from confusable_homoglyphs import confusables

    table: dict[int, str] = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if target.isascii() and target.isalnum():
                # TS #39 folds I into l; a capital look-alike (Cyrillic І, Greek Ι) stands for I
                if target == "l" and unicodedata.category(char) == "Lu":
                    target = "I"
                table[ord(char)] = target
                break
    return table


# a photo caption or credit line: "FILE - ...", "(AP Photo/Jane Doe)", "Photo: Reuters",
# "(Photo : La Presse canadienne)", "Foto: dpa": what a gallery page repeats, not narrative
_CAPTION = re.compile(
    r"^\s*(?:FILE|FICHIER|ARCHIVES)\s*[-—–:]|\((?:[A-Z]{2,8}\s+)?(?:Photo|Foto)\b[^)]{0,80}\)"
    r"|\((?:Source|Picture|Photo|Foto|Bild|Credit|Crédit(?: photo)?)\s*:[^)]{0,80}\)"
    r"|^\s*(?:Photo|Foto|Bild|Image|Crédit photo)\s*:|(?:/|via |\()\s*(?:Getty Images|Shutterstock|picture alliance)"
    # a photo's credit line on its own: "(Jane Doe, Copyright 2022 The Associated Press.
    # All rights reserved.)"
    r"|^\s*\(?[^()]{0,60}\bcopyright\s+(?:©\s*)?\d{4}\b[^()]{0,80}\ball rights reserved\b[^()]{0,5}\)?\s*$"
    # credits printed after the caption by CP, dpa's clients, CBC and others: "... THE
    # CANADIAN PRESS/Jane Doe", "Foto: Jo Doe/dpa", "(Jo Doe/CBC)", "photograph by Jo Doe"
    r"|(?:the canadian press|la presse canadienne)\s*/\s*[\w .'-]{2,40}$"
    r"|\b(?:foto|bild|photo|crédit)\s*:\s*[^:]{0,60}(?:/\s*dpa|picture alliance|la presse canadienne|/\s*ap)\b[^.]{0,40}$"
    r"|©\s*[\w .'-]{2,40}/\s*dpa\S*\s*$"
    r"|\([\w .'-]{2,40}/\s*(?:la presse canadienne|the canadian press|cbc|radio-canada|ap|reuters|afp|dpa|postmedia)(?:\s*-\s*image credit)?\)\s*$"
    r"|\bphotograph by [\w .'-]{2,40}$",
    re.I,
)
CAPTION_MAX_WORDS = 80  # a credit inside a longer paragraph is a photo in the story, not a caption
# an agency's caption carrying the story's lede after the photo's description runs to 80-105
# words; one that ends with its credit is a caption up to this length
CREDITED_CAPTION_MAX_WORDS = 120


def is_caption(paragraph: str) -> bool:
    """A photo caption or credit line (crawler.stories.placement: a gallery page that
    carries the wire's lede among captions is that lede, not captions plus a lede). A
    report that prints an agency photo with its long caption between its paragraphs
    shares that caption with every page that printed the photo, not its text."""
    words = len(paragraph.split())
    if words > CREDITED_CAPTION_MAX_WORDS or not _CAPTION.search(paragraph):
        return False
    return words <= CAPTION_MAX_WORDS or _words_after_last_mark(paragraph) <= 2


# a photo's credit printed on its own line under the caption, as galleries do:
# "Associated Press", "AP Photo/Jane Doe", "Reuters", "Getty Images", "Daily Herald
# file, 1987", "Staff photographer", "Courtesy of the family", "Photo: Jane Doe"
_CREDIT_LINE = re.compile(
    r"^\s*(?:\(?(?:the\s+)?(?:associated press|ap|reuters|afp|getty images|canadian press"
    r"|la presse canadienne|dpa|picture alliance|shutterstock)"
    r"(?:\s+(?:photo|file|file photo|images?))?(?:\s*/\s*[\w .'-]{2,40})?\)?"
    r"|[\w .'&-]{2,40}\b(?:file(?: photo)?|staff(?: photo(?:grapher)?)?|courtesy)(?:,\s*\d{4})?"
    r"|(?:photo|courtesy|submitted)\b[\w .,:'/-]{0,40}"
    # "Foto: Jo Doe/dpa", "Bild: picture alliance/dpa", "© Jo Doe/dpa", "Photo : La Presse
    # Canadienne / Jo Doe", "Jo Doe/dpa", "Jo Doe / La Presse Canadienne"
    r"|(?:foto|bild|photo|crédit photo)\s*:\s*[\w .,'/|©&-]{2,70}"
    r"|©\s*[\w .'/-]{2,50}"
    r"|[\w .'-]{2,40}/\s*(?:dpa\S*|la presse canadienne|the canadian press))\s*$",
    re.I,
)
CREDIT_LINE_MAX_WORDS = 8
GALLERY_CAPTIONS = 3  # captions in a row a page needs to be a gallery


def is_credit_line(paragraph: str) -> bool:
    """A photo credit on a line of its own: it and the paragraph above it are a gallery's
    photo and caption (is_gallery)."""
    return len(paragraph.split()) <= CREDIT_LINE_MAX_WORDS and bool(_CREDIT_LINE.match(paragraph))


def is_gallery(paragraphs: Sequence[str]) -> bool:
    """Whether the page is a photo gallery (_is_gallery); read several times per text
    (its shingles, sentences, ledes and agency all ask), so remembered for the last few."""
    return _is_gallery(tuple(paragraphs))


@functools.lru_cache(maxsize=256)
def _is_gallery(paragraphs: tuple[str, ...]) -> bool:
    """A photo gallery: at least GALLERY_CAPTIONS captions one after another, holding at
    least half of the page's words, or a photo page, nothing but captions. A caption is a
    paragraph with a caption mark (_CAPTION: "FILE -", "(AP Photo/Jane Doe)"), counted
    once per mark, as a page may print its captions glued into one paragraph, and long,
    as the agency's captions carrying a lede are; or a paragraph with a credit line under
    it. A gallery's photos follow one another; a report's photos sit between its own
    paragraphs, whatever their share of a page opening's words (queenspost.com's own
    report of Tony Bennett, three AP photos each between two of its paragraphs, their
    captions repeating the AP lede, second validation sample).

    A gallery of an event carries the wire story through its captions: the lede
    follows the photo's description in the agency's caption style ("Haley Reinhart,
    left, and Tony Bennett perform ... Bennett, the eminent stylist ..., died
    Friday."), or opens the page above the photos. Its many photo descriptions are no
    narrative of its own, so the borrowed-sentence rule, which weighs what the match
    covers of a page's own narrative, would keep it apart from the story it
    illustrates (crawler.stories.placement.gallery_carries_lede)."""
    run = longest_run = caption_words = words = tail = 0
    for i, paragraph in enumerate(paragraphs):
        if is_credit_line(paragraph):
            continue
        count = len(paragraph.split())
        words += count
        found = list(_CAPTION.finditer(paragraph))
        marks = len(found)
        if not marks and i + 1 < len(paragraphs) and is_credit_line(paragraphs[i + 1]):
            marks = 1
        if marks:
            run += marks
            longest_run = max(longest_run, run)
            caption_words += count
            tail = _words_after_last_mark(paragraph, found)
        elif count >= MIN_PARAGRAPH_WORDS:  # a paragraph of the page's own between photos
            run = 0
    if not caption_words:
        return False
    photo_page = caption_words == words and tail <= CREDIT_LINE_MAX_WORDS
    return photo_page or (longest_run >= GALLERY_CAPTIONS and 2 * caption_words >= words)


def _words_after_last_mark(paragraph: str, marks: list[re.Match[str]] | None = None) -> int:
    """Words after a paragraph's last caption mark (`marks`: its _CAPTION matches, when
    already found). A photo page's caption ends with its credit ("(AP Photo/Jane Doe,
    File)"); a page whose one paragraph runs on past the credit into sentences of its own
    is a report whose lines lost their breaks, with a photo on top, not a photo page."""
    if marks is None:
        marks = list(_CAPTION.finditer(paragraph))
    return len(paragraph[marks[-1].end() :].split()) if marks else 0


def containment(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def pack(hashes: set[int]) -> Binary:
    return Binary(zlib.compress(array("I", sorted(hashes)).tobytes(), 1))


def unpack(blob: bytes) -> set[int]:
    values = array("I")
    values.frombytes(zlib.decompress(blob))
    return set(values)


def is_wire_copy(paragraphs: Sequence[str], authors: Sequence[str]) -> bool:
    """Carries a wire dateline ("HALIFAX (CP) —") or a wire agency as byline."""
    lede = paragraphs[0] if paragraphs else ""
    return bool(WIRE_MARK.search(lede[:200])) or any(WIRE_AGENCIES.search(a) for a in authors)
