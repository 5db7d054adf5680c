"""Each fetched page: the Scrapy item pipeline, prepare and persist, extraction workers, the store doorway, the journal, drift coverage, URL-change identity."""
