"""Is a fetched article a real change, or noise? And if it changed, how?

Pure functions over the current state and the new snapshot: no database and
no clock, so every rule here is tested directly. The store applies the
decision; see `store.ArticleStore.save_snapshot`.

Outcomes (the `fetches.outcome` values):
- new        first snapshot of an article
- unchanged  same title and text
- cosmetic   differs only in whitespace, quote style or punctuation
- degraded   the extraction failed or lost most of the text, or the page is not the
             article (a wall, an error or consent page, a cut body: crawler.text.nonarticle):
             recorded with its reason, not stored
- reverted   the text returned to an earlier version (A -> B -> A): no new version
- changed    a real edit: a new immutable version
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from crawler.text import nonarticle, normalize

DEGRADED_WORD_SHARE = 0.5
MIN_ARTICLE_WORDS = 25

NEW, UNCHANGED, COSMETIC, DEGRADED, REVERTED, CHANGED = (
    "new",
    "unchanged",
    "cosmetic",
    "degraded",
    "reverted",
    "changed",
)


@dataclass(frozen=True)
class Snapshot:
    """The comparable part of one fetch of an article."""

    title: str
    paragraphs: tuple[str, ...]
    content_hash: str
    loose_hash: str

    @classmethod
    def of(cls, title: str, paragraphs: list[str] | tuple[str, ...]) -> Snapshot:
        paras = tuple(paragraphs)
        return cls(
            title=title,
            paragraphs=paras,
            content_hash=normalize.content_hash(title, paras),
            loose_hash=normalize.loose_hash(title, paras),
        )

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


@dataclass
class Decision:
    outcome: str
    reason: str
    change_kinds: list[str] = field(default_factory=list)
    diff: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def makes_version(self) -> bool:
        return self.outcome in (NEW, CHANGED)


def decide(
    current: Snapshot | None,
    new: Snapshot,
    known_hashes: frozenset[str] = frozenset(),
    evidence: nonarticle.Evidence | None = None,
) -> Decision:
    """Compare a new snapshot with the article's current state.

    `known_hashes` are the content hashes of the article's earlier versions: a
    return to one of them is a revert, not a new version. `evidence` is what the
    response and the site's other pages of the same run say (crawler.text.nonarticle):
    a page that is not the article is degraded before any comparison counts.
    """
    if evidence is not None and evidence.cut:
        return Decision(DEGRADED, nonarticle.judge(current, new, evidence) or evidence.cut)
    if new.word_count < MIN_ARTICLE_WORDS and (
        current is None or current.word_count >= MIN_ARTICLE_WORDS
    ):
        return Decision(
            DEGRADED, nonarticle.label(f"extraction gave {new.word_count} words", evidence)
        )
    if current is None:
        not_article = nonarticle.judge(None, new, evidence)
        if not_article:
            return Decision(DEGRADED, not_article)
        return Decision(NEW, "first snapshot")
    if new.content_hash == current.content_hash:
        return Decision(UNCHANGED, "same content hash")
    if new.loose_hash == current.loose_hash:
        return Decision(COSMETIC, "same words; only spacing, quotes or punctuation differ")
    not_article = nonarticle.judge(current, new, evidence)
    if not_article:
        return Decision(DEGRADED, not_article)
    if new.word_count < DEGRADED_WORD_SHARE * current.word_count and _is_prefix_loss(current, new):
        return Decision(
            DEGRADED,
            nonarticle.label(
                f"extraction kept {new.word_count} of {current.word_count} words", evidence
            ),
        )
    if new.content_hash in known_hashes:
        return Decision(REVERTED, "content returned to an earlier version")
    kinds, stats = classify(current, new)
    return Decision(CHANGED, ", ".join(kinds), kinds, readable_diff(current, new), stats)


def _is_prefix_loss(current: Snapshot, new: Snapshot) -> bool:
    """Most of the new text already stood in the old one: text was lost, not rewritten."""
    old_words = set(normalize.words(current.text))
    new_words = normalize.words(new.text)
    return bool(new_words) and sum(w in old_words for w in new_words) >= 0.8 * len(new_words)


_NUMBER = re.compile(r"^\d[\d.,]*$")


def classify(old: Snapshot, new: Snapshot) -> tuple[list[str], dict[str, Any]]:
    """Kinds of change: headline, lede, body_added, body_removed, correction, body_edited."""
    kinds: list[str] = []
    if normalize.loose_form(old.title) != normalize.loose_form(new.title):
        kinds.append("headline")
    old_keys = [normalize.loose_form(p) for p in old.paragraphs]
    new_keys = [normalize.loose_form(p) for p in new.paragraphs]
    if old_keys[:1] != new_keys[:1]:
        kinds.append("lede")
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    added = removed = edited = 0
    corrections: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "insert":
            added += j2 - j1
        elif tag == "delete":
            removed += i2 - i1
        elif tag == "replace":
            pairs = min(i2 - i1, j2 - j1)
            edited += pairs
            added += max(0, (j2 - j1) - pairs)
            removed += max(0, (i2 - i1) - pairs)
            for k in range(pairs):
                corrections += _corrected_tokens(old.paragraphs[i1 + k], new.paragraphs[j1 + k])
    if added:
        kinds.append("body_added")
    if removed:
        kinds.append("body_removed")
    if corrections:
        kinds.append("correction")
    elif edited and "lede" not in kinds:
        kinds.append("body_edited")
    stats = {
        "paragraphs_added": added,
        "paragraphs_removed": removed,
        "paragraphs_edited": edited,
        "corrected": corrections[:20],
        "words_before": old.word_count,
        "words_after": new.word_count,
    }
    return kinds or ["body_edited"], stats


def _corrected_tokens(old: str, new: str) -> list[str]:
    """Small in-place replacements of numbers or names ("12" -> "14", "Smith" -> "Smyth")."""
    a, b = old.split(), new.split()
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    changes = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag != "replace" or (i2 - i1) > 3 or (j2 - j1) > 3:
            return []
        before, after = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        core = after.strip(".,;:!?\"'()")
        if _NUMBER.match(core) or core[:1].isupper() or _only_digits_differ(before, after):
            changes.append(f"{before} -> {after}")
        else:
            return []
    return changes


def _only_digits_differ(before: str, after: str) -> bool:
    """ "60-year-old" -> "61-year-old", "'80s" -> "'81s": a number corrected inside a word."""
    return _DIGIT.search(after) is not None and _DIGIT.sub("0", before) == _DIGIT.sub("0", after)


_DIGIT = re.compile(r"\d+")


def readable_diff(old: Snapshot, new: Snapshot) -> str:
    """A unified diff, one sentence a line, headline first: readable in mongosh."""
    before = [f"# {old.title}", *_sentences(old.paragraphs)]
    after = [f"# {new.title}", *_sentences(new.paragraphs)]
    lines = difflib.unified_diff(before, after, "before", "after", n=1, lineterm="")
    return "\n".join(lines)


def word_diff(old_text: str, new_text: str) -> list[tuple[str, str]]:
    """Word-level diff as (op, text) pairs with op in '=', '-', '+'."""
    a, b = old_text.split(" "), new_text.split(" ")
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("=", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return out


_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")


def _sentences(paragraphs: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    for paragraph in paragraphs:
        lines.extend(_SENTENCE_END.split(paragraph))
        lines.append("")
    return lines[:-1]
