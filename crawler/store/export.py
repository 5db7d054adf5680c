"""Export the archive: WARC 1.1 for web-archiving tools, JSON lines for analysis.

WARC (through warcio, the library web archives use): per version, a `response`
record holding the page's raw bytes as fetched (WARC-Target-URI the URL they came
from, WARC-Date the version's `fetched_at`, the HTTP status and headers stored with
it), then a `metadata` record (`application/json`) with the extracted fields and the
change, tied to the response by `WARC-Concurrent-To`. Every record is its own gzip
member, so tools can seek to any record (CDXJ indexes, replay).

Headers: versions stored since this export exists keep the response headers
(`http.headers`). Older versions kept only the status, content type and validators:
their header block is rebuilt from those (`HTTP/1.1 <status>`, Content-Type, ETag,
Last-Modified), and marked `WARC-Newscrawl-Headers: synthesized`. The stored bytes
are the decoded body (Scrapy undoes gzip and chunking), so the headers describing the
transfer (Content-Encoding, Transfer-Encoding, Content-Length) are replaced by the
body's own Content-Length.

Streaming: versions are read oldest first six hours of `fetched_at` at a time (the
range is indexed), fifty documents a cursor batch: this process holds fifty pages
whatever the store's size, and the server sorts six hours of versions (the embedded
store sorts a query's matches in memory, so a sort over the whole collection is never
asked for). Fetching the hour's ids first and the documents by `_id: {$in}` was
measured slower: that `$in` costs the embedded store a read of the collection.
An export stopped half-way is resumed with `--since` the last `fetched_at` it printed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from io import BytesIO
from typing import IO, Any

from crawler.store.versions import decompress_raw
from crawler.types import Doc

WINDOW = timedelta(
    hours=6
)  # each a query: 120 for a month (one an hour: 6 s of 15 at 1,500 versions)
BATCH = 50  # versions a cursor batch: memory holds this many pages at a time
TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
SYNTHESIZED = "synthesized"
SOFTWARE = "newscrawl export"
METADATA_FIELDS = (
    "article_id",
    "version",
    "site",
    "url",
    "run_id",
    "title",
    "text",
    "authors",
    "published",
    "modified",
    "language",
    "word_count",
    "content_hash",
    "loose_hash",
    "change",
    "extractor",
)


@dataclass
class Window:
    """What to export: versions fetched in [since, until) of one site or all."""

    since: datetime | None = None
    until: datetime | None = None
    site: str | None = None


@dataclass
class Exported:
    versions: int = 0
    articles: int = 0
    stories: int = 0
    last_fetched_at: datetime | None = None  # resume with --since this


Progress = Callable[[Exported], None]


def versions(
    db: Any, window: Window, now: datetime, projection: Doc | None = None
) -> Iterator[Doc]:
    """The window's versions, oldest first, in constant memory (see the module docstring)."""
    start = window.since or oldest(db.versions, "fetched_at", now)
    end = window.until or now + timedelta(seconds=1)
    if start is None:
        return
    while start < end:
        stop = min(start + WINDOW, end)
        hour = db.versions.find({"fetched_at": {"$gte": start, "$lt": stop}}, projection)
        for version in hour.sort([("fetched_at", 1), ("_id", 1)]).batch_size(BATCH):
            if not window.site or version.get("site") == window.site:
                yield version
        start = stop


def oldest(collection: Any, field: str, now: datetime) -> datetime | None:
    """The time of the oldest document (to the hour), by bisection over indexed ranges:
    asking for a sort would make the embedded store sort the whole collection."""
    if collection.find_one({field: {"$lt": now + timedelta(seconds=1)}}, {"_id": 1}) is None:
        return None
    low, high = now - timedelta(days=1), now
    while collection.find_one({field: {"$lt": low}}, {"_id": 1}) is not None:
        low, high = now - (now - low) * 4, low  # some are older: look further back
        if low.year < 1971:
            break
    while high - low > WINDOW:  # the oldest is in [low, high)
        middle = low + (high - low) / 2
        if collection.find_one({field: {"$lt": middle}}, {"_id": 1}) is not None:
            high = middle
        else:
            low = middle
    return low


# -- WARC ---------------------------------------------------------------------------------


