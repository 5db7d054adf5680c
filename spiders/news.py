"""The one generic spider: a site's feeds, sitemaps and listings → article pages.

    scrapy crawl news -a site=valley-gazette [-a config=PATH] [-a recheck=1]

Run that way, as a Scrapyd job (crawler.service.dispatch, which passes the config
itself as `config_text` and the run id it recorded) or by `newscrawl crawl`
(crawler.run.runner), the run around the spider is crawler.run.lifecycle's: the Scrapy
extension that takes the site's lease, records the run and judges its end.

Scrapy glue only: which URL to fetch and why is decided by crawler.crawl.frontier,
parsing by crawler.crawl.discovery, and what a page means by crawler.pipeline.processing (via
the item pipeline).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import scrapy
from pymongo.errors import PyMongoError
from scrapy import signals
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import urls
from crawler.clock import Clock, utcnow
from crawler.config import Site
from crawler.crawl import discovery, frontier
from crawler.crawl.ledger import (
    ARTICLE_FETCHED,
    PIPELINE_MISSING,
    SourceState,
    SourceStates,
    new_run_id,
)
from crawler.crawl.middleware import PrivateAddressRefused
from crawler.pipeline.context import RunContext
from crawler.pipeline.processing import FetchedPage
from crawler.pipeline.workers import ExtractionPool
from crawler.run import jobargs
from crawler.run.lifecycle import RunLifecycle
from crawler.run.outcomes import LIFECYCLE_MISSING
from crawler.store import ArticleStore, open_database

log = logging.getLogger(__name__)

KNOWN_LOOKUP_CHUNK = 100


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(
        self,
        site: str,
        config: str | None = None,
        recheck: Any = False,
        trigger: str = "manual",
        run_id: str | None = None,
        clock: Clock | None = None,
        config_text: str | None = None,
        extraction_pool: ExtractionPool | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # newscrawl crawl passes its clock; `scrapy crawl news` and a Scrapyd job cannot pass
        # one (their arguments are strings): for them this spider is the command line, the
        # edge where the wall clock is read
        self.clock: Clock = clock or utcnow
        # the process's extraction workers when the runner made them (crawler.run.runner);
        # None: the item pipeline makes its own for this crawl
        self.extraction_pool = extraction_pool
        # a Scrapyd job's arguments are checked on the node (crawler.run.jobargs)
        extra = dict(kwargs, clock=clock, extraction_pool=extraction_pool)
        settings_file = jobargs.job_config(site, config, config_text, extra)
        self.site: Site = settings_file.site(site)
        self.site_user_agent = settings_file.user_agent_of(self.site)
        self.recheck = str(recheck).lower() in ("1", "true", "yes")
        self.trigger = trigger
        self.now = self.clock()
        # the run, as the item pipeline, the run's lifecycle and the runner share it
        # (crawler.pipeline.context): made here, once, and read by them as `crawler.spider.run`
        self.run = RunContext.start(
            self.site,
            run_id or new_run_id(self.site.name, self.now),
            trigger,
            self.now,
            self.clock,
            open_database(),  # a client: it connects in its own threads, later
        )
        self.articles = ArticleStore(self.run.db)
        self.sources = SourceStates(self.run.db)
        self.plan = frontier.CrawlPlan(
            max_age=self.site.max_age,
            max_articles=self.site.max_articles,
            recheck=self.recheck,
        )
        # bounded discovery: each source once, capped child sitemaps and entries
        self.budget = frontier.SourceBudget(
            max_sitemaps=self.site.max_sitemaps, max_entries=self.site.max_entries
        )
        self._seen_sources: dict[str, dict[str, Any]] = {}  # stored when the crawl ends
        self._parents: dict[str, str] = {}  # child sitemap -> the index that listed it
        self.allowed_domains = self.site.domains

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # the crawl's counters are Scrapy stats, which exist once the spider opens
        crawler.signals.connect(spider._count_in_crawl_stats, signal=signals.spider_opened)
        polite = spider.site.politeness
        settings = crawler.settings
        if not settings.frozen:  # per-site politeness (Scrapy >= 2.11 applies settings after this)
            settings.set("DOWNLOAD_DELAY", polite.delay, priority="spider")
            settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", polite.concurrency, priority="spider")
            settings.set("AUTOTHROTTLE_ENABLED", polite.autothrottle, priority="spider")
            settings.set("DOWNLOAD_TIMEOUT", polite.timeout, priority="spider")
            # sent with every request; robots.txt is matched against the same one
            settings.set("USER_AGENT", spider.site_user_agent, priority="spider")
            timeout = spider.site.crawl_timeout.total_seconds()
            settings.set("CLOSESPIDER_TIMEOUT", timeout, priority="spider")
        return spider

    def _count_in_crawl_stats(self, spider: Any = None) -> None:
        self.run.ledger.use_stats(self.crawler.stats)

    # -- start -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        # without the lifecycle, no lease and no run record: crawls of the site would overlap
        if self.crawler.get_extension(RunLifecycle) is None:
            log.error(
                "%s: the extension crawler.run.lifecycle.RunLifecycle is not enabled "
                "(Scrapy was started without crawler.settings); nothing is crawled",
                self.site.name,
            )
            raise CloseSpider(LIFECYCLE_MISSING)
        if not self._store_pipeline_enabled():
            raise CloseSpider(PIPELINE_MISSING)
        for request in await self.start_requests_list():
            yield request

    def _store_pipeline_enabled(self) -> bool:
        """Without crawler.pipeline.item_pipeline.StorePipeline a crawl would fetch every page and store
        none (Scrapy started without our settings): refuse before the first request."""
        from crawler.pipeline.item_pipeline import StorePipeline

        if self.crawler.get_item_pipeline(StorePipeline) is not None:
            return True
        log.error(
            "%s: the item pipeline crawler.pipeline.item_pipeline.StorePipeline is not enabled "
            "(Scrapy was started without crawler.settings); nothing would be stored",
            self.site.name,
        )
        return False

    async def start_requests_list(self) -> list[scrapy.Request]:
        kinds = {url: "feed" for url in self.site.feeds}
        kinds.update({url: "sitemap" for url in self.site.sitemaps})
        kinds.update({url: "listing" for url in self.site.listings})
        kinds = {url: kind for url, kind in kinds.items() if self.budget.visit(url)}
        states = await self._source_states(list(kinds))
        requests = [self._source_request(url, kind, states[url]) for url, kind in kinds.items()]
        due = await self.run.store.best_effort(
            self.articles.due_for_revisit,
            self.site.name,
            self.now,
            self.site.max_articles,
            everything=self.recheck,
            default=[],
        )
        for article in due:
            reason = "recheck" if self.recheck else "due"
            request = self._article_request(article["url"], reason)
            if request is not None:
                requests.append(request)
        return requests

    async def _source_states(self, source_urls: list[str]) -> dict[str, SourceState]:
        """What is remembered of these sources; nothing (a full fetch) while MongoDB is away."""
        known = await self.run.store.best_effort(self.sources.load_many, source_urls, default={})
        return {url: known.get(url) or SourceState(url) for url in source_urls}

    def _source_request(self, url: str, kind: str, state: SourceState) -> scrapy.Request:
        headers = state.conditional_headers(self.now, force=self.recheck)
        if url.endswith("/robots.txt"):
            kind = "robots"
        return scrapy.Request(
            url,
            callback=self.parse_source,
            errback=self.source_failed,
            headers=headers,
            meta={
                "kind": kind,
                "state": state,
                "conditional": bool(headers),
                "handle_httpstatus_list": [304],
            },
            dont_filter=True,
            priority=10,
        )

    def _article_request(self, url: str, reason: str) -> scrapy.Request | None:
        if not self.plan.claim(url, new=reason == "new"):
            return None
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            # a body cut short by the connection arrives (flagged "dataloss") and is recorded
            # as a cut page, degraded, instead of an unexplained download error
            meta={"reason": reason, "download_fail_on_dataloss": False},
            dont_filter=True,  # claim() dedups; Scrapy's filter would hide redirect loops
        )

    # -- sources -----------------------------------------------------------------------

    async def parse_source(self, response: Response) -> AsyncIterator[Any]:
        kind, state = response.meta["kind"], response.meta["state"]
        now = self.clock()
        if response.status == 304:
            self.run.store.later(self.sources.not_modified, response.url, now)
            self.run.ledger.record(response.url, now, kind, "not-modified", status=304)
            return
        content_hash = hashlib.sha256(response.body).hexdigest()
        if content_hash == state.content_hash and not self.recheck:
            self._source_seen(response, state, kind, now, content_hash, complete=True)
            self.run.ledger.record(
                response.url, now, kind, "unchanged", detail="same content hash", status=200
            )
            return
        try:
            found, keys = await self._discover(response, kind)
        except discovery.DiscoveryError as exc:
            self._source_seen(response, state, kind, now, content_hash, complete=False)
            self.run.store.later(
                self.sources.failed, state.url, self.site.name, kind, now, str(exc)
            )
            self.run.ledger.record(
                response.url, now, kind, "error", detail=str(exc), status=response.status
            )
            log.warning("%s", exc)
            return
        skipped = frontier.SkipTally()
        self._cap_entries(found, kind, skipped)
        requests = await self._child_sitemaps(found.sitemaps, skipped, parent=state.url)
        articles, deferred = await self._entries(
            found.entries, keys[: len(found.entries)], state.url, kind, skipped
        )
        # entries left for a later crawl (the new-article budget or a per-crawl cap ran
        # out): the source must look unseen next time, or its validators and hash would
        # hide them for good
        capped = any(reason in skipped.counts for reason in ("entry-cap", "sitemap-cap"))
        self._source_seen(
            response, state, kind, now, content_hash, complete=not (deferred or capped)
        )
        if deferred or capped:  # the index that listed it is not done with either
            self._incomplete_upwards(state.url)
        if found.warning:
            self.run.ledger.count(f"source/{kind}-warning")
            log.warning("%s: %s", response.url, found.warning)
        self.run.ledger.record(
            response.url,
            now,
            kind,
            "fetched",
            entries=len(found.entries),
            sitemaps=len(found.sitemaps) or None,
            dropped=found.dropped or None,
            detail=found.warning,
            status=200,
        )
        self._record_skips(state.url, kind, skipped, now)
        for request in requests + articles:
            yield request

    def _cap_entries(
        self, found: discovery.Discovered, kind: str, skipped: frontier.SkipTally
    ) -> None:
        """Spend the crawl's entry budget on what this source lists (listing pages are
        bounded by their HTML and not counted); count what is left over. An index's
        child sitemaps are kept within the budget too (so a million-child index stays
        small in memory) but do not spend it: max_sitemaps bounds them, and the
        entries of the children they lead to are what the budget is for."""
        if kind == "listing":
            return
        found.keep(self.budget.entries_left)
        self.budget.take_entries(len(found.entries))
        skipped.add_many("entry-cap", found.dropped_sample, found.dropped)
        if found.dropped:
            self.run.ledger.count("cap/entries")
            log.warning(
                "%s: max_entries (%d a crawl) reached: %d entries left for a later crawl",
                self.site.name,
                self.site.max_entries,
                found.dropped,
            )

    def _record_skips(
        self, source: str, kind: str, skipped: frontier.SkipTally, now: datetime
    ) -> None:
        """One fetch-log line per reason a source's entries were skipped (count + sample)."""
        for reason, count, sample in skipped.items():
            detail = _CAP_DETAIL.get(reason)
            if detail:
                limit = getattr(self.site, _CAP_SETTING[reason])
                detail = detail.format(count=count, limit=limit)
            self.run.ledger.record_skipped(
                source, now, reason, count, sample, source_kind=kind, detail=detail
            )

    def _source_seen(
        self,
        response: Response,
        state: SourceState,
        kind: str,
        now: datetime,
        content_hash: str,
        complete: bool,
    ) -> None:
        """Note the source's validators and content hash, to be remembered when the crawl
        ends (see _remember_sources); `complete` false: entries were left for later."""
        self._seen_sources[state.url] = {
            "site": self.site.name,
            "kind": kind,
            "now": now,
            "previous": state,
            "etag": _header(response, "ETag"),
            "last_modified": _header(response, "Last-Modified"),
            "content_hash": content_hash,
            "conditional": response.meta["conditional"],
            "complete": complete,
        }
        if not complete:
            self.run.ledger.count("source/entries-deferred")

    def _remember_sources(self, reason: str) -> None:
        """Store what this crawl learnt of its feeds, sitemaps and listings, at its end.

        A source's content hash and validators say "everything it lists has been
        dealt with": the next crawl skips it when they match. So they are stored
        only for a crawl that finished, and only when none of its pages ended in an
        error or the journal; otherwise the source is remembered as fetched and
        nothing more, and the next crawl reads it whole again. A crawl killed half-way
        stores nothing here at all, so its sources are read again too.
        """
        if reason != "finished":
            return
        summary = self.run.ledger.summary()
        clean = not (summary.get("errors") or summary.get("spooled"))
        for url, seen in self._seen_sources.items():
            seen["complete"] = seen["complete"] and clean
            try:
                trusted = self.sources.fetched(url, **seen)
            except PyMongoError as exc:  # read whole again next time: nothing is hidden
                log.warning("source state of %s not saved: %s", url, exc.__class__.__name__)
                continue
            if not trusted:
                self.run.ledger.count("source/validators-untrusted")
        self._seen_sources.clear()

    async def _discover(
        self, response: Response, kind: str
    ) -> tuple[discovery.Discovered, list[str]]:
        """What a source lists, and the URL keys of its entries. Feeds, sitemaps and
        robots.txt are parsed in a thread (a 100,000-entry feed takes seconds to parse,
        which on Scrapy's event loop would stop every download meanwhile), reading at
        most the entries the crawl's budget has left."""
        if kind == "listing":
            hrefs = response.css("a::attr(href)").getall() if hasattr(response, "css") else []
            links = discovery.listing_links(hrefs, response.url, self.site.article_pattern)
            found = discovery.Discovered(entries=[discovery.Entry(u) for u in links])
            return found, [urls.url_key(e.url) for e in found.entries]
        content_type = _header(response, "Content-Type") or ""
        return await asyncio.to_thread(
            _parse_source, kind, response.body, response.url, content_type, self.budget.entries_left
        )

    def _incomplete_upwards(self, source: str) -> None:
        """A child sitemap left entries for later: the indexes above it must be read again
        next time too, or their unchanged hash would keep the child from being re-read."""
        parent = self._parents.get(source)
        while parent is not None and parent in self._seen_sources:
            self._seen_sources[parent]["complete"] = False
            parent = self._parents.get(parent)  # each source has one parent: no cycle

    async def _child_sitemaps(
        self, children: list[discovery.Entry], skipped: frontier.SkipTally, parent: str
    ) -> list[scrapy.Request]:
        """Requests for an index's child sitemaps: each at most once a crawl, newest
        (by lastmod) first, at most max_sitemaps a crawl; the rest are counted."""
        onsite = []
        for child in children:
            if len(child.url) > urls.MAX_URL_LENGTH:
                skipped.add(urls.TOO_LONG, child.url)
            elif not urls.in_allowed_domains(child.url, self.site.domains):
                skipped.add("offsite", child.url)
            elif self.budget.visited(child.url):
                skipped.add("visited", child.url)  # an index listing itself, A <-> B
            else:
                onsite.append(child)
        onsite.sort(key=_newest_first)
        requests: list[scrapy.Request] = []
        done = 0
        while done < len(onsite) and self.budget.children < self.budget.max_sitemaps:
            chunk = onsite[done : done + KNOWN_LOOKUP_CHUNK]
            states = await self._source_states([child.url for child in chunk])
            for child in chunk:
                if self.budget.children >= self.budget.max_sitemaps:
                    break
                done += 1
                reason = self._child_skip(child, states[child.url])
                if reason:
                    skipped.add(reason, child.url)
                    continue
                self.budget.take_child()
                self._parents[child.url] = parent
                requests.append(self._source_request(child.url, "sitemap", states[child.url]))
        rest = onsite[done:]
        if rest:
            skipped.add_many("sitemap-cap", [child.url for child in rest], len(rest))
            self.run.ledger.count("cap/sitemaps")
            log.warning(
                "%s: max_sitemaps (%d a crawl) reached: %d child sitemaps left for later",
                self.site.name,
                self.site.max_sitemaps,
                len(rest),
            )
        return requests

    def _child_skip(self, child: discovery.Entry, state: SourceState) -> str | None:
        """Why a child sitemap is not fetched now, or None; a fetched one is visited."""
        if (
            not self.recheck
            and child.updated
            and state.last_fetched
            and child.updated <= state.last_fetched
        ):
            return "sitemap-lastmod"  # unchanged since our last fetch
        if not self.budget.visit(child.url):
            return "visited"  # listed twice by the index
        return None

    async def _entries(
        self,
        entries: list[discovery.Entry],
        keys: list[str],
        source: str,
        source_kind: str,
        skipped: frontier.SkipTally,
    ) -> tuple[list[scrapy.Request], bool]:
        """Requests for the entries worth fetching, and whether any entry was left for a
        later crawl because the new-article budget ran out. Skips are tallied in
        `skipped` (one fetch-log line per reason, written by the caller)."""
        known = await self.run.store.best_effort(self._known_articles, keys, default={})
        new_entries = 0
        now = self.clock()
        requests: list[scrapy.Request] = []
        deferred = False
        for entry, key in zip(entries, keys, strict=False):
            article = known.get(key)
            choice = self.plan.choose(entry, article, now, self.site.domains)
            deferred = deferred or choice.reason == "limit"
            if not choice.fetch:
                skipped.add(choice.reason, entry.url)
                continue
            new_entries += article is None
            request = self._article_request(entry.url, choice.reason)
            if request is not None:
                request.meta["source"] = source
                requests.append(request)
        if source_kind == "feed":
            self.run.store.later(self.sources.entries_seen, source, new_entries, len(entries))
        return requests, deferred

    def _known_articles(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The stored articles among a source's entries, by every alias.

        Asked in chunks: a server checks each document it returns against the
        whole `$in` list, so one query for a 2,000-entry sitemap costs entries^2.
        """
        projection = {"last_fetched": 1, "next_check_at": 1}
        known: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), KNOWN_LOOKUP_CHUNK):
            chunk = keys[start : start + KNOWN_LOOKUP_CHUNK]
            known.update(self.articles.known_by_url_keys(chunk, projection))
        return known

    def source_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        kind, status, detail = request.meta.get("kind", "source"), *_describe_failure(failure)
        now = self.clock()
        if failure.check(PrivateAddressRefused):  # the site's settings refuse it: no failure
            reason = PrivateAddressRefused.reason
            self.run.ledger.record(
                request.url, now, reason, "skipped", source_kind=kind, detail=detail
            )
            log.warning("source refused: %s", detail)
            return
        self.run.store.later(self.sources.failed, request.url, self.site.name, kind, now, detail)
        self.run.ledger.record(request.url, now, kind, "error", status=status, detail=detail)
        log.warning("source failed: %s", detail)

    # -- articles ----------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[dict[str, Any]]:
        self.run.ledger.count(ARTICLE_FETCHED)
        headers = {
            k.decode().lower(): v[0].decode("latin-1") for k, v in response.headers.items() if v
        }
        yield {
            "page": FetchedPage(
                site=self.site.name,
                url=response.request.url if response.request else response.url,
                final_url=response.url,
                body=response.body,
                fetched_at=self.clock(),
                status=response.status,
                headers=headers,
                reason=response.meta.get("reason", "new"),
                run_id=self.run.run_id,
                allowed_domains=self.site.domains,
                language=self.site.language,
                download_s=float(response.meta.get("download_latency") or 0.0),
                flags=list(response.flags),
            )
        }

    def article_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        status, detail = _describe_failure(failure)
        reason = request.meta.get("reason", "new")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            reason = getattr(failure.value, "reason", None) or self._ignored_why(request)
        # refusals by policy are skips; everything else that went wrong is an error
        outcome = "skipped" if reason in ("robots", "offsite", "private-address") else "error"
        now = self.clock()
        self.run.ledger.record(request.url, now, reason, outcome, status=status, detail=detail)
        if status in (404, 410):
            self.run.store.later(
                self.articles.mark_url_gone, urls.url_key(request.url), status, now
            )
        log.info("article %s: %s", outcome, detail)

    def _ignored_why(self, request: Any) -> str:
        """An untyped IgnoreRequest: Scrapy's redirect middleware gives up on a request
        that already took REDIRECT_MAX_TIMES redirects (its own meta says so)."""
        most = self.crawler.settings.getint("REDIRECT_MAX_TIMES")
        if request.meta.get("redirect_times", 0) >= most:
            return "redirect-loop"
        return "ignored"

    async def wrap_up(self, reason: str) -> None:
        """The crawl's own loose ends, before crawler.run.lifecycle records the run: the
        bookkeeping still in flight, and what it learnt of its sources."""
        await self.run.store.drain()
        await self.run.store.run(self._remember_sources, reason)


_CAP_SETTING = {"entry-cap": "max_entries", "sitemap-cap": "max_sitemaps"}
_CAP_DETAIL = {
    "entry-cap": "max_entries ({limit} a crawl) reached: {count} entries left for a later crawl",
    "sitemap-cap": "max_sitemaps ({limit} a crawl) reached: {count} child sitemaps left for later",
}


def _parse_source(
    kind: str, body: bytes, url: str, content_type: str, limit: int
) -> tuple[discovery.Discovered, list[str]]:
    """Parse a feed, sitemap or robots.txt and key its entries (runs in a thread)."""
    if kind == "feed":
        found = discovery.parse_feed(body, url, content_type, limit=limit)
    elif kind == "sitemap":
        found = discovery.parse_sitemap(body, url, limit=limit)
    else:
        sitemaps = discovery.parse_robots_sitemaps(body, url)
        found = discovery.Discovered(sitemaps=[discovery.Entry(u) for u in sitemaps])
    keys = [urls.url_key(e.url) if len(e.url) <= urls.MAX_URL_LENGTH else "" for e in found.entries]
    return found, keys


def _newest_first(entry: discovery.Entry) -> tuple[bool, float]:
    """Sort key: dated entries newest first, then undated ones in their listed order."""
    newest = entry.newest
    return (newest is None, -newest.timestamp() if newest else 0.0)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _describe_failure(failure: Failure) -> tuple[int | None, str]:
    request = getattr(failure, "request", None)
    url = request.url if request is not None else "?"
    if failure.check(HttpError):
        status = int(failure.value.response.status)  # type: ignore[union-attr]
        return status, f"{url}: HTTP {status}"
    kind = failure.type.__name__ if failure.type else "Error"
    return None, f"{url}: {kind}: {failure.getErrorMessage()}"[:500]
