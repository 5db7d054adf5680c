"""Helpers for tests that run the real command line against the test database."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def newscrawl(
    *args: str,
    env: dict[str, str],
    timeout: float = 240,
    check: bool = True,
    cwd: str | Path = REPO,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m crawler ARGS` (from the repository root unless `cwd` says otherwise)."""
    result = subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode not in (0, 1):
        raise AssertionError(
            f"newscrawl {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
        )
    return result


def own_server_env(base: dict[str, str], uri: str, db_name: str, tmp_path: Path) -> dict[str, str]:
    """Environment for commands against a server the test stops and restarts itself:
    short MongoDB timeouts, so an outage is noticed within the test's time."""
    return dict(
        base,
        MONGODB_URI=uri,
        NEWSCRAWL_DB=db_name,
        NEWSCRAWL_JOURNAL=str(tmp_path / "journal"),
        NEWSCRAWL_MONGO_TIMEOUT_MS="1500",
    )


def installed_env(base: dict[str, str], site_packages: Path) -> dict[str, str]:
    """Environment in which `import crawler` finds the installed copy, not the checkout."""
    return dict(base, PYTHONPATH=str(site_packages))


def wait_until(predicate: Callable[[], object], timeout: float = 90, step: float = 0.5) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds have passed (real processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def members_of(db, story_id: str) -> list[dict]:
    """A story's members in joining order, as users list them (docs/schema.md)."""
    return list(db.story_members.find({"story_id": story_id}).sort("joined_at", 1))


def newscrawl_here(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`newscrawl ARGS` run in this process (crawler.cli.main.main) with `env` as the
    environment while it runs, its standard output and error captured.

    For the read-only query commands (history, show, diff, changes, articles, stories, runs,
    status) whose tests are about what they find and print: the same parser, store session,
    queries and tables as the command, without the ~0.8 CPU-s of starting Python and
    importing pymongo, pydantic and rich once more per call. Crawls, exports, the terminal
    and anything that starts processes or takes signals go through `newscrawl` (a child
    process); tests/run and tests/store run the read commands as children too.
    """
    import contextlib
    import io
    import os

    from crawler.cli.main import main

    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result = subprocess.CompletedProcess(["newscrawl", *args], code, out.getvalue(), err.getvalue())
    if check and code not in (0, 1):
        raise AssertionError(f"newscrawl {' '.join(args)} exited {code}:\n{result.stderr[-3000:]}")
    return result
