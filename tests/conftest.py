"""Shared fixtures: one real MongoDB-wire server per test session, one database per test.

The server is secantusdb started as a child process (crawler.store.embedded), unless
MONGODB_URI points the suite at a real mongod.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo.database import Database

from crawler.store import connect, ensure_indexes
from crawler.store.embedded import EmbeddedServer

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"


@pytest.fixture(scope="session", autouse=True)
def own_data_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default data folder (embedded store, journal) of every command the tests run is
    one of the session's, never the user's own (platformdirs reads XDG_DATA_HOME)."""
    home = tmp_path_factory.mktemp("xdg-data")
    os.environ["XDG_DATA_HOME"] = str(home)
    for variable in ("NEWSCRAWL_DATA", "NEWSCRAWL_JOURNAL"):
        os.environ.pop(variable, None)
    return home


@pytest.fixture(scope="session", autouse=True)
def one_extraction_worker() -> None:
    """Every crawl the tests start extracts in one worker process instead of one per core.

    The pool's code path is the same with one worker (spawned, fed and watched as with
    many); what differs is the cost: each crawl spawns its workers afresh, each loading
    trafilatura and lxml (about 0.6 CPU-seconds), and with pytest-xdist running several
    crawls at once the cores are busy anyway. Set NEWSCRAWL_EXTRACT_WORKERS to override.
    Tests of the workers themselves (tests/crawl/test_crawl_localnet.py: the first full
    crawl, a killed crawl's workers) drop it from their environment: one per core.
    """
    os.environ.setdefault("NEWSCRAWL_EXTRACT_WORKERS", "1")


@pytest.fixture(scope="session", autouse=True)
def compiled_sources() -> None:
    """The checkout's own modules byte-compiled once per run, before any test starts a process.

    Every child process the tests start (each crawl, command, service, Scrapyd job and
    extraction worker) imports some seventy of them. Where PYTHONDONTWRITEBYTECODE is set
    (it is on the development machine) no import writes `__pycache__`, so each child
    compiled them all from source again: about 0.15 CPU-s a crawl, 0.1 a command. The files
    are timestamp-checked (a changed source is compiled afresh, here or by the import) and
    ignored by git. xdist workers may compile at once: each file is written atomically.
    """
    import compileall

    for folder in ("crawler", "spiders"):
        compileall.compile_dir(REPO / folder, quiet=1)
    compileall.compile_file(REPO / "scheduler.py", quiet=1)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer | None]:
    """The running test server (None when MONGODB_URI points elsewhere)."""
    if os.environ.get("MONGODB_URI"):
        yield None
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("mongo"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_uri(mongo_server: EmbeddedServer | None) -> str:
    return os.environ.get("MONGODB_URI") or (mongo_server.uri if mongo_server else "")


@pytest.fixture
def db_name(request: pytest.FixtureRequest) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:30]
    return f"t_{slug}_{uuid.uuid4().hex[:6]}"


@pytest.fixture
def db(mongo_uri: str, db_name: str) -> Iterator[Database]:
    database = connect(mongo_uri, db_name)
    ensure_indexes(database)
    yield database
    database.client.drop_database(db_name)
    database.client.close()


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built into a wheel and installed into a folder of its own, from a copy
    of the source tree, with no editable hooks: what `pip install .` gives a user.

    Commands run with PYTHONPATH set to it (dependencies from the test environment),
    so `import crawler` finds this copy first, wherever the command runs.

    Built once per test run: pytest-xdist's workers share the base temporary folder's
    parent, and the first worker to take the lock builds there while the others wait,
    then read the same folder (the tests only run commands from it).
    """
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = shared / "installed-site"
    with FileLock(str(shared / "installed-site.lock")):
        if not (target / ".complete").exists():
            _install_into(target, tmp_path_factory.mktemp("source"))
            (target / ".complete").touch()
    return target


def _install_into(target: Path, source: Path) -> None:
    import shutil
    import subprocess
    import sys

    for name in ("crawler", "spiders", "pyproject.toml", "README.md", "scheduler.py"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, source / name)
    shutil.rmtree(target, ignore_errors=True)  # a build a killed worker left half done
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        timeout=300,
    )


@pytest.fixture
def crawl_env(mongo_uri: str, db_name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for commands run against the test database."""
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("NEWSCRAWL_DB", db_name)
    env = dict(os.environ)
    return env
