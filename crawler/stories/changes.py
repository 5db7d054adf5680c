"""A story member's entry, which copy is the origin, and what each site changed against it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawler.stories.agency import agency_of, photo_agency_of
from crawler.stories.placement import Member
from crawler.stories.shingles import is_wire_copy
from crawler.text import normalize
from crawler.types import Doc


def member_entry(member: Member, similarity: float, now: datetime) -> Doc:
    entry: Doc = {
        "article_id": member.article_id,
        "site": member.site,
        "url": member.url,
        "title": member.title,
        "similarity": round(similarity, 3),
        "joined_at": now,
        "published": member.published,
        "wire_dateline": is_wire_copy(member.paragraphs, member.authors),
        "agency": member.agency or agency_of(member.paragraphs, member.authors),
        "photo_agency": member.photo_agency or photo_agency_of(member.paragraphs),
    }
    if member.label is not None:
        entry["label"] = member.label
    return entry


def origin_rank(member: Doc) -> tuple[int, Any, Any]:
    """The originating copy: a wire-datelined copy first, then the earliest published."""
    published = member.get("published") or member.get("joined_at")
    return (0 if member.get("wire_dateline") else 1, published, member.get("joined_at"))


def local_changes(origin: tuple[str, list[str]], copy: tuple[str, list[str]]) -> Doc:
    """What a site changed compared with the originating copy, paragraph by paragraph."""
    origin_title, origin_paras = origin
    title, paras = copy
    if list(paras) == list(origin_paras):  # an exact copy (the usual case): only the headline
        new_headline = normalize.loose_form(title) != normalize.loose_form(origin_title)
        return {
            "new_headline": new_headline,
            "headline": title if new_headline else None,
            "added_intro": False,
            "intro": [],
            "added_paragraphs": 0,
            "removed_paragraphs": 0,
            "reordered": False,
        }
    origin_keys = [_para_key(p) for p in origin_paras]
    copy_keys = [_para_key(p) for p in paras]
    origin_set, copy_set = set(origin_keys), set(copy_keys)
    leading_added = 0
    for key in copy_keys:
        if key in origin_set or _near_any(key, origin_keys):
            break
        leading_added += 1
    added = [
        p
        for p, k in zip(paras, copy_keys, strict=False)
        if k not in origin_set and not _near_any(k, origin_keys)
    ]
    removed = [k for k in origin_keys if k not in copy_set and not _near_any(k, copy_keys)]
    return {
        "new_headline": normalize.loose_form(title) != normalize.loose_form(origin_title),
        "headline": title
        if normalize.loose_form(title) != normalize.loose_form(origin_title)
        else None,
        "added_intro": leading_added > 0,
        "intro": paras[:leading_added] if leading_added else [],
        "added_paragraphs": len(added),
        "removed_paragraphs": len(removed),
        "reordered": _reordered(origin_keys, copy_keys),
    }


def _para_key(paragraph: str) -> str:
    return normalize.loose_form(paragraph)


def _near_any(key: str, others: list[str]) -> bool:
    """Same paragraph with small edits (a dropped dateline, glued words)."""
    words = set(key.split())
    if len(words) < 5:
        return False
    return any(len(words & set(o.split())) >= 0.8 * len(words) for o in others)


def _reordered(origin_keys: list[str], copy_keys: list[str]) -> bool:
    common = [k for k in copy_keys if k in set(origin_keys)]
    order = [origin_keys.index(k) for k in common]
    return order != sorted(order)
