"""Sorted reads that stay cheap as a collection grows for months, on any server.

The embedded store (secantusdb) uses an index to select documents but never to
order them: `find(q).sort(f).limit(n)` reads every document matching `q` and
sorts them in memory. Measured there: `articles.find({}).sort("_id").limit(1)`
takes 11 s at 600k articles; the latest run of one site among 86k runs (20 sites,
60 days) takes 160 ms, and 4 ms once the query bounds `started_at` (a range on
an indexed field is answered from the index). So these reads first ask for a
range of the first sort field, and widen it only when it holds fewer than
`limit` documents. The answer is the plain sort's: every document outside the
range sorts after every document inside it. On mongod, which walks the index
in order, the extra bound costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo.collection import Collection

Doc = dict[str, Any]

RECENT = (timedelta(days=1), timedelta(days=7), timedelta(days=31))
BIG_STORIES = (64, 8, 2)  # story sizes: most stories are a single article


def first_sorted(
    collection: Collection[Doc],
    query: Doc,
    sort: Sequence[tuple[str, int]],
    limit: int,
    bounds: Sequence[Any],
) -> list[Doc]:
    """The first `limit` documents in `sort` order, read through ranges of the first sort
    field (at least each of `bounds` when it sorts descending, at most when ascending)
    before the whole of `query`."""
    field, direction = sort[0]
    operator = "$gte" if direction < 0 else "$lte"
    for bound in [*bounds, None]:
        ranged = query if bound is None else _bounded(query, field, {operator: bound})
        docs = list(collection.find(ranged).sort(list(sort)).limit(limit))
        if len(docs) >= limit or bound is None:
            return docs
    raise AssertionError("unreachable: the last bound is None")


def newest(
    collection: Collection[Doc],
    query: Doc,
    field: str,
    limit: int,
    now: datetime,
) -> list[Doc]:
    """The `limit` documents with the latest `field` (a time), the last day's first."""
    bounds = [now - span for span in RECENT]
    return first_sorted(collection, query, [(field, -1)], limit, bounds)


def latest(collection: Collection[Doc], query: Doc, field: str, now: datetime) -> Doc | None:
    """The one document with the latest `field`, or None."""
    found = newest(collection, query, field, 1, now)
    return found[0] if found else None


def _bounded(query: Doc, field: str, condition: Doc) -> Doc:
    if field in query:
        return {"$and": [query, {field: condition}]}
    return {**query, field: condition}
