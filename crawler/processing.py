"""One fetched article page through the pipeline: extract → normalise → version → cluster → store.

`prepare` is pure CPU (it can run in a worker process); `persist` does the
database work. The Scrapy item pipeline only hands pages to these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.database import Database

from crawler import urls
from crawler.clustering import Member, StoryIndex
from crawler.extract import EXTRACTOR_VERSION, ExtractionError, extract
from crawler.store import ArticleStore, Page, SaveResult
from crawler.versioning import CHANGED, NEW, Snapshot

Doc = dict[str, Any]


@dataclass
class FetchedPage:
    """What the spider hands over: the response and why it was fetched."""

    site: str
    url: str  # as requested
    final_url: str  # after redirects
    body: bytes
    fetched_at: datetime
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = "new"
    run_id: str | None = None
    allowed_domains: list[str] = field(default_factory=list)

    def to_dict(self) -> Doc:
        return dict(self.__dict__)


@dataclass
class Prepared:
    page: Page | None
    error: str | None = None
    title: str = ""


@dataclass
class Outcome:
    outcome: str
    article_id: str | None = None
    version: int | None = None
    story_id: str | None = None
    detail: str | None = None
    change_kinds: list[str] = field(default_factory=list)


def identity_url(fetched: FetchedPage, canonical: str | None) -> str:
    """The page's own canonical URL when it stays on the site, else where we landed."""
    if canonical and urls.in_allowed_domains(
        canonical, fetched.allowed_domains or [urls.host_port(fetched.final_url)]
    ):
        return canonical
    return fetched.final_url


def prepare(fetched: FetchedPage) -> Prepared:
    """Extraction and normalisation: CPU only, no I/O."""
    try:
        extracted = extract(fetched.body, fetched.final_url)
    except ExtractionError as exc:
        return Prepared(None, f"{fetched.final_url}: {exc}")
    url = identity_url(fetched, extracted.canonical_url)
    aliases = sorted({urls.url_key(u) for u in (fetched.url, fetched.final_url, url)})
    page = Page(
        article_id=urls.article_id(url),
        url=url,
        site=fetched.site,
        fetched_at=fetched.fetched_at,
        snapshot=Snapshot.of(extracted.title, extracted.paragraphs),
        aliases=aliases,
        authors=extracted.authors,
        published=extracted.published,
        modified=extracted.modified,
        language=extracted.language,
        raw_html=fetched.body,
        http={
            "status": fetched.status,
            "final_url": fetched.final_url,
            **{
                k: v
                for k, v in fetched.headers.items()
                if k in ("etag", "last-modified", "content-type")
            },
        },
        extractor={
            "name": "trafilatura+jsonld",
            "version": EXTRACTOR_VERSION,
            "body_source": extracted.body_source,
        },
        run_id=fetched.run_id,
    )
    return Prepared(page, title=extracted.title)


def persist(db: Database[Doc], page: Page, now: datetime) -> Outcome:
    """Version the page and, when its text is new, place it in a story."""
    result: SaveResult = ArticleStore(db).save_snapshot(page)
    outcome = Outcome(
        outcome=result.outcome,
        article_id=result.article_id,
        version=result.version,
        detail=result.decision.reason,
        change_kinds=result.decision.change_kinds,
    )
    if result.outcome in (NEW, CHANGED):
        member = Member(
            article_id=page.article_id,
            site=page.site,
            url=page.url,
            title=page.snapshot.title,
            paragraphs=list(page.snapshot.paragraphs),
            published=_parse_iso(page.published),
            seen_at=page.fetched_at,
            authors=page.authors,
        )
        outcome.story_id = StoryIndex(db).assign(member, now).story_id
    return outcome


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    from crawler.discovery import parse_date

    return parse_date(value)
