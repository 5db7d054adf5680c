"""Scrapy commands of the project (COMMANDS_MODULE in crawler.settings): `scrapy crawl`
with an exit status that says how the crawl's run ended."""
