"""Downloader middlewares that keep a crawl on its site and off private networks.

`SiteGuardMiddleware` sees every request, redirects included, before robots.txt
is fetched: a feed or a redirect that points at another domain is refused, and
so is a URL whose host is itself a private address (an IP literal in any spelling
a resolver accepts, localhost: crawler.urls.private_host_literal), before any
connection is made.

`PrivateAddressGuardMiddleware` sits next to the downloader and checks the
address each response actually came from (`response.ip_address`, the peer of
the connection Scrapy made), so a host name that resolves to a private,
loopback or link-local address is refused however and whenever it resolved:
no DNS lookup of our own, nothing blocking the reactor, no stale cache, and a
name that re-binds between two lookups cannot slip through. It runs before the
redirect middleware, so a private host cannot redirect the crawl either.
Both stand aside for sites that set allow_private_addresses.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.robotstxt import (
    RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware,
)
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler import urls


class OffsiteRefused(IgnoreRequest):
    reason = "offsite"


class PrivateAddressRefused(IgnoreRequest):
    reason = "private-address"


class RobotsRefused(IgnoreRequest):
    reason = "robots"


def _site(crawler: Any, spider: Spider | None) -> Any:
    """The site the crawl's spider was made for (its `site` argument), or None.

    Read from the spider as Scrapy's own OffsiteMiddleware reads `allowed_domains`, not
    from the run context (crawler.pipeline.context, a package above this one): a
    downloader middleware serves every spider run with these settings, `scrapy fetch`'s
    and `scrapy shell`'s DefaultSpider too, and a spider without a site is not guarded."""
    spider = spider or crawler.spider
    return getattr(spider, "site", None)


class _FromCrawler:
    def __init__(self, crawler: Any = None):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        return cls(crawler)


class SiteGuardMiddleware(_FromCrawler):
    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        site = _site(self.crawler, spider)
        if site is None or request.meta.get("guard_exempt"):
            return None
        if not urls.in_allowed_domains(request.url, site.domains):
            raise OffsiteRefused(f"{request.url}: outside allowed_domains {site.domains}")
        if site.allow_private_addresses:
            return None
        refusal = urls.private_host_literal(urlsplit(request.url).hostname or "")
        if refusal is not None:
            raise PrivateAddressRefused(_refusal_message(request.url, refusal))
        return None


class PrivateAddressGuardMiddleware(_FromCrawler):
    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        site = _site(self.crawler, spider)
        if site is None or site.allow_private_addresses or request.meta.get("guard_exempt"):
            return response
        address = getattr(response, "ip_address", None)
        if address is not None and urls.is_private_address(address):
            self.crawler.stats.inc_value("newscrawl/refused/private-address")
            host = f"{urlsplit(request.url).hostname} ({address})"
            raise PrivateAddressRefused(
                _refusal_message(request.url, f"{host} is a private/loopback address")
            )
        return response


def _refusal_message(url: str, refusal: str) -> str:
    return f"{url}: {refusal} (set allow_private_addresses: true for sites on a local network)"


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt handling (its parser, cache and `robotstxt/*` stats), with its
    refusal typed: the crawl records a robots skip by the exception's reason, not by
    the wording of a message."""

    def process_request_2(self, rp: Any, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:
            raise RobotsRefused(str(exc)) from exc
