"""A crawl the service starts runs with the environment the service decided for it, not
with whatever the service's own environment says by the time the crawl starts."""

from __future__ import annotations

from crawler import env
from crawler.clock import utcnow
from crawler.service.app import Service
from tests.helpers import free_port


def test_a_crawl_the_service_starts_uses_the_store_the_service_decided(
    tmp_path, db, db_name, mongo_uri, crawl_env, monkeypatch
):
    port = free_port()  # nothing listens: the crawl fails at once, and records its run
    config = tmp_path / "sites.yaml"
    config.write_text(
        f"sites: [{{name: a, url: 'http://127.0.0.1:{port}/', "
        f"feeds: ['http://127.0.0.1:{port}/feed.xml'], allow_private_addresses: true}}]"
    )
    journal = tmp_path / "journal"
    decided = {"MONGODB_URI": mongo_uri, "NEWSCRAWL_DB": db_name, "NEWSCRAWL_JOURNAL": str(journal)}
    service = Service(str(config), utcnow, env.child_environment(decided))
    # the service's own environment now names another store, database and journal
    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:9/")
    monkeypatch.setenv("NEWSCRAWL_DB", "not_this_one")
    monkeypatch.setenv("NEWSCRAWL_JOURNAL", str(tmp_path / "not-this-journal"))
    monkeypatch.setenv("NEWSCRAWL_MONGO_TIMEOUT_MS", "1000")
    try:
        service.run_site("a")
    finally:
        service.db.client.close()
    run = db.crawl_runs.find_one({"site": "a"})
    assert run is not None, "the crawl did not record its run in the service's store"
    assert run["outcome"] == "failed", run
    assert not (tmp_path / "not-this-journal").exists()