def warc_date(value: datetime) -> str:
    """WARC 1.1 dates carry microseconds (W3C-ISO8601, UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def http_block(version: Doc, body_length: int) -> tuple[str, list[tuple[str, str]], bool]:
    """(status line, headers, synthesized?) of a version's response, as stored."""
    http = version.get("http") or {}
    status = int(http.get("status") or 200)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    stored = http.get("headers")
    if stored:
        headers = [(str(k), str(v)) for k, v in stored if str(k).lower() not in TRANSFER_HEADERS]
    else:
        known = (
            ("content-type", "Content-Type"),
            ("etag", "ETag"),
            ("last-modified", "Last-Modified"),
        )
        headers = [(name, str(http[key])) for key, name in known if http.get(key)]
    headers.append(("Content-Length", str(body_length)))
    return f"{status} {phrase}", headers, not stored


def write_warc(
    db: Any, out: IO[bytes], window: Window, now: datetime, progress: Progress | None = None
) -> Exported:
    """Write the window's versions to `out` as gzipped WARC 1.1 records."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    info = {
        "software": SOFTWARE,
        "format": "WARC File Format 1.1",
        "description": "versioned article snapshots: a response and a metadata record per version",
        "site": window.site or "all",
        "since": warc_date(window.since) if window.since else "",
        "until": warc_date(window.until) if window.until else "",
    }
    writer.write_record(writer.create_warcinfo_record(getattr(out, "name", ""), info))
    done = Exported()
    for version in versions(db, window, now):
        body = decompress_raw(version["raw"]["zstd"]) if version.get("raw") else b""
        status, headers, synthesized = http_block(version, len(body))
        uri = (version.get("http") or {}).get("final_url") or version["url"]
        warc_headers = {
            "WARC-Date": warc_date(version["fetched_at"]),
            "WARC-Newscrawl-Version": f"{version['article_id']}:{version['version']}",
        }
        if synthesized:
            warc_headers["WARC-Newscrawl-Headers"] = SYNTHESIZED
        response = writer.create_warc_record(
            uri,
            "response",
            payload=BytesIO(body),
            length=len(body),
            warc_headers_dict=warc_headers,
            http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
        )
        writer.write_record(response)
        metadata = json.dumps(metadata_of(version), default=_jsonable, ensure_ascii=False).encode()
        writer.write_record(
            writer.create_warc_record(
                uri,
                "metadata",
                payload=BytesIO(metadata),
                length=len(metadata),
                warc_content_type="application/json",
                warc_headers_dict={
                    "WARC-Date": warc_headers["WARC-Date"],
                    "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
                },
            )
        )
        done.versions += 1
        done.last_fetched_at = version["fetched_at"]
        if progress is not None:
            progress(done)
    return done


def metadata_of(version: Doc) -> Doc:
    return {key: version.get(key) for key in METADATA_FIELDS}


# -- JSON lines ---------------------------------------------------------------------------


def write_jsonl(
    db: Any,
    out: IO[str],
    window: Window,
    now: datetime,
    raw: bool = False,
    progress: Progress | None = None,
) -> Exported:
    """One JSON object a line, each with `type`: the window's versions (oldest first; the
    raw page as `raw_base64` only when `raw`), then the articles changed and the stories
    joined in the window."""
    done = Exported()
    projection = None if raw else {"raw": 0}
    for version in versions(db, window, now, projection):
        doc = {k: v for k, v in version.items() if k != "raw"}
        if raw and version.get("raw"):
            doc["raw_base64"] = base64.b64encode(decompress_raw(version["raw"]["zstd"])).decode()
        _line(out, "version", doc)
        done.versions += 1
        done.last_fetched_at = version["fetched_at"]
        if progress is not None:
            progress(done)
    for article in _changed(db.articles, "last_changed", window, now):
        if not window.site or article.get("site") == window.site:
            _line(out, "article", article)
            done.articles += 1
    for story in _changed(db.stories, "last_joined", window, now):
        if not window.site or window.site in (story.get("sites") or []):
            _line(out, "story", story)
            done.stories += 1
    return done


def _changed(collection: Any, field: str, window: Window, now: datetime) -> Iterator[Doc]:
    """Documents whose `field` falls in the window, read by indexed ranges one hour at a time
    (the site is tested by the caller: given it, the embedded store would pick the site's
    index and read all of the site's documents for every hour)."""
    start = window.since or oldest(collection, field, now)
    end = window.until or now + timedelta(seconds=1)
    while start is not None and start < end:
        stop = min(start + WINDOW, end)
        yield from collection.find({field: {"$gte": start, "$lt": stop}})
        start = stop


def _line(out: IO[str], kind: str, doc: Doc) -> None:
    out.write(json.dumps({"type": kind, **doc}, default=_jsonable, ensure_ascii=False))
    out.write("\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, (bytes, bytearray)):
        return None
    return str(value)
