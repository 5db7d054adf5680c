"""`newscrawl articles` that finds nothing says so on stderr (and exits 0: nothing found
is no failure), instead of an empty table that reads as a command that did nothing."""

from __future__ import annotations

from datetime import timedelta

from crawler.clock import utcnow
from tests.helpers import newscrawl


def test_articles_grep_without_a_match_prints_a_hint_and_exits_0(db, crawl_env):
    now = utcnow()
    db.articles.insert_one(
        {
            "_id": "a1",
            "site": "valley-gazette",
            "url": "https://valley.example/bridge",
            "title": "Bridge reopens after repairs",
            "text": "The river bridge reopened on Monday.",
            "version_count": 1,
            "first_seen": now - timedelta(hours=2),
            "last_changed": now - timedelta(hours=1),
        }
    )
    missing = newscrawl("articles", "--grep", "zzqxnotaword", env=crawl_env)
    assert missing.returncode == 0, missing.stderr
    assert "no article matched --grep zzqxnotaword" in missing.stderr
    found = newscrawl("articles", "--grep", "bridge", env=crawl_env)
    assert found.returncode == 0, found.stderr
    assert "Bridge reopens" in found.stdout
    assert "no article matched" not in found.stderr
