"""Environment variables: one prefix, read in one module (crawler.env), old names still read."""

from __future__ import annotations

import ast
import os

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


@pytest.mark.parametrize(
    ("uri", "tls"),
    [
        (None, False),  # the embedded store
        ("mongodb://127.0.0.1:27017/", False),
        ("mongodb://user:pw@db1,db2/news?replicaSet=rs0&w=majority", False),
        ("mongodb+srv://cluster0.example.net/", True),
        ("mongodb://db/?tls=true", True),
        ("mongodb://db/?w=1&SSL=true", True),
        ("mongodb://db/?tlsCAFile=/etc/ca.pem", True),  # implies TLS
        ("mongodb://db/?w=1;tlsInsecure=true", True),
    ],
)
def test_a_mongodb_uri_asks_for_tls_with_srv_or_any_tls_option(uri, tls):
    assert env.mongodb_uses_tls({"MONGODB_URI": uri} if uri else {}) is tls


def _loads_pyopenssl(uri: str | None) -> bool:
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}
    if uri:
        environment["MONGODB_URI"] = uri
    probe = "import sys, crawler.store; print('OpenSSL' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True
    )
    return result.stdout.strip() == "True"


def test_pymongo_loads_its_tls_stack_only_for_a_uri_that_asks_for_tls():
    """A command against the embedded store or a plain URI does not load pyOpenSSL (about
    0.1 CPU-s a process); a TLS URI gets pymongo's pyOpenSSL context, with OCSP, as before."""
    assert not _loads_pyopenssl(None)
    assert not _loads_pyopenssl("mongodb://127.0.0.1:27017/")
    assert _loads_pyopenssl("mongodb://127.0.0.1:27017/?tls=true")
