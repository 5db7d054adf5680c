"""One crawl run: its lifecycle, lease, outcome, the in-process runner and the Scrapyd job runner."""
