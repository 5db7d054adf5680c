"""A version's change in one line, for tables and alerts (from the diff it stores)."""

from __future__ import annotations

from typing import Any

SUMMARY_CHARS = 110


def one_line(change: dict[str, Any]) -> str:
    """What changed, in a line, from the stored diff: the new headline, then the first
    edited sentence ("old → new"), added or removed one; for a first version the
    decision's reason."""
    removed, added = [], []
    for line in (change.get("diff") or "").splitlines():
        if line.startswith(("---", "+++", "@@")):
            continue
        if line.startswith("-") and line[1:].strip():
            removed.append(line[1:].strip())
        elif line.startswith("+") and line[1:].strip():
            added.append(line[1:].strip())
    parts = []
    headline = [line[2:] for line in added if line.startswith("# ")]
    if headline:
        parts.append(f"headline: {_shorten(headline[0], SUMMARY_CHARS // 2)}")
    removed = [line for line in removed if not line.startswith("# ")]
    added = [line for line in added if not line.startswith("# ")]
    if removed and added:
        half = SUMMARY_CHARS // 2
        parts.append(f"{_shorten(removed[0], half)} → {_shorten(added[0], half)}")
    elif added:
        parts.append("+ " + _shorten(added[0], SUMMARY_CHARS))
    elif removed:
        parts.append("- " + _shorten(removed[0], SUMMARY_CHARS))
    return "; ".join(parts) or str(change.get("summary") or "")


def _shorten(text: str, chars: int) -> str:
    """At a word boundary, marked `[...]` (not `…`, which is what a cut table cell shows)."""
    if len(text) <= chars:
        return text
    return text[:chars].rsplit(" ", 1)[0] + " [...]"
