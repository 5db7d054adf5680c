"""A store an older version left in ./data/mongo is pointed out with the command that moves
it, when this version's per-user folder has none; the command, run as printed, moves it
and the next command finds its data (and the journal's unreplayed pages)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pymongo import MongoClient

from crawler.clock import utcnow
from crawler.store.embedded import EmbeddedServer
from tests.helpers import newscrawl
from tests.store.test_embedded_store import _plain_env, _store_dir

NOW = utcnow()


def test_an_old_store_in_dot_data_is_pointed_out_with_the_move_and_moves(tmp_path: Path):
    old = tmp_path / "data" / "mongo"
    with EmbeddedServer(old) as server:  # what an older version made in ./data
        client: MongoClient = MongoClient(server.uri)
        client.news.articles.insert_one(
            {"_id": "kept", "url": "https://valley.example/a", "title": "Kept", "last_changed": NOW}
        )
        client.close()
    (tmp_path / "data" / "journal").mkdir()
    (tmp_path / "data" / "journal" / "journal-1-2.jsonl").write_text("{}\n")
    env = _plain_env(tmp_path)
    env.pop("NEWSCRAWL_DB", None)

    first = newscrawl("verify", env=env, cwd=tmp_path)
    assert first.returncode == 1  # nothing in the per-user folder: nothing made there
    assert f"{old} holds the store of an older version" in first.stderr, first.stderr
    [move] = [line.strip() for line in first.stderr.splitlines() if line.startswith("  mkdir")]
    subprocess.run(["sh", "-c", move], check=True, cwd=tmp_path, env=env)

    second = newscrawl("articles", "--json", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "older version" not in second.stderr
    assert [row["url"] for row in json.loads(second.stdout)] == ["https://valley.example/a"]
    journal = tmp_path / "xdg" / "newscrawl" / "journal"
    assert os.listdir(journal) == ["journal-1-2.jsonl"]
    assert _store_dir(tmp_path).is_dir()
