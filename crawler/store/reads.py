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

A condition on a field outside the index is applied here, not in the query:
given one, the embedded server picks the wrong index (measured on 86k runs: the
latest finished run of one site took 100 ms with `finished_at: {$ne: None}` in
the query against 15 ms without it and the test applied to the newest few).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo.collection import Collection

from crawler.types import Doc

RECENT = (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=31))
BIG_STORIES = (64, 8, 2)  # story sizes: most stories are a single article
LOOK_AHEAD = 4  # latest(accept=...): the newest documents tested first
# ids per `{_id: {$in: ids}}` when there may be thousands: the embedded store's cost
# grows with (ids x documents matched), measured for 4,000 matching ids: 20.7 s in one
# update_many, 3.1 s in batches of 500, 0.58 s in batches of 50
IN_BATCH = 50


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

    def read(selected: Doc) -> list[Doc]:
        return list(collection.find(selected).sort(list(sort)).limit(limit))

    # ascending, documents without the field sort first, and no range holds them
    missing = read(_bounded(query, field, None)) if direction > 0 and bounds else []
    for bound in bounds:
        docs = missing + read(_bounded(query, field, {operator: bound}))
        if len(docs) >= limit:
            return docs[:limit]
    return read(query)


def newest(
    collection: Collection[Doc],
    query: Doc,
    field: str,
    limit: int,
    now: datetime,
) -> list[Doc]:
    """The `limit` documents with the latest `field` (a time): the last hour's first (a busy
    site's 12 runs rather than its day's 288), then the last day's, week's, month's."""
    bounds = [now - span for span in RECENT]
    return first_sorted(collection, query, [(field, -1)], limit, bounds)


def latest(
    collection: Collection[Doc],
    query: Doc,
    field: str,
    now: datetime,
    accept: Callable[[Doc], bool] | None = None,
) -> Doc | None:
    """The one document with the latest `field` that `accept`s (any, without it), or None.

    The newest few are read and tested, then eight times as many, until one passes or
    the query has no more: the newest is nearly always it (a site's last run is
    finished unless one is running now)."""
    limit = 1 if accept is None else LOOK_AHEAD
    while True:
        found = newest(collection, query, field, limit, now)
        for doc in found:
            if accept is None or accept(doc):
                return doc
        if len(found) < limit:
            return None
        limit *= 8


def in_batches(items: Sequence[Any], size: int = IN_BATCH) -> Iterator[Sequence[Any]]:
    """`items` in slices of `size` (IN_BATCH: for `$in` lists that may hold thousands)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _bounded(query: Doc, field: str, condition: Any) -> Doc:
    if field in query:
        return {"$and": [query, {field: condition}]}
    return {**query, field: condition}


def newest_first(
    collection: Collection[Doc],
    query: Doc,
    field: str,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    projection: Doc | None = None,
) -> Iterator[Doc]:
    """Every document of `query` with `field` in [since, until), newest first, read one
    time window at a time (the last hour, day, week, month, then the rest): the embedded
    store sorts each window in memory, so the caller that stops after 50 documents has
    read only the windows they came from, never the whole collection."""
    upper = until or now
    edges = [now - span for span in RECENT]
    lowers: list[datetime | None] = [edge for edge in edges if edge < upper]
    lowers.append(None)
    for lower in lowers:
        if since is not None and (lower is None or lower < since):
            lower = since
        condition: Doc = {"$lt": upper}
        if lower is not None:
            condition["$gte"] = lower
        window = collection.find(_bounded(query, field, condition), projection)
        yield from window.sort(field, -1)
        if lower is None or lower == since:
            return
        upper = lower


def last_run(db: Any, site: str, now: datetime) -> Doc | None:
    """The site's last run: the latest started that has ended (it has `finished_at`). The one
    meaning of "last run" for `newscrawl status` and the service's metrics: a run queued on a
    Scrapyd node or running now is not the last run yet."""
    return latest(db.crawl_runs, {"site": site}, "started_at", now, _ended)


def _ended(run: Doc) -> bool:
    return run.get("finished_at") is not None
