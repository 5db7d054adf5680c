"""Helpers for tests that run the real command line against the test database."""

from __future__ import annotations

import itertools
import os
import random
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


# Ports for the tests' own servers (Scrapyd nodes, metrics endpoints, embedded stores
# started on a given port) come from below Linux's ephemeral range (32768-60999), one
# block per pytest-xdist worker. A port the kernel hands out for bind(0) is free when
# chosen, but any process's next bind(0) or outgoing connection may take it before the
# server that was meant to bind it does (seen: a metrics port "Address already in use",
# a Scrapyd node answered by another test's daemon); these ports are never handed out
# that way, and no two workers share one.
PORTS_FROM = 20000
PORTS_PER_WORKER = 2000
_next_port = itertools.count(random.randrange(PORTS_PER_WORKER))


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = PORTS_FROM + (int(worker) % 6 if worker.isdigit() else 0) * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port = base + next(_next_port) % PORTS_PER_WORKER
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # in use (another test session on this machine)
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + PORTS_PER_WORKER - 1}")


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
