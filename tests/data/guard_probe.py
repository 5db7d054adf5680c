"""A real Scrapy crawl with newscrawl's downloader middlewares (crawler.settings) and a
site that does not allow private addresses: the feed (argv[1]) is fetched exempt from
the guard, as only this probe does, and every entry it links to is requested as an
article would be. Prints one JSON line per link: how it ended."""

from __future__ import annotations

import json
import sys

import feedparser
import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from crawler.config import Site

FEED = sys.argv[1]
DOMAINS = sys.argv[2:]


class Probe(scrapy.Spider):
    name = "probe"
    site = Site(
        name="probe", url=FEED, feeds=[FEED], allowed_domains=DOMAINS, allow_private_addresses=False
    )

    async def start(self):
        yield scrapy.Request(FEED, meta={"guard_exempt": True}, callback=self.entries)

    def entries(self, response):
        for entry in feedparser.parse(response.body).entries:
            yield scrapy.Request(entry.link, callback=self.fetched, errback=self.refused)

    def fetched(self, response):
        print(json.dumps({"url": response.url, "outcome": "fetched"}), flush=True)

    def refused(self, failure):
        url = failure.request.url
        print(
            json.dumps(
                {"url": url, "outcome": failure.type.__name__, "detail": str(failure.value)}
            ),
            flush=True,
        )


settings = get_project_settings()
settings.set("ITEM_PIPELINES", {})
settings.set("LOG_LEVEL", "WARNING")
settings.set("DOWNLOAD_DELAY", 0)
settings.set("AUTOTHROTTLE_ENABLED", False)
settings.set("ROBOTSTXT_OBEY", True)
process = CrawlerProcess(settings)
process.crawl(Probe)
process.start()
