"""The embedded store as users share it: `newscrawl store`, commands that attach to a running
store, read-only commands that find none, and a store that outlives the command that
started it while the service uses it (issue 29.4, 32.4). Real processes throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from crawler.localnet import LocalNetwork
from crawler.store.embedded import ping, read_state
from tests.helpers import REPO, free_port, newscrawl, wait_until


def _plain_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's shell: no MONGODB_URI, no NEWSCRAWL_DATA; the per-user folder under tmp_path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MONGODB_URI", "NEWSCRAWL_DB", "NEWSCRAWL_DATA", "NEWSCRAWL_JOURNAL")
    }
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env.update(extra)
    return env


def _store_dir(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "newscrawl" / "mongo"


def _stop(process: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"did not stop within {timeout}s after SIGTERM:\n{err[-3000:]}"
        ) from None
    return out, err


def test_a_read_only_command_where_there_is_no_store_says_so_and_exits_1(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = _plain_env(tmp_path)
    for command in (["stories"], ["runs", "--json"], ["verify"]):
        result = newscrawl(*command, env=env, cwd=folder, check=False)
        assert result.returncode == 1, result.stderr
        assert f"no store in {_store_dir(tmp_path)}" in result.stderr
        assert result.stdout == ""  # no empty table, no empty JSON list
    assert not (_store_dir(tmp_path) / "db").exists()  # and none was made
    assert not (folder / "data").exists()


def test_newscrawl_store_serves_until_sigterm_and_commands_from_any_folder_attach(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    env = _plain_env(tmp_path)
    store = subprocess.Popen(
        [sys.executable, "-m", "crawler", "store"],
        cwd=here,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert store.stdout is not None
        uri = store.stdout.readline().strip()
        assert uri.startswith("mongodb://127.0.0.1:"), uri
        assert store.stdout.readline().strip() == f'mongosh:  npx mongosh "{uri.rstrip("/")}/news"'
        assert ping(uri)
        # a command from another folder finds it, says so, and leaves it running
        result = newscrawl("verify", env=env, cwd=there)
        assert result.returncode == 0, result.stderr
        assert f"store: embedded MongoDB at {uri} " in result.stderr
        assert "attached (started by newscrawl store" in result.stderr
        assert "store is consistent" in result.stdout
        assert ping(uri)
        state = read_state(_store_dir(tmp_path))
        assert state["uri"] == uri
        # the server dies: its owner starts it again, at the same URI
        os.kill(state["pid"], signal.SIGKILL)
        restarted = wait_until(
            lambda: read_state(_store_dir(tmp_path)).get("pid") != state["pid"], 30
        )
        assert restarted, _stop(store)[1]
        assert read_state(_store_dir(tmp_path))["uri"] == uri
        assert wait_until(lambda: ping(uri, 500), 30)
    finally:
        _out, err = _stop(store)
    assert store.returncode == 0, err[-2000:]
    assert not ping(uri, 500)  # the last holder ended: the server stopped cleanly
    assert read_state(_store_dir(tmp_path)) == {}


def _wait_for_line(stream, needle: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in:\n{''.join(seen)[-3000:]}")


@pytest.mark.slow
def test_a_crawl_that_started_the_store_ends_and_the_service_keeps_crawling(tmp_path):
    """Issue 29.4: a manual crawl started the store, the service joined it, the crawl ended
    and stopped it under the service. Now the store stays while the service uses it."""
    from crawler.store import connect

    env = _plain_env(tmp_path, NEWSCRAWL_MONGO_TIMEOUT_MS="1500")
    with LocalNetwork(seed=5, hostile=False) as net:
        slow = net.config(delay=1.0)  # the manual crawl runs long enough for the service to join
        slow["sites"] = [s for s in slow["sites"] if s["name"] == "valley-gazette"]
        manual_config = tmp_path / "manual.yaml"
        manual_config.write_text(yaml.safe_dump(slow))
        scheduled = net.config()
        scheduled["sites"] = [s for s in scheduled["sites"] if s["name"] == "harbour-times"]
        # every 6 s, not 3: the runs that matter are the two after the manual crawl; while it
        # runs (tens of seconds at its delay) each scheduled one is a crawl process more
        scheduled["sites"][0]["schedule"] = {"every": "6s", "jitter": "0s"}
        service_config = tmp_path / "service.yaml"
        service_config.write_text(yaml.safe_dump(scheduled))

        crawl = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", "valley-gazette"]
            + ["--config", str(manual_config)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert crawl.stderr is not None
        started = _wait_for_line(crawl.stderr, "store: ")
        assert "embedded MongoDB started at" in started  # the crawl is the store's starter
        uri = read_state(_store_dir(tmp_path))["uri"]
        port = free_port()
        service = subprocess.Popen(
            [sys.executable, "scheduler.py", "--config", str(service_config)]
            + ["--metrics-port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert service.stderr is not None
            joined = _wait_for_line(service.stderr, "store: ")
            assert f"at {uri} " in joined and "attached" in joined, joined
            assert crawl.poll() is None, "the manual crawl ended before the service joined"
            assert crawl.wait(timeout=240) == 0, crawl.stderr.read()[-3000:]
            ended = time.time()
            db = connect(uri, "news", timeout_ms=1500)
            assert wait_until(
                lambda: (
                    db.crawl_runs.count_documents(
                        {
                            "site": "harbour-times",
                            "trigger": "schedule",
                            "outcome": {"$regex": "^ok"},
                            "started_at": {"$gt": _utc(ended)},
                        }
                    )
                    >= 2
                ),
                timeout=150,
            ), "no scheduled crawl succeeded after the manual crawl ended"
            assert ping(uri)
            assert _healthz(port) == 200
            assert db.crawl_runs.count_documents({"outcome": {"$regex": "^(error|failed)"}}) == 0
            db.client.close()
        finally:
            _out, err = _stop(service)
        assert service.returncode == 0, err[-3000:]
    assert not ping(uri, 500)  # the service was the last holder: it stopped the server


def _utc(epoch: float):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc)


def _healthz(port: int) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_store_whose_last_holder_was_killed_is_stopped_by_the_next_command_to_end(tmp_path):
    """kill -9 of the only holder leaves the server running with nobody holding it: the next
    command attaches to it (no second server on the folder) and, ending last, stops it."""
    env = _plain_env(tmp_path)
    store = subprocess.Popen(
        [sys.executable, "-m", "crawler", "store"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert store.stdout is not None
    uri = store.stdout.readline().strip()
    store.kill()
    store.wait()
    assert ping(uri)  # the server outlives its starter: it runs in its own session
    result = newscrawl("verify", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"at {uri} " in result.stderr and "attached" in result.stderr
    assert wait_until(lambda: not ping(uri, 500), 30)
    assert read_state(_store_dir(tmp_path)) == {}
