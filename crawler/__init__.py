"""newscrawl: scheduled regional-news crawling with versioned snapshots and story clustering in MongoDB."""

__version__ = "0.1.0"
