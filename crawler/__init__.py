"""newscrawl: scheduled regional-news crawling with versioned snapshots and story clustering in MongoDB."""

from crawler.env import skip_unused_mongodb_tls

__version__ = "0.1.0"

skip_unused_mongodb_tls()  # before any module imports pymongo (see its docstring)
