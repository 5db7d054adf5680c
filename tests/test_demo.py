"""`newscrawl demo`: the offline tour works end to end into the embedded store."""

from __future__ import annotations

import os
import re

from pymongo import MongoClient

from crawler.embedded import EmbeddedServer
from tests.helpers import newscrawl


def test_demo_crawls_the_local_network_into_the_embedded_store(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "CRAWLER_DB")}
    env.update(CRAWLER_DATA=str(tmp_path / "data"), CRAWLER_JOURNAL=str(tmp_path / "journal"))
    result = newscrawl("demo", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "embedded MongoDB started at mongodb://127.0.0.1:" in result.stderr
    edited = re.search(r"newscrawl history (\S+)", result.stdout).group(1)
    assert "npx mongosh" in result.stdout
    # the store stopped with the command; start it again on the same data, as a user would
    with EmbeddedServer(tmp_path / "data" / "mongo") as server:
        db = MongoClient(server.uri).news
        assert db.stories.count_documents({"size": {"$gte": 3}}) >= 3
        assert db.crawl_runs.count_documents({"outcome": {"$regex": "^ok"}}) == 10
        history = newscrawl("history", edited, "--json", env=dict(env, MONGODB_URI=server.uri))
        assert '"version": 2' in history.stdout
