"""Pages that answer 200 without the article: login walls, error pages, consent pages, cut bodies.

Such an answer must never become a version (nor mark the article changed or
reverted): it is recorded as `degraded`, with its reason, and the article is
fetched again soon. The decision rests on evidence, not on a list of phrases:

- the response itself (`response_cut`): fewer bytes than the declared
  Content-Length, or HTML that stops in the middle of an element (neither
  `</body>` nor `</html>`, and the last byte is text or half a tag). None of
  the 181 real pages of the Zyte benchmark lacks both closing tags;
- the article's own history (`judge`): the new text is the stored text's head
  with its tail gone (cut mid-paragraph, mid-sentence, or where the HTML is
  unclosed), or it keeps little of the article and brings text the article
  never had while being shorter (a wall or an error page in the site's frame);
- the site's other pages fetched in the same run (`RunTally`): the same
  paragraph served on `SHARED_PAGES` different articles of one run is nobody's
  text. A wall served for every article is not an edit of each; whatever this
  article's history says, a page made mostly of such text is not the article.

Phrases ("subscribe", "something went wrong", "cookies") are one weak signal:
they only name the kind of a page already judged not to be the article (`hint`).

A real edit that removes text is still a version: paragraphs taken out of the
middle (a legal takedown), or a story shortened to a clean end (whole
paragraphs, the last one ending a sentence, in a complete HTML document). What
is indistinguishable from such an edit by these signals, a wall that keeps the
article's first paragraphs intact and adds nothing, is caught by the same-run
evidence once three articles show it. The existing gate of crawler.version.decide
(extraction kept under half of the words, all of them the article's) still
applies after these rules.

Hand-written because no library judges a page against its own history and its
siblings; it is plain Python over paragraphs, tested directly.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from crawler.text import normalize

SHARED_PAGES = 3  # a paragraph on this many different articles of one run is nobody's text
SHARED_MIN_WORDS = 4  # shorter lines ("Share", "Advertisement") say nothing either way
WALL_SHARE = 0.5  # shared text making half of the page: not the article, history or not
WALL_SHARE_WITH_LOSS = 0.15  # ... or a sixth of it, on a page that also lost the article's text
KEEP_SHARE = 0.5  # a page keeping less than half of the article's words...
NEW_SHARE = 0.2  # ... where a fifth of the page is text the article never had
SHORT_PAGE_WORDS = 200  # an error or wall page is short; a story printed twice need not be
TAIL_MATCH = 0.9  # a head of the article: this share of the new words stands in order in the old
TAIL_LOST = 0.1  # and at least this share of the old words came after the last match

CUT, WALL, ERROR, CONSENT, OTHER = "cut", "wall", "error", "consent", "not-article"
KINDS = (CUT, WALL, ERROR, CONSENT, OTHER)

_CLOSERS = re.compile(rb"</\s*(?:body|html)\s*>", re.IGNORECASE)
# a closing tag, a comment's end or a void element: where a page that never closes its
# <body> may legitimately end; text, half a tag or an opened element may not
_CLOSED_END = re.compile(rb"<(?:/|!|(?:br|hr|img|meta|link|input|wbr)\b|[^>]*/>$)", re.IGNORECASE)
_FULL_STOP = re.compile(r"[.!?…][\"'”’)\]]*$")

# weak signal: names the kind of a page judged on other grounds, never decides
_HINTS: dict[str, tuple[str, ...]] = {
    WALL: (
        "subscribe",
        "subscriber",
        "subscription",
        "sign in",
        "log in",
        "login",
        "register",
        "keep reading",
        "continue reading",
        "premium",
        "paywall",
        "members only",
        "free articles",
        "create an account",
        "create a free account",
    ),
    ERROR: (
        "something went wrong",
        "error",
        "try again",
        "maintenance",
        "temporarily unavailable",
        "service unavailable",
        "page not found",
        "could not be found",
        "we re sorry",
        "oops",
        "bad gateway",
    ),
    CONSENT: (
        "cookie",
        "cookies",
        "consent",
        "accept all",
        "privacy settings",
        "manage preferences",
        "our partners",
        "legitimate interest",
    ),
}


@dataclass(frozen=True)
class Evidence:
    """What is known of one fetch beyond its text.

    `cut`, `unclosed` and `hint` come from the response (the extraction worker);
    `shared` and `title_pages` from the site's other pages of the same run.
    """

    cut: str = ""  # why the response is incomplete, "" when it is not
    unclosed: bool = False  # no </body> or </html>, though the last byte closes a tag
    hint: str = ""  # the kind its phrases suggest (weak: a label only)
    shared: frozenset[str] = field(default_factory=frozenset)  # loose keys on >= SHARED_PAGES
    shared_pages: int = 0  # the most articles of this run any of them stood on
    title_pages: int = 0  # articles of this run with this page's title


class Text(Protocol):
    """A title and paragraphs (crawler.version.decide.Snapshot)."""

    @property
    def title(self) -> str: ...

    @property
    def paragraphs(self) -> tuple[str, ...]: ...


# -- the response -----------------------------------------------------------------


def response_cut(
    body: bytes, headers: Mapping[str, str], flags: Sequence[str] = ()
) -> tuple[str, bool]:
    """(why the response is cut or "", whether its HTML lacks its closing tags).

    Content-Length is compared only when it says more than arrived: Scrapy
    decompresses gzip bodies and keeps the compressed length, which is smaller.
    Scrapy flags `dataloss` on a body whose connection closed early (article
    requests accept such bodies, so that they are recorded as cut).
    """
    if "dataloss" in flags:
        return "the connection closed before the declared body had arrived", False
    declared = (headers.get("content-length") or "").strip()
    if declared.isdigit() and int(declared) > len(body):
        return f"{len(body)} of the {int(declared)} bytes its Content-Length declares", False
    if not body.strip() or _CLOSERS.search(body):
        return "", False
    end = body.rstrip()
    last_tag = end[end.rfind(b"<") :] if end.endswith(b">") else b""
    if last_tag and _CLOSED_END.match(last_tag):
        return "", True  # ends on a closed element: unclosed, maybe by design
    return "the HTML ends mid-element, without </body> or </html>", True


def hint(title: str, paragraphs: Sequence[str]) -> str:
    """The kind of non-article the page's phrases suggest, or "" (a label, never a verdict)."""
    text = " " + " ".join(normalize.loose_form(p) for p in [title, *paragraphs[:40]]) + " "
    scores = {
        kind: sum(text.count(f" {phrase} ") for phrase in phrases)
        for kind, phrases in _HINTS.items()
    }
    best = max(scores, key=lambda kind: scores[kind])
    return best if scores[best] else ""


