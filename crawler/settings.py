"""Scrapy settings for newscrawl (the module scrapy.cfg points at).

Polite by default: robots.txt obeyed, AutoThrottle on, two requests at a time per
site, cookies off, a bot User-Agent. Per-site politeness from config/sites.yaml
is applied on top by the spider (see spiders/news.py).
"""

from scrapy.settings import default_settings as scrapy_defaults

from crawler.config import DEFAULT_USER_AGENT

BOT_NAME = "newscrawl"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
# `scrapy crawl` exits 1 when the run did not end ok (crawler.run.commands.crawl)
COMMANDS_MODULE = "crawler.run.commands"

USER_AGENT = DEFAULT_USER_AGENT  # a site's own, or the config file's, when it sets one
ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's RemoteControl extension (on by default) serves an HTTP endpoint that runs
# Python code sent to it, in every crawl process, for Scrapy's MCP server. Nothing here
# uses it, and an archive bot should not open one: off, as the telnet console. It also
# cost each crawl ~0.15 CPU-s (importing aiohttp) and a job file in the user's profile.
REMOTE_CONTROL_ENABLED = False
# Scrapy's default components that are off here, left out of its base lists rather than set
# to None in EXTENSIONS and DOWNLOADER_MIDDLEWARES: Scrapy imports every component a list
# names to build it (the base lists' and a None too), and these modules load aiohttp (the
# remote control) and tldextract with requests (cookies, off: COOKIES_ENABLED): about
# 0.2 CPU-s of every crawl's start, for components that then say NotConfigured. The rest
# of Scrapy's base lists is kept as Scrapy ships it, future additions included.
NOT_LOADED = {
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
}
EXTENSIONS_BASE = {k: v for k, v in scrapy_defaults.EXTENSIONS_BASE.items() if k not in NOT_LOADED}
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v for k, v in scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE.items() if k not in NOT_LOADED
}

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10
# A crawl process over MEMUSAGE_LIMIT_MB is stopped by Scrapy (close reason
# memusage_exceeded) and its run recorded as `error` with the figure (crawler.run.outcomes.judge).
# Checked every 10 s rather than Scrapy's 60: discovery is bounded (max_entries), but a
# leak should not run a minute past the limit.
MEMUSAGE_ENABLED = True
MEMUSAGE_LIMIT_MB = 1024
MEMUSAGE_CHECK_INTERVAL_SECONDS = 10.0

# Our site guard replaces Scrapy's offsite filter: it also knows host:port entries
# (local test sites). The private-address guard checks the address each response
# came from; at 950 it is the first to see a response, before redirects and retries.
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    # Scrapy's own, its refusals typed (crawler.crawl.middleware): same place, 100
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.crawl.middleware.RobotsTxtMiddleware": 100,
    "crawler.crawl.middleware.SiteGuardMiddleware": 50,
    "crawler.crawl.middleware.PrivateAddressGuardMiddleware": 950,
}
ITEM_PIPELINES = {"crawler.pipeline.item_pipeline.StorePipeline": 300}
# The run around every crawl, however it was started (newscrawl crawl, scrapy crawl,
# Scrapyd): lease, run record, outcome, release (crawler.run.lifecycle)
EXTENSIONS = {"crawler.run.lifecycle.RunLifecycle": 0}
# An article page yields one item. Scrapy starts CONCURRENT_ITEMS asyncio tasks for
# every response's output (default 100): creating them was the crawling process's
# largest single cost in a py-spy profile (~10 %), for no concurrency gained.
CONCURRENT_ITEMS = 1
# Seconds an extracted page may wait for others to share its write batch
# (crawler.pipeline.workers.BatchWriter). A page is stored at most this much later; in
# exchange a busy crawl writes batches of ~25 pages instead of ~2, which cut
# the store's CPU per page from 21.6 to 13.3 ms in bench/e2e_throughput.py.
# 0: write as soon as the writer is free.
NEWSCRAWL_WRITE_LINGER = 1.0

LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
# Responses Scrapy keeps in hand while their items are processed, in bytes (Scrapy's
# default is 5 MB): a page stays in hand while it waits for an extraction worker and
# for its write batch, and at ~150 kB a page the default stopped the downloads
# before the workers had enough to do.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 32 * 1024 * 1024
