"""`newscrawl demo`: the offline tour, run as a user runs it — the installed command,
started from a folder of the user's, with no settings: data goes to the user's data
directory (platformdirs: $XDG_DATA_HOME/newscrawl), whatever the folder."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from pymongo import MongoClient

from crawler.store.embedded import EmbeddedServer
from tests.helpers import installed_env, newscrawl


@pytest.mark.slow
def test_demo_from_any_folder_crawls_the_local_network_into_the_embedded_store(tmp_path, installed):
    home = tmp_path / "my-folder"
    home.mkdir()
    plain = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MONGODB_URI", "NEWSCRAWL_DB", "NEWSCRAWL_DATA", "NEWSCRAWL_JOURNAL")
    }
    env = installed_env(dict(plain, XDG_DATA_HOME=str(tmp_path / "xdg")), installed)
    store = tmp_path / "xdg" / "newscrawl" / "mongo"
    result = subprocess.run(
        [str(installed / "bin" / "newscrawl"), "demo"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"(data in {store})" in result.stderr
    edited = re.search(r"newscrawl history (\S+)", result.stdout).group(1)
    assert "npx mongosh" in result.stdout
    # it names the folder the data is in, and how to keep the store open for mongosh
    # (this run's URI is gone once the demo ends)
    assert f"({store})" in result.stdout
    assert re.search(r"^  \S+ store$", result.stdout, re.M), result.stdout
    # the commands it prints run as printed (newscrawl is not on this PATH: a full path)
    printed = re.search(r"^  (\S+) changes --since 1d", result.stdout, re.M).group(1)
    assert printed == str(installed / "bin" / "newscrawl")
    changes = subprocess.run(
        [printed, "changes", "--since", "1d", "--json"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert changes.returncode == 0 and json.loads(changes.stdout), changes.stderr[-2000:]
    # the store stopped with the command; start it again on the same data, as a user would
    with EmbeddedServer(store) as server:
        db = MongoClient(server.uri).news
        assert db.articles.count_documents({}) >= 20
        assert db.versions.count_documents({}) >= db.articles.count_documents({})
        assert db.stories.count_documents({"size": {"$gte": 3}}) >= 3
        assert db.crawl_runs.count_documents({"outcome": {"$regex": "^ok"}}) == 10
        served = dict(env, MONGODB_URI=server.uri)
        history = newscrawl("history", edited, "--json", env=served, cwd=home)
        assert '"version": 2' in history.stdout
        verified = newscrawl("verify", env=served, cwd=home)
        assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]
        assert "store is consistent" in verified.stdout
