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


def test_a_child_environment_is_the_parent_s_with_the_decided_values_over_it():
    base = {"PATH": "/bin", "MONGODB_URI": "mongodb://old/", "CRAWLER_JOURNAL": "/old"}
    decided = {"MONGODB_URI": "mongodb://new/", "NEWSCRAWL_JOURNAL": None, "NEWSCRAWL_DB": "x"}
    child = env.child_environment(decided, base)
    assert child == {"PATH": "/bin", "MONGODB_URI": "mongodb://new/", "NEWSCRAWL_DB": "x"}
    assert base["MONGODB_URI"] == "mongodb://old/"  # the parent's own is left as it was


def test_resolving_the_data_folders_leaves_the_process_environment_alone(monkeypatch, tmp_path):
    import os

    from crawler import paths

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSCRAWL_DATA", "relative/data")
    monkeypatch.delenv("NEWSCRAWL_JOURNAL", raising=False)
    assert paths.journal_dir() == tmp_path / "relative" / "data" / "journal"
    assert os.environ["NEWSCRAWL_DATA"] == "relative/data"
    assert "NEWSCRAWL_JOURNAL" not in os.environ


def test_every_child_process_newscrawl_starts_is_given_its_environment():
    """subprocess calls in crawler/ pass env= (crawler.env.child_environment); the embedded
    MongoDB server, a program of its own that reads none of ours, inherits."""
    implicit = []
    for path in (REPO / "crawler").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("Popen", "run", "call", "check_call", "check_output")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "subprocess"
                and not any(k.arg == "env" for k in node.keywords)
            ):
                implicit.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert all(where.startswith("crawler/store/embedded.py:") for where in implicit), implicit