def kind_of(reason: str) -> str:
    """The kind a degraded reason names (its prefix), for the run's counters."""
    head = reason.split(":", 1)[0].strip()
    return head if head in KINDS else "extraction"


def label(reason: str, evidence: Evidence | None) -> str:
    """A degraded reason from another gate, named by the page's kind when it has one."""
    if evidence is None:
        return reason
    if evidence.cut:
        return f"{CUT}: {evidence.cut}; {reason}"
    return f"{evidence.hint}: {reason}" if evidence.hint else reason


# -- the article's history and its siblings -----------------------------------------


def judge(current: Text | None, new: Text, evidence: Evidence | None) -> str | None:
    """Why this fetch is not the article ("<kind>: <why>"), or None when it is."""
    ev = evidence or Evidence()
    if ev.cut:
        return f"{CUT}: {ev.cut}"
    new_words = _word_count(new.paragraphs)
    if current is None:
        return _first_fetch(new, new_words, ev)
    cut = _lost_tail(current.paragraphs, new.paragraphs, ev.unclosed)
    if cut:
        return f"{CUT}: {cut}"
    old_keys = {normalize.loose_form(p) for p in current.paragraphs}
    shared = _shared_words(new.paragraphs, old_keys, ev)
    kept, novel, old_words = _overlap(current.paragraphs, new.paragraphs)
    lost = kept < KEEP_SHARE * old_words
    if new_words and (
        shared >= WALL_SHARE * new_words
        or (shared >= WALL_SHARE_WITH_LOSS * new_words and kept < (1 - TAIL_LOST) * old_words)
    ):
        return _named(ev, new, f"{shared} of its {new_words} words", ev.shared_pages)
    retitled = normalize.loose_form(new.title) != normalize.loose_form(current.title)
    if retitled and ev.title_pages >= SHARED_PAGES:  # its new title is many articles' title
        return _named(
            ev,
            new,
            f"its title {new.title[:60]!r} (it keeps {kept} of the article's words)",
            ev.title_pages,
        )
    if lost and new_words < old_words and novel >= NEW_SHARE * new_words:
        kind = ev.hint or hint(new.title, new.paragraphs) or OTHER
        return (
            f"{kind}: keeps {kept} of the article's {old_words} words, and {novel} of its "
            f"{new_words} words are new"
        )
    return None


def _first_fetch(new: Text, new_words: int, ev: Evidence) -> str | None:
    """Without history, only the run can tell. A wall is a frame around each article's
    own headline: its text is shared, its title is not. Pages identical in title and
    text are copies of one story (a site may print a wire story under several
    addresses), unless they are short and read like an error or a wall page."""
    shared = _shared_words(new.paragraphs, set(), ev)
    if not new_words or shared < WALL_SHARE * new_words:
        return None
    if ev.title_pages < SHARED_PAGES:
        return _named(ev, new, f"{shared} of its {new_words} words", ev.shared_pages)
    if ev.hint and new_words < SHORT_PAGE_WORDS:
        return _named(ev, new, f"its title and {shared} of its {new_words} words", ev.title_pages)
    return None


