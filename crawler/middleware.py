"""Downloader middleware that keeps a crawl on its site and off private networks.

It sees every request, redirects included, so a feed or a redirect that points
at another domain, or at a private, loopback or link-local address, is refused
before a connection is made — unless the site sets allow_private_addresses.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest

from crawler import urls


class OffsiteRefused(IgnoreRequest):
    reason = "offsite"


class PrivateAddressRefused(IgnoreRequest):
    reason = "private-address"


class SiteGuardMiddleware:
    HOST_CHECK_TTL_S = 300.0  # getaddrinfo blocks the reactor: once per host per 5 minutes

    def __init__(self, crawler: Any = None):
        self.crawler = crawler
        self._private: dict[str, tuple[float, bool]] = {}

    def _is_private(self, host: str) -> bool:
        now = time.monotonic()
        cached = self._private.get(host)
        if cached is None or cached[0] < now:
            cached = (now + self.HOST_CHECK_TTL_S, urls.resolves_to_private(host))
            self._private[host] = cached
        return cached[1]

    @classmethod
    def from_crawler(cls, crawler: Any) -> SiteGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        spider = spider or getattr(self.crawler, "spider", None)
        site = getattr(spider, "site", None)
        if site is None or request.meta.get("guard_exempt"):
            return None
        if not urls.in_allowed_domains(request.url, site.domains):
            raise OffsiteRefused(f"{request.url}: outside allowed_domains {site.domains}")
        host = urlsplit(request.url).hostname or ""
        if not site.allow_private_addresses and self._is_private(host):
            raise PrivateAddressRefused(
                f"{request.url}: {host} resolves to a private/loopback address "
                "(set allow_private_addresses: true for sites on a local network)"
            )
        return None
