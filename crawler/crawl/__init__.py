"""One site's fetch decisions: discovery from feeds and sitemaps, the frontier, the ledger and source state, the site guard."""