def _named(ev: Evidence, new: Text, what: str, pages: int) -> str:
    kind = ev.hint or hint(new.title, new.paragraphs) or WALL
    return f"{kind}: {what} served on {pages} articles of this run"


def _word_count(paragraphs: Iterable[str]) -> int:
    return sum(len(p.split()) for p in paragraphs)


def _shared_words(paragraphs: Sequence[str], own: set[str], ev: Evidence) -> int:
    """Words of the page in paragraphs this run served on several articles, and not its own."""
    if not ev.shared:
        return 0
    total = 0
    for paragraph in paragraphs:
        key = normalize.loose_form(paragraph)
        if key in own:
            continue
        if _key_digest(key) in ev.shared:
            total += len(paragraph.split())
    return total


def _overlap(old: Sequence[str], new: Sequence[str]) -> tuple[int, int, int]:
    """(old words the new text keeps, new words the old text never had, old word count)."""
    old_words = Counter(_words(old))
    new_words = Counter(_words(new))
    kept = sum((old_words & new_words).values())
    novel = sum((new_words - old_words).values())
    return kept, novel, sum(old_words.values())


def _lost_tail(old: Sequence[str], new: Sequence[str], unclosed: bool) -> str:
    """The new text is the old one's head with the tail gone, and does not end cleanly.

    Clean means: the HTML was complete and the text ends on a whole paragraph of
    the article, or on one trimmed to a sentence's end. A story shortened so is
    an edit; one whose last paragraph is an article paragraph's beginning that
    stops mid-sentence, or whose HTML stops unclosed, was cut in transit.
    """
    if not new:
        return ""
    old_words = _words(old)
    new_words = _words(new)
    if not old_words or len(new_words) >= len(old_words):
        return ""
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    matched = sum(b.size for b in blocks)
    if not blocks or matched < TAIL_MATCH * len(new_words):
        return ""
    end = blocks[-1].a + blocks[-1].size
    if len(old_words) - end < TAIL_LOST * len(old_words):
        return ""
    last = normalize.loose_form(new[-1])
    olds = [normalize.loose_form(p) for p in old]
    if last in olds:  # it ends on a whole paragraph of the article
        if not unclosed:
            return ""  # a story shortened to a clean end: an edit
        where = "where the HTML stops unclosed"
    elif any(p.startswith(last) for p in olds) and not _FULL_STOP.search(new[-1].strip()):
        where = "mid-sentence"  # a paragraph of the article, cut short
    elif unclosed:
        where = "where the HTML stops unclosed"
    else:
        return ""  # its last paragraph was edited or trimmed to a sentence's end: an edit
    return f"the text stops {where} after {end} of the article's {len(old_words)} words"


def _words(paragraphs: Sequence[str]) -> list[str]:
    """The text's words, paragraph by paragraph (normalize caches each paragraph's form;
    a whole text joined would fill that cache with one-off entries)."""
    return [word for paragraph in paragraphs for word in normalize.words(paragraph)]


def _key_digest(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


class RunTally:
    """Per run: which paragraphs and titles each site served on which articles.

    Lives where a crawl writes its pages (the pipeline's process: its batches
    arrive there from every extraction worker), so evidence gathered from one
    batch holds for the next. A batch is counted before any of its pages is
    judged. Keys are 8-byte digests; per key at most SHARED_CAP articles are kept.
    """

    SHARED_CAP = 64

    def __init__(self) -> None:
        self._paragraphs: dict[tuple[str, str], set[str]] = {}
        self._titles: dict[tuple[str, str], set[str]] = {}

    def add(self, site: str, article_id: str, title: str, paragraphs: Sequence[str]) -> None:
        for paragraph in paragraphs:
            if len(paragraph.split()) >= SHARED_MIN_WORDS:
                self._note(self._paragraphs, site, normalize.loose_form(paragraph), article_id)
        if title.strip():
            self._note(self._titles, site, normalize.loose_form(title), article_id)

    def _note(self, book: dict[tuple[str, str], set[str]], site: str, key: str, aid: str) -> None:
        ids = book.setdefault((site, _key_digest(key)), set())
        if len(ids) < self.SHARED_CAP:
            ids.add(aid)

    def evidence(
        self, site: str, title: str, paragraphs: Sequence[str], base: Evidence | None
    ) -> Evidence:
        """The page's evidence with what the run's other pages say added."""
        shared: set[str] = set()
        most = 0
        for paragraph in paragraphs:
            digest = _key_digest(normalize.loose_form(paragraph))
            pages = len(self._paragraphs.get((site, digest), ()))
            if pages >= SHARED_PAGES:
                shared.add(digest)
                most = max(most, pages)
        titled = len(self._titles.get((site, _key_digest(normalize.loose_form(title))), ()))
        return replace(
            base or Evidence(), shared=frozenset(shared), shared_pages=most, title_pages=titled
        )
