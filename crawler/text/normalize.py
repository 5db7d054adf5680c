"""Clean extracted text and take the fingerprints that versioning and clustering compare.

Three levels, from strict to loose:
- the stored text: whitespace collapsed, invisible characters removed, repeated
  paragraphs (a lede printed twice) collapsed;
- `content_hash`: quotes and dashes unified too — what users see as "the same text";
- `loose_hash`: only the words, case-folded — two texts that differ in whitespace,
  quote style or punctuation alone are a cosmetic change, never a new version.

Repeated-paragraph removal is done here per document rather than with
trafilatura's `deduplicate=True`, whose cache is process-wide and would make an
article's text depend on which pages the worker saw before (trafilatura#778).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u2060\ufeff\u200c\u200d"), None)
_BREAKING_INVISIBLE = re.compile(r"[\u200b\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
    }
)
_WORD = re.compile(r"\w+", re.UNICODE)


ZERO_WIDTH_SPACE = "\u200b"
# a zero-width space in this share of a text's words (and at least ZERO_WIDTH_DENSE_MIN
# of them) is a disguise, not word breaks
ZERO_WIDTH_DENSE_SHARE = 0.25
ZERO_WIDTH_DENSE_MIN = 5


def zero_width_is_disguise(count: int, words: int) -> bool:
    """Whether `count` zero-width spaces among `words` words hide words rather than
    separate them (zero_width_breaks)."""
    return count >= max(ZERO_WIDTH_DENSE_MIN, ZERO_WIDTH_DENSE_SHARE * words)


def zero_width_breaks(text: str) -> str:
    """Zero-width spaces as a page means them. A few are word breaks: where a line may
    wrap, or where markup stood ("ISIS\u200bmilitants"); extractors drop them and glue
    the words. One inside most words is how a scraper disguises a copy from duplicate
    detection ("re\u200bpairs"): those are nothing, and the words stay whole."""
    count = text.count(ZERO_WIDTH_SPACE)
    if not count:
        return text
    disguise = zero_width_is_disguise(count, len(text.split()))
    return text.replace(ZERO_WIDTH_SPACE, "" if disguise else " ")


def clean_paragraphs(text: str) -> list[str]:
    """Split extracted text into paragraphs, whitespace-cleaned, with repeats dropped."""
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    text = _BREAKING_INVISIBLE.sub(" ", zero_width_breaks(text))
    paragraphs = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return drop_repeated(reflow([p for p in paragraphs if p]))


_SENTENCE_END = tuple('.!?:;"”’)]»“')  # French « » and German „ “ close sentences too
_FULL_STOP = re.compile(r"[.!?][\"”’)\]»“]*$")


def reflow(lines: Sequence[str]) -> list[str]:
    """Join hard-wrapped lines back into their paragraph.

    Some pages break the text every few words, or after every word: a line that
    ends without closing punctuation and is followed by one starting in lower case
    is the same sentence going on. Left split, each fragment counts as a paragraph,
    so a one-word-per-line page has no word 5-grams (it can join no story) and the
    repeat filter drops every second "the".
    """
    if _one_word_per_line(lines):
        return _sentences_from_fragments(lines)
    joined: list[str] = []
    for line in lines:
        if joined and line[0].islower() and not joined[-1].endswith(_SENTENCE_END):
            joined[-1] = f"{joined[-1]} {line}"
        else:
            joined.append(line)
    return joined


def _one_word_per_line(lines: Sequence[str]) -> bool:
    """Most lines one or two words long: the page broke its text after every word, so
    even capitalised words ("Lisa" / "Marie" / "Presley,") are the sentence going on.
    A page's chrome bar has a few such lines, never most of a long page."""
    short = sum(1 for line in lines if len(line.split()) <= 2)
    return len(lines) >= 20 and short >= 0.6 * len(lines)


