"""Environment variables: one prefix, read in one module (crawler.env), old names still read."""

from __future__ import annotations

import ast

import pytest

from crawler import env
from crawler.store.connection import database_name
from tests.helpers import REPO


def test_an_old_name_is_still_read_with_a_deprecation_warning(monkeypatch):
    monkeypatch.delenv("NEWSCRAWL_DB", raising=False)
    monkeypatch.setenv("CRAWLER_DB", "archive")
    with pytest.warns(DeprecationWarning, match="CRAWLER_DB is deprecated: set NEWSCRAWL_DB"):
        assert database_name() == "archive"
    monkeypatch.setenv("NEWSCRAWL_DB", "news2")  # the new name wins, without a warning
    assert database_name() == "news2"


def test_an_empty_variable_is_unset_and_a_mapping_can_stand_for_the_environment():
    assert env.get("NEWSCRAWL_DB", {"NEWSCRAWL_DB": ""}) is None
    assert env.flag("NEWSCRAWL_NODE_EGGS", {"NEWSCRAWL_NODE_EGGS": "Yes"})
    assert not env.flag("NEWSCRAWL_NODE_EGGS", {"NEWSCRAWL_NODE_EGGS": "0"})
    for old in env.RENAMED.values():
        assert old.startswith("CRAWLER_")
    assert all(new.startswith("NEWSCRAWL_") for new in env.RENAMED)


def test_only_crawler_env_reads_the_environment():
    readers = []
    for path in [*(REPO / "crawler").rglob("*.py"), *(REPO / "spiders").rglob("*.py")]:
        if path == REPO / "crawler" / "env.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv", "putenv")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                readers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not readers, readers
