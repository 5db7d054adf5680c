"""`newscrawl cluster FILE.jsonl`: deduplicate an export with the pipeline's own clustering.

Input lines: {"id", "text"} with optional "title", "url", "site" (when absent: the
URL's host, without "www."), "published", "authors" and "credits" (names from the
page's JSON-LD: publisher, sourceOrganization).
Output lines: {"id", "story", "agency", "agency_from"} in input order, where "story" is
the id of the first document of that story, "agency" the news agency the story names
(crawler.stories.agency: AP, CP, Reuters, AFP, dpa or unknown) and "agency_from" the
kind of evidence that named it ("text", "photo credits" or null). Runs in a scratch
database that is dropped afterwards, so it never touches the crawl data.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from crawler.clock import utcnow
from crawler.store import connect, ensure_indexes
from crawler.store.reads import in_batches
from crawler.stories import Member, StoryIndex
from crawler.stories.agency import UNKNOWN, agency_of, photo_agency_of
from crawler.text import normalize
from crawler.text.dates import parse_date


class InputError(ValueError):
    pass


def read_documents(handle: IO[str], source: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}:{number}: not JSON: {exc.msg}") from None
        if not isinstance(doc, dict) or "id" not in doc or not isinstance(doc.get("text"), str):
            raise InputError(f'{source}:{number}: each line needs "id" and a "text" string')
        yield doc


BATCH = 64  # documents placed per index pass (one lookup, one bulk write)


def cluster_documents(docs: list[dict[str, Any]], uri: str) -> list[dict[str, Any]]:
    """Cluster documents in a scratch database; return [{"id", "story"}] in input order."""
    db = connect(uri, f"newscrawl_cluster_{uuid.uuid4().hex[:12]}")
    try:
        ensure_indexes(db)
        index = StoryIndex(db)
        now = utcnow()
        members = []
        for position, doc in enumerate(docs):
            article_id = hashlib.sha1(f"{position}:{doc['id']}".encode()).hexdigest()
            paragraphs = normalize.clean_paragraphs(doc["text"])
            authors = _names(doc.get("authors"))
            member = Member(
                article_id=article_id,
                site=str(doc.get("site") or _host(doc.get("url"))),
                url=str(doc.get("url") or ""),
                title=normalize.clean_title(doc.get("title") or ""),
                paragraphs=paragraphs,
                published=parse_date(doc.get("published"))
                if isinstance(doc.get("published"), str)
                else None,
                seen_at=now,
                label=str(doc["id"]),
                authors=authors,
                agency=agency_of(paragraphs, authors, _names(doc.get("credits"))),
                photo_agency=photo_agency_of(paragraphs),
            )
            members.append(member)
        # the story index reads an originating copy's text from `articles`, as in a crawl
        if members:
            db.articles.insert_many(
                [
                    {"_id": m.article_id, "title": m.title, "text": "\n".join(m.paragraphs)}
                    for m in members
                ]
            )
        for batch in in_batches(members, BATCH):
            index.assign_many(list(batch), now)
        # read at the end: a later copy may have merged two stories placed before it
        story_of = {
            doc["_id"]: doc["story_id"] for doc in db.story_members.find({}, {"story_id": 1})
        }
        story_ids = [story_of.get(m.article_id, m.article_id) for m in members]
        named = {doc["_id"]: doc for doc in db.stories.find({}, {"agency": 1, "agency_from": 1})}
        story_label: dict[str, Any] = {}
        out = []
        for doc, story_id in zip(docs, story_ids, strict=True):
            story_label.setdefault(story_id, doc["id"])
            out.append(
                {
                    "id": doc["id"],
                    "story": story_label[story_id],
                    "agency": named.get(story_id, {}).get("agency") or UNKNOWN,
                    "agency_from": named.get(story_id, {}).get("agency_from"),
                }
            )
        return out
    finally:
        db.client.drop_database(db.name)
        db.client.close()


def _host(url: Any) -> str:
    """The site of a document given only its URL: its host, "www." taken off (a story
    carried by two hosts is carried by two sites: crawler.stories.agency)."""
    if not isinstance(url, str) or not url:
        return ""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:  # "http://[bad": no host to name; the document is clustered all the same
        return ""
    return host.lower().removeprefix("www.")


def _names(value: Any) -> list[str]:
    """A list of names from an optional input field (a string or a list of strings)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def run(path: str, uri: str) -> int:
    if path == "-":
        docs = list(read_documents(sys.stdin, "<stdin>"))
    else:
        with open(path, encoding="utf-8") as handle:
            docs = list(read_documents(handle, path))
    for row in cluster_documents(docs, uri):
        print(json.dumps(row, ensure_ascii=False))
    return 0