def _sentences_from_fragments(lines: Sequence[str]) -> list[str]:
    paragraphs: list[str] = []
    words: list[str] = []
    for line in lines:
        words.append(line)
        if _FULL_STOP.search(line):
            paragraphs.append(" ".join(words))
            words = []
    if words:
        paragraphs.append(" ".join(words))
    return paragraphs


def clean_title(title: str | None) -> str:
    return " ".join(clean_paragraphs(title or ""))


REPEAT_MIN_WORDS = 12  # shorter lines that recur are kept: a refrain, a chant, a quoted line
ECHO_SHARE = 0.6  # a lede printed again without its dateline is most of the first copy


def drop_repeated(paragraphs: Sequence[str]) -> list[str]:
    """Keep the first copy of each paragraph; a later copy of a long one is a repeat.

    A page prints its lede twice (a standfirst, then the first paragraph), often
    with a subhead or a photo caption between, and the two copies rarely match
    character for character: a link stripped from one glued two words
    ("ISIS militants" / "ISISmilitants"), quotes or spacing differ, a dateline
    stands before one. Paragraphs are compared by their letters and digits only
    (no spaces, punctuation or case), so those differences vanish; a paragraph
    of REPEAT_MIN_WORDS words or more is a repeat when it matches an earlier one
    that way or is most of it (a copy with or without its dateline). A word
    changed is not a repeat: "four stations" and "six stations" are two facts.

    On purpose, shorter paragraphs are dropped only when they double the line
    just before them: a refrain in a poem, a chant or a one-line quote that an
    article repeats stays each time it is printed (it is the text as written,
    and dropping it would make the repeat invisible to readers of the history).
    Short lines that recur because they are page furniture ("Advertisement")
    are the site's chrome, which `crawler.text.chrome` learns and removes. Paragraphs
    that merely look alike (differing in a number) stay.
    """
    kept: list[str] = []
    kept_forms: list[str] = []
    for paragraph in paragraphs:
        key = loose_form(paragraph)
        if not key:
            continue
        form = key.replace(" ", "")
        if len(key.split()) < REPEAT_MIN_WORDS:
            if kept and loose_form(kept[-1]) == key:
                continue
        elif _repeats(form, kept_forms):
            continue
        kept_forms.append(form)
        kept.append(paragraph)
    return kept


def _repeats(form: str, earlier: list[str]) -> bool:
    """The same letters as an earlier paragraph, or most of it (with or without a dateline)."""
    for other in earlier:
        if len(other) < 40:
            continue
        if form == other:
            return True
        short, long_ = (form, other) if len(form) <= len(other) else (other, form)
        if short in long_ and len(short) >= ECHO_SHARE * len(long_):
            return True
    return False


def unify_marks(text: str) -> str:
    """NFKC with typographic quotes, dashes and ellipses folded to ASCII."""
    return unicodedata.normalize("NFKC", text).translate(_QUOTES)


@functools.lru_cache(maxsize=4096)
def loose_form(text: str) -> str:
    """The words only, case-folded: what remains when punctuation and spacing are ignored.

    Cached: each paragraph of a page is asked for it four times (repeat removal,
    the loose and body hashes, the story index's shingles); in-process, prepare()
    went from 0.93x to 0.89x of trafilatura.extract's time with the cache.
    """
    return " ".join(_WORD.findall(unify_marks(text).casefold()))


def words(text: str) -> list[str]:
    return loose_form(text).split()


def content_hash(title: str, paragraphs: Iterable[str]) -> str:
    body = "\n".join(" ".join(unify_marks(p).split()) for p in paragraphs)
    return _sha256(unify_marks(title).strip() + "\n\n" + body)


def loose_hash(title: str, paragraphs: Iterable[str]) -> str:
    return _sha256(loose_form(title) + "\n\n" + "\n".join(loose_form(p) for p in paragraphs))


def body_hash(paragraphs: Iterable[str]) -> str:
    """Hash of the body alone: exact copies under a new headline share it."""
    return _sha256("\n".join(loose_form(p) for p in paragraphs))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
