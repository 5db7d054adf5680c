"""One fetched article page through the pipeline: extract → normalise → version → cluster → store.

`prepare` is pure CPU and runs in the extraction worker processes: everything
that costs CPU per page (parsing, extraction, hashing, shingling, compressing
the raw bytes) happens there, so the crawling process only fetches and writes.
`persist_batch` does the database work for a batch of prepared pages: one read
of the current state, one insert of the new versions, one insert of the new
articles and one bulk update of the others, one story placement pass. The Scrapy item pipeline only hands pages to
these.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from pymongo.database import Database

from crawler import urls
from crawler.pipeline import identity
from crawler.stages import StageClock
from crawler.store import ArticleStore, Page, SaveResult, compress_raw
from crawler.stories import Member, StoryIndex, follow_merges, shingle_hashes
from crawler.stories.agency import agency_of, photo_agency_of
from crawler.text import chrome, nonarticle, normalize
from crawler.text.dates import parse_date
from crawler.text.extract import EXTRACTOR_VERSION, ExtractionError, extract
from crawler.types import Doc
from crawler.version.decide import CHANGED, DEGRADED, NEW, Snapshot


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
    language: str | None = None  # the site's language (config), for pages that state none
    download_s: float = 0.0  # Scrapy's download latency: the fetch stage's share
    flags: list[str] = field(default_factory=list)  # Scrapy's response flags ("dataloss")

    def to_dict(self) -> Doc:
        return dict(self.__dict__)


@dataclass
class Prepared:
    page: Page | None
    error: str | None = None
    title: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, in the worker


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
    """Extraction and normalisation: CPU only, no I/O (runs in a worker process)."""
    started = time.perf_counter()
    try:
        extracted = extract(fetched.body, fetched.final_url)
    except ExtractionError as exc:
        return Prepared(None, f"{fetched.final_url}: {exc}")
    extracted_at = time.perf_counter()
    url = identity_url(fetched, extracted.canonical_url)
    cut, unclosed = nonarticle.response_cut(fetched.body, fetched.headers, fetched.flags)
    evidence = nonarticle.Evidence(
        cut=cut, unclosed=unclosed, hint=nonarticle.hint(extracted.title, extracted.paragraphs)
    )
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
        language=extracted.language or fetched.language,
        raw_zstd=compress_raw(fetched.body),  # the raw bytes go back to the crawler compressed
        raw_size=len(fetched.body),
        shingles=shingle_hashes(extracted.paragraphs),
        body_hash=normalize.body_hash(extracted.paragraphs),
        http={
            "status": fetched.status,
            "final_url": fetched.final_url,
            **{
                k: v
                for k, v in fetched.headers.items()
                if k in ("etag", "last-modified", "content-type")
            },
            "headers": sorted(fetched.headers.items()),  # every response header (WARC export)
        },
        extractor={
            "name": "trafilatura+jsonld",
            "version": EXTRACTOR_VERSION,
            "body_source": extracted.body_source,
        },
        run_id=fetched.run_id,
        agency=agency_of(extracted.paragraphs, extracted.authors, extracted.credits),
        photo_agency=photo_agency_of(
            extracted.paragraphs, extracted.photo_credits, extracted.captions
        ),
        evidence=evidence,
    )
    timings = {"extract": extracted_at - started, "normalise": time.perf_counter() - extracted_at}
    return Prepared(page, title=extracted.title, timings=timings)


def persist(db: Database[Doc], page: Page, now: datetime) -> Outcome:
    """Version one page and, when its text is new, place it in a story."""
    return persist_batch(db, [page], now)[0]


def persist_batch(
    db: Database[Doc],
    pages: list[Page],
    now: datetime,
    clock: StageClock | None = None,
    chrome_book: chrome.ChromeBook | None = None,
    story_index: StoryIndex | None = None,
    run_tally: nonarticle.RunTally | None = None,
) -> list[Outcome]:
    """Version a batch of pages and place the new texts in stories; one outcome per page, in order.

    Idempotent like the single-page path (a retried batch stores nothing twice):
    the store's unique indexes decide, not the batching. `chrome_book` and
    `story_index` carry what a crawl has read (the sites' chrome, the common
    anchors) across its batches, `run_tally` what its pages had in common (the
    same wall served for many articles: crawler.text.nonarticle); without one, the
    batch is its own evidence.
    """
    clock = clock or StageClock()
    book = chrome_book or chrome.ChromeBook(db)  # a caller's own book is saved by the caller
    index = story_index or StoryIndex(db)
    placed: dict[int, str] = {}
    with clock.timing("version"):
        strip_chrome(book, pages, now)
        identity.continue_renamed(db, pages)  # a slug rewritten: the same article goes on
        add_run_evidence(run_tally or nonarticle.RunTally(), pages)

    def place(indexes: list[int]) -> dict[str, str]:
        with clock.timing("cluster"):
            members = [_member(pages[i]) for i in indexes]
            assignments = index.assign_many(members, now, record_articles=False)
        placed.update((i, a.story_id) for i, a in zip(indexes, assignments, strict=True))
        return {pages[i].article_id: placed[i] for i in indexes}

    store = ArticleStore(db, current_view=book.view)
    results: list[SaveResult] = store.save_snapshots(pages, clock, place)
    if placed:  # the articles name their stories now: the second look (crawler.stories.merge)
        followed = follow_merges(db, placed.values())
        placed.update((i, followed[s]) for i, s in list(placed.items()) if s in followed)
    # stored one by one after a conflict, or finished after an earlier write of theirs
    # stopped before their story: placed, and their articles updated, here
    rest = [
        i
        for i, result in enumerate(results)
        if i not in placed
        and (result.outcome in (NEW, CHANGED) or (result.unplaced and result.outcome != DEGRADED))
    ]
    if rest:
        with clock.timing("cluster"):
            members = [_member(pages[i], rejoin=results[i].unplaced) for i in rest]
            assignments = index.assign_many(members, now)
        placed.update((i, a.story_id) for i, a in zip(rest, assignments, strict=True))
    return [
        Outcome(
            outcome=result.outcome,
            article_id=result.article_id,
            version=result.version,
            detail=result.decision.reason,
            change_kinds=result.decision.change_kinds,
            story_id=placed.get(i),
        )
        for i, result in enumerate(results)
    ]


def add_run_evidence(tally: nonarticle.RunTally, pages: list[Page]) -> None:
    """Count the batch's texts into the run's tally, then give each page what the run says."""
    for page in pages:
        tally.add(page.site, page.article_id, page.snapshot.title, page.snapshot.paragraphs)
    for page in pages:
        page.evidence = tally.evidence(
            page.site, page.snapshot.title, page.snapshot.paragraphs, page.evidence
        )


def strip_chrome(book: chrome.ChromeBook, pages: list[Page], now: datetime) -> None:
    """Learn each site's chrome from the batch, then take it out of every page's text."""
    shapes = [[chrome.line_shape(p) for p in page.snapshot.paragraphs] for page in pages]
    for page, page_shapes in zip(pages, shapes, strict=True):
        book.model(page.site).learn(page.snapshot.paragraphs, page.fetched_at, page_shapes)
    for page, page_shapes in zip(pages, shapes, strict=True):
        kept = book.model(page.site).strip(page.snapshot.paragraphs, page_shapes)
        if kept != list(page.snapshot.paragraphs):
            own = set(kept)
            removed = [p for p in page.snapshot.paragraphs if p not in own]
            trimmed = len(removed) != len(page.snapshot.paragraphs) - len(kept)
            page.snapshot = Snapshot.of(page.snapshot.title, kept)
            # chrome lines are short and their own: taking their shingles out of the
            # worker's set costs a fraction of shingling the whole text again (a block
            # trimmed of a chrome part is shingled again)
            page.shingles = (
                page.shingles - shingle_hashes(removed)
                if page.shingles is not None and not trimmed
                else shingle_hashes(kept)
            )
            page.body_hash = normalize.body_hash(kept)
    book.save_due(now)


def _member(page: Page, rejoin: bool = False) -> Member:
    return Member(
        rejoin=rejoin,
        article_id=page.article_id,
        site=page.site,
        url=page.url,
        title=page.snapshot.title,
        paragraphs=list(page.snapshot.paragraphs),
        published=parse_date(page.published),
        seen_at=page.fetched_at,
        authors=page.authors,
        hashes=page.shingles,
        body_hash=page.body_hash,
        agency=page.agency,
        photo_agency=page.photo_agency,
    )
