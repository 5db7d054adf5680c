"""Which story a text joins: candidates verified by measured overlap, decided deterministically.

Verification (measured on the labelled real wire copies of bench/wire_set.py;
the figures are in docs/design/matching.md, section 5):
- shingles leave quoted speech out (crawler.stories.shingles): independent
  reports quote the same statement word for word, copies share the agency's
  own sentences;
- containment (shared / smaller set) of SAME_STORY_CONTAINMENT: real copies —
  write-thrus, regional edits, copies trimmed to a few paragraphs — share
  0.2 to 0.5 of their narrative shingles, real independent reports almost
  never more than 0.1; and what they share is more than a borrowed sentence or
  passage, weighed by how much of each text it is and where it sits
  (more_than_a_sentence: a copy keeps the wire's sentences together, from its
  top, a report lifts one or two into a narrative of its own);
- or a lede reworded in a few places (word-sequence ratio SAME_LEDE) with at
  least LEDE_MIN_CONTAINMENT in common: an agency's later take that kept the
  lede and rewrote the body;
- or, for a photo gallery, the other text's lede found in it (gallery_carries_lede);
  two galleries only when they open alike (they share photos, not text).
Machine-reworded ("spun") copies share 1-5 % of their 5-grams with what they
reword; no lexical measure tells them from independent reports.

Plain functions of their inputs: no database here (crawler.stories.index
finds the candidates).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from crawler.stories.shingles import (
    anchors_of,
    containment,
    is_gallery,
    lede_shingles,
    lede_similarity,
    ledes_of,
    sentence_shingles,
)

MIN_SHARED_ANCHORS = 1
SAME_STORY_CONTAINMENT = 0.2
SAME_LEDE = 0.75  # a lede this close (word-sequence ratio) ...
LEDE_MIN_CONTAINMENT = 0.05  # ... and this much in common: a write-thru of the same copy
LEDE_MIN_ANCHORS = (
    2  # ... and this many anchors: one shared stock phrase is not worth a lede comparison
)
# What two texts share is weighed by how much of each it is and where it sits
# (more_than_a_sentence):
# - this many shared sentences make a copy wherever they sit
PASSAGE_SENTENCES = 3
# - this many make a copy when they are most (MOSTLY_SHARED) of the smaller text, or
#   sit where a copy keeps them (_kept_in_place): together in one text, and in each
#   among its first OPENING_SENTENCES (under the lines a page opening prints above the
#   wire's text: a deck, a timestamp, a caption printed twice, a byline, a reworded
#   lede) or running to its end from the other's lede, or at the same place in both; a
#   paragraph lifted into a report of its own sits anywhere (newsday.com's Pelé piece:
#   at its 7th sentence)
SHARED_SENTENCES = 2
OPENING_SENTENCES = 5
# - one sentence makes a copy when it is most of the smaller text (a caption page, an
#   early take) and the larger text opens as the smaller one does (_larger_opens_with_it:
#   the larger's first OPENING_WORDS words are in the smaller, or one of the first
#   ALIGNED_LEDES ledes is the same lede in both, at the same place), or it is at least
#   OWN_FRACTION of the larger text too (a short take of its own): a report with a
#   narrative of its own that prints the lede in a photo caption is no wire copy
OPENING_WORDS = 12
ALIGNED_LEDES = 2
OWN_FRACTION = 1 / 3
SENTENCE_SHARED = 0.5  # a sentence counts as shared from this share of its shingles (in part below)
# a sentence found this far (of SENTENCE_SHARED: a quarter of its shingles, a reworded
# sentence) marks where the shared part sits (SharedSentences.first, .second)
SENTENCE_PLACED = 0.5
# a shared sentence counts in proportion to its length up to this many shingles (12
# words): a short one ("He died in his hometown of New York.") is stock phrasing any
# report of the event may have, and is less sign of a copy than a long one
SENTENCE_FULL_SHINGLES = 8
MOSTLY_SHARED = 0.5
MAX_CANDIDATES = 50
BRIDGE_CONTAINMENT = 0.1  # two stories a copy bridges merge when their texts share this much
REDUNDANT_CONTAINMENT = 0.9  # a copy this close to an indexed one is not indexed itself


@dataclass
class Member:
    article_id: str
    site: str
    url: str
    title: str
    paragraphs: list[str]
    published: datetime | None
    seen_at: datetime
    authors: list[str] = field(default_factory=list)
    label: str | None = None  # a caller's own id (the cluster command's input ids)
    hashes: set[int] | None = None  # shingle_hashes(paragraphs), when already computed
    body_hash: str | None = None  # normalize.body_hash(paragraphs), when already computed
    ledes: list[str] | None = None  # ledes_of(paragraphs), when already computed
    agency: str | None = None  # crawler.stories.agency.agency_of, when already computed
    photo_agency: str | None = None  # crawler.stories.agency.photo_agency_of, likewise
    sentences: list[set[int]] | None = None  # sentence_shingles(paragraphs), computed on need
    gallery: bool | None = None  # shingles.is_gallery(paragraphs), computed on need
    # placed before, but the story may not list it yet (a write that stopped half-way):
    # its indexed story is joined again (a no-op when it is listed) and recorded
    rejoin: bool = False


@dataclass
class Assignment:
    story_id: str
    similarity: float
    joined: bool  # True: an existing story; False: a new one


@dataclass
class Candidate:
    """An indexed text that shares anchors with the one being placed."""

    article_id: str
    story_id: str | None
    hashes: set[int]
    indexed: bool = True
    anchors: list[int] = field(default_factory=list)
    body_hash: str = ""
    ledes: list[str] = field(default_factory=list)
    same_first_lede: bool = False  # set by verification: it opens as the text being placed
    sentences: list[set[int]] | None = None  # sentence_shingles of its text, read on need
    gallery: bool = False  # shingles.is_gallery of its text, kept in its fingerprint
    story_size: int = 1  # texts in its story, read for galleries only (_glues)


# reads an indexed text's sentences (crawler.stories.index: from `articles`)
SentenceSource = Callable[[Candidate], list[set[int]]]


def verified_matches(
    member: Member,
    anchors: list[int],
    candidates: dict[str, Candidate],
    sentences_of: SentenceSource | None = None,
) -> list[tuple[float, Candidate]]:
    """Candidates sharing enough anchors, verified by containment over the full shingle sets.

    `sentences_of` reads a candidate's sentences when the placed text's own do not
    show more than one shared sentence: the rule then reads the same whichever of the
    two texts arrives first (a passage is one long sentence in one copy and three
    short ones in the other)."""
    hashes = member.hashes or set()
    if not hashes:
        return []
    need = MIN_SHARED_ANCHORS if len(anchors) >= 2 * MIN_SHARED_ANCHORS else 1
    mine = set(anchors)
    shared = sorted(
        (
            (len(mine & c.hashes), c)
            for c in candidates.values()
            if c.article_id != member.article_id
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )
    member_is_gallery = _is_gallery(member)
    matches = []
    through_gallery: set[str] = set()  # matched only because a gallery carries the lede
    for count, candidate in shared[:MAX_CANDIDATES]:
        if count < need:
            break
        score = containment(hashes, candidate.hashes)
        lede_gate = (
            score >= LEDE_MIN_CONTAINMENT
            and _shared_anchors(member, mine, candidate) >= LEDE_MIN_ANCHORS
        )
        # two galleries share photos, not text: two reports carrying the same agency
        # photos with their long captions are no copies of each other, unless they open
        # alike
        if member_is_gallery and candidate.gallery:
            same = lede_gate and _same_first_lede(member, candidate)
        else:
            same = (
                score >= SAME_STORY_CONTAINMENT
                and more_than_a_sentence(member, candidate, score, sentences_of)
            ) or (lede_gate and same_lede(member, candidate, score, sentences_of))
        if same:
            matches.append((score, candidate))
        elif lede_gate and gallery_carries_lede(member, candidate):
            matches.append((score, candidate))
            if candidate.gallery:
                through_gallery.add(candidate.article_id)
    matches = [(s, c) for s, c in matches if not _glues(c, matches, through_gallery)]
    for _, candidate in matches:  # candidates are shared by a batch's texts: set each time
        candidate.same_first_lede = len(matches) > 1 and _same_first_lede(member, candidate)
    return matches


def _glues(
    candidate: Candidate, matches: list[tuple[float, Candidate]], through_gallery: set[str]
) -> bool:
    """Joining this gallery's story would glue stories together: the text matched the
    gallery only (it carries the text's lede), and the gallery's story holds other texts
    that this one does not match. A "week in pictures" slideshow carries the ledes of a
    dozen unrelated stories; crawled first, each of them would otherwise join it."""
    if candidate.article_id not in through_gallery or candidate.story_size <= 1:
        return False
    return not any(
        other.story_id == candidate.story_id and other.article_id not in through_gallery
        for _, other in matches
    )


def _shared_anchors(member: Member, mine: set[int], candidate: Candidate) -> int:
    """Anchors of either text that are in both: each text's anchors hold a sample of its
    own lede, so counting only the placed text's made the lede rule's gate depend on
    which of the two arrived first."""
    if not candidate.anchors:  # a looked-up text brings its stored anchors along
        candidate.anchors = anchors_of(candidate.hashes, candidate.ledes, candidate.gallery)
    theirs = set(candidate.anchors)
    return len((mine | theirs) & (member.hashes or set()) & candidate.hashes)


def _same_first_lede(member: Member, candidate: Candidate) -> bool:
    return lede_similarity((member.ledes or [])[:1], candidate.ledes[:1], SAME_LEDE) >= SAME_LEDE


def same_lede(
    member: Member, candidate: Candidate, score: float, sentences_of: SentenceSource | None = None
) -> bool:
    """The lede rule: both texts open with the same lede, reworded in a few places (an
    agency's write-thru), or a lede of one is among the other's first ones and more than
    that one sentence is shared (a copy with a local intro on top). A sentence lifted into
    the middle of a text written otherwise is not a lede kept (more_than_a_sentence)."""
    mine, theirs = member.ledes or [], candidate.ledes
    if _same_first_lede(member, candidate):
        return True
    return lede_similarity(mine, theirs, SAME_LEDE) >= SAME_LEDE and more_than_a_sentence(
        member, candidate, score, sentences_of
    )


def gallery_carries_lede(member: Member, candidate: Candidate) -> bool:
    """One of the two texts is a photo gallery (shingles.is_gallery) and carries the
    other's lede: at least SENTENCE_SHARED of the shingles of its first lede.

    A gallery's captions describe its photos; where it is a gallery of the event, the
    agency's caption style puts the story's lede after the description, or the page
    opens with it above the photos. The lede is what it shares with the story, and
    the rest is no narrative of its own, so the sentence rule (more_than_a_sentence)
    cannot tell it from a report that borrowed one sentence. A report is no gallery:
    its own sentences are its text, and that rule still decides for it. Either order
    of arrival: a candidate's gallery flag is kept in its fingerprint."""
    if _is_gallery(member) and candidate.ledes:
        return _carries(member.hashes or set(), candidate.ledes[0])
    if candidate.gallery and member.ledes:
        return _carries(candidate.hashes, member.ledes[0])
    return False


def _is_gallery(member: Member) -> bool:
    if member.gallery is None:
        member.gallery = is_gallery(member.paragraphs)
    return member.gallery


def _carries(hashes: set[int], lede: str) -> bool:
    wanted = lede_shingles(lede)
    return bool(wanted) and len(wanted & hashes) >= SENTENCE_SHARED * len(wanted)


def more_than_a_sentence(
    member: Member, candidate: Candidate, score: float, sentences_of: SentenceSource | None = None
) -> bool:
    """Whether what two texts share is more than a borrowed sentence or passage.

    A station's own report that lifts a wire sentence, or one paragraph of two, can reach
    the containment threshold on that alone, while a gallery page carrying the wire's
    lede under its captions, or an agency's one-paragraph early take, shares one sentence
    too, and has next to nothing of its own. So what is shared is weighed by how much of
    each text it is and where it sits (the issue's rule: how much of each page's own
    narrative the match covers):
    - PASSAGE_SENTENCES shared sentences or more make a copy (a short sentence counts in
      proportion to its length, SENTENCE_FULL_SHINGLES; a half-found one in part);
    - SHARED_SENTENCES make a copy when they are most of the smaller text's narrative,
      or when they sit where a copy keeps them (_kept_in_place: together, and near the
      top of each text or running to its end from the other's lede, or at the same
      place in both): a copy keeps the wire's order from the top (a write-thru rewords
      the first sentences, a page prints a header line above), a paragraph lifted into
      a report of its own sits wherever the report put it (newsday.com's Pelé piece);
    - one shared sentence makes a copy when it is most of the smaller text (a caption
      page: a photo's description and the wire's lede; an early take) and the larger
      text opens as the smaller one does (_larger_opens_with_it), or is a short take
      itself, with at least OWN_FRACTION of it shared. A report with a narrative of its
      own that printed the wire's lede inside its top photo caption (yahoo.com's Buffett
      piece) is no copy of the wire's caption pages.
    Shared sentences are counted in the member's text, and in the candidate's (read by
    `sentences_of`) unless the member's already show a passage: a passage can be one
    long sentence in one copy and three short ones in the other. Captions and teasers are
    no narrative (shingles.narrative_paragraphs).
    """
    counts = [_sentences_shared(_sentences(member), candidate.hashes)]
    if counts[0].shared < PASSAGE_SENTENCES and sentences_of is not None:
        counts.append(_sentences_shared(sentences_of(candidate), member.hashes or set()))
    shared = max(count.shared for count in counts)
    mostly = score >= MOSTLY_SHARED or any(count.mostly for count in counts)
    if shared >= PASSAGE_SENTENCES:
        return True
    if shared >= SHARED_SENTENCES:
        return mostly or _kept_in_place(counts)
    if not mostly:
        return False
    if _larger_opens_with_it(member, candidate):
        return True
    larger = _larger_text_counts(member, candidate, counts)
    return larger is not None and all(c.shared >= OWN_FRACTION * c.total for c in larger)


def _kept_in_place(counts: list[SharedSentences]) -> bool:
    """Two shared sentences sit where a copy keeps them, not where a report lifted them:
    together in at least one of the texts (a copy's sentences follow each other; a
    report with the lede in its top caption and one more wire sentence far down is no
    copy), and, in each text, near its top or running to its end from the other's lede
    (_kept_from_top), or at the same place in both (a write-thru that rewrote its first
    sentences and kept the next)."""
    if not any(count.together for count in counts):
        return False
    if len(counts) == 1:  # the other text's sentences not read (an in-flight check)
        if counts[0].near_top or counts[0].to_the_end:
            return True
    elif _kept_from_top(counts[0], counts[1]) and _kept_from_top(counts[1], counts[0]):
        return True
    firsts = [count.first for count in counts if count.first is not None]
    return len(firsts) == 2 and abs(firsts[0] - firsts[1]) <= 1


def _kept_from_top(count: SharedSentences, other: SharedSentences) -> bool:
    """What this text shares starts near its top, or runs to its end from the other text's
    lede: a trimmed copy under lines of the site's own that the extractor kept (a sign-up
    pitch, the weather) keeps the wire from its lede; a report that closes with a
    paragraph lifted from further down the wire is no copy (newsday.com's Pelé piece, had
    it put the paragraph last)."""
    return count.near_top or (count.to_the_end and other.first == 0)


def _larger_text_counts(
    member: Member, candidate: Candidate, counts: list[SharedSentences]
) -> list[SharedSentences] | None:
    """The larger text's count of the two, both counts when the texts are the same size
    (_larger_sides); None when a larger text's sentences are not at hand: the
    candidate's text was not read (no `sentences_of`), or its stored article is gone or
    has no text (`sentences_of` gives no sentences). A text of no known sentences has
    none shared, not "a third of them shared" (0 >= 0): unread, it joined whatever
    one-sentence page was most of the smaller text."""
    member_larger, candidate_larger = _larger_sides(member, candidate)
    larger = [counts[0]] if member_larger else []
    if candidate_larger:
        if len(counts) < 2:
            return None
        larger.append(counts[1])
    return larger if all(count.total > 0 for count in larger) else None


def _larger_sides(member: Member, candidate: Candidate) -> tuple[bool, bool]:
    """Whether the member's text, and whether the candidate's, is the larger of the two
    (by shingles): both when they are the same size. Which one was indexed first must
    not decide which is "the larger": it did, and two texts of the same size joined in
    one order of arrival and not in the other."""
    mine, theirs = len(member.hashes or ()), len(candidate.hashes)
    return mine >= theirs, theirs >= mine


@dataclass
class SharedSentences:
    """What one text shares with the other, counted in its own sentences, and where that
    sits in it (more_than_a_sentence weighs the counts of both texts)."""

    shared: float  # sentences found in the other text, a short or half-found one in part
    total: float  # the text's narrative sentences, a short one in part
    first: int | None  # the first sentence found, in part at least (a reworded one)
    second: int | None  # the next one found
    last_unfound: int  # the last sentence not found (-1: none)

    @property
    def near_top(self) -> bool:
        """What is shared starts among the text's first OPENING_SENTENCES sentences."""
        return self.first is not None and self.first < OPENING_SENTENCES

    @property
    def to_the_end(self) -> bool:
        """Every sentence from the first shared one to the text's end is shared."""
        return self.first is not None and self.last_unfound < self.first

    @property
    def together(self) -> bool:
        """The first two shared sentences have at most one sentence between them (true
        when fewer than two are found: one long sentence holds what is shared)."""
        return self.first is None or self.second is None or self.second - self.first <= 2

    @property
    def mostly(self) -> bool:
        """A whole sentence shared that is at least MOSTLY_SHARED of the text's narrative: a
        caption page's narrative is the wire's lede and a sentence of its own, where
        containment is low because the lede was reworded a little."""
        return self.shared >= 1.0 and self.shared >= MOSTLY_SHARED * self.total


def _sentences_shared(sentences: list[set[int]], other: set[int]) -> SharedSentences:
    """How many of these sentences are in the other text. A sentence counts as shared
    from SENTENCE_SHARED of its shingles, and in proportion below that: an early take
    whose desk reworded half of a sentence still shares that half."""
    shared = total = 0.0
    found_at: list[int] = []
    last_unfound = -1
    for index, sentence in enumerate(sentences):
        weight = min(1.0, len(sentence) / SENTENCE_FULL_SHINGLES)
        found = min(1.0, len(sentence & other) / (SENTENCE_SHARED * len(sentence)))
        total += weight
        shared += weight * found
        if found >= SENTENCE_PLACED:
            found_at.append(index)
        else:
            last_unfound = index
    first = found_at[0] if found_at else None
    second = found_at[1] if len(found_at) > 1 else None
    return SharedSentences(shared, total, first, second, last_unfound)


def _larger_opens_with_it(member: Member, candidate: Candidate) -> bool:
    """The larger of the two texts opens as the smaller one does: its first lede's opening
    words (OPENING_WORDS) are in the smaller text (a caption page of the wire: a photo's
    description, then the wire's lede), or a lede of the smaller text is the larger's
    lede at the same place, reworded in a few places at most (ALIGNED_LEDES: a caption
    page whose lede the site reworded, then the wire's second sentence). Texts of the
    same size are each the larger (_larger_sides)."""
    mine, theirs = _ledes(member), candidate.ledes
    if any(
        lede_similarity([a], [b], SAME_LEDE) >= SAME_LEDE
        for a, b in zip(mine[:ALIGNED_LEDES], theirs[:ALIGNED_LEDES], strict=False)
    ):
        return True
    member_larger, candidate_larger = _larger_sides(member, candidate)
    if candidate_larger and _carries(member.hashes or set(), _opening(candidate.ledes)):
        return True
    return member_larger and _carries(candidate.hashes, _opening(_ledes(member)))


def _sentences(member: Member) -> list[set[int]]:
    if member.sentences is None:
        member.sentences = sentence_shingles(member.paragraphs)
    return member.sentences


def _ledes(member: Member) -> list[str]:
    if member.ledes is None:
        member.ledes = ledes_of(member.paragraphs)
    return member.ledes


def _opening(ledes: list[str]) -> str:
    return " ".join(ledes[0].split()[:OPENING_WORDS]) if ledes else ""


def adds_nothing(member: Member, matches: list[tuple[float, Candidate]]) -> bool:
    """Nearly all of this copy is in an indexed copy at least as long: no need to index it too."""
    hashes = member.hashes or set()
    return any(
        c.indexed and score >= REDUNDANT_CONTAINMENT and len(hashes) <= len(c.hashes)
        for score, c in matches
    )


def choose_story(article_id: str, matches: list[tuple[float, Candidate]]) -> tuple[str, float]:
    """Deterministic: the smallest story id among the verified matches, else the smallest article id.

    Matches that open with this text's lede come first: a page carrying little
    but a wire lede verifies against the wire's story and against a page that
    lifted that sentence into its own report; it is a copy of the one it opens like.
    """
    if not matches:
        return article_id, 1.0
    best = max(score for score, _ in matches)
    opening = [(s, c) for s, c in matches if c.same_first_lede and c.story_id]
    with_story = [c.story_id for _, c in opening or matches if c.story_id]
    if with_story:
        return min(with_story), best
    return min([article_id] + [c.article_id for _, c in matches]), best


def bridged_stories(
    story_id: str, matches: list[tuple[float, Candidate]], member: Member | None = None
) -> list[str]:
    """Other stories this copy verified against that are the same story as `story_id`.

    A copy that verifies against two stories bridges them (a lede-and-captions page
    and the full copy, each placed before the other was known). A bridge alone is
    not enough: a roundup page carrying two unrelated wire items verifies against
    both. So the two stories' matched texts must also share BRIDGE_CONTAINMENT
    between themselves (what independent reports of one event almost never reach,
    and half of what a gallery page shares with its full copy), or the copy must not
    carry the tops of both, as a roundup does. And the bridging copy must be more
    than one sentence of narrative (_bridge).
    """
    ours = [c for _, c in matches if c.story_id == story_id]
    others: dict[str, list[Candidate]] = {}
    for _, candidate in matches:
        if candidate.story_id and candidate.story_id != story_id:
            others.setdefault(candidate.story_id, []).append(candidate)
    return sorted(
        other
        for other, theirs in others.items()
        if any(_bridge(a, b, member) for a in ours for b in theirs)
    )


def _carries_both_ledes(a: Candidate, b: Candidate, member: Member) -> bool:
    """The copy carries the first lede of both texts: a roundup or briefs page prints the
    top of each item it carries. A write-thru that arrives after its early take and a
    photo page of its new top verifies against both, and carries the photo page's lede
    but not the early take's, which it rewrote."""
    mine = member.hashes or set()
    return all(bool(c.ledes) and _carries(mine, c.ledes[0]) for c in (a, b))


def _bridge(a: Candidate, b: Candidate, member: Member | None) -> bool:
    """Texts of two stories a copy matched are one story: they share BRIDGE_CONTAINMENT,
    or the copy does not carry both their first ledes (_carries_both_ledes: a roundup
    does); and the copy has more narrative than one sentence. A page carrying only a
    wire lede verifies against the wire story and against a report that lifted that
    lede; what it shares with each says nothing about the rest of either."""
    if containment(a.hashes, b.hashes) < BRIDGE_CONTAINMENT and (
        member is None or _carries_both_ledes(a, b, member)
    ):
        return False
    if member is None:
        return True
    return len(_sentences(member)) >= SHARED_SENTENCES
