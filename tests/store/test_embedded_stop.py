"""The embedded store is stopped cleanly, never killed, and never started twice on a folder.

A real secantusd server throughout. SIGSTOP then SIGCONT make its main thread miss the
next SIGTERM, every time (a store stopped just after it started, by a command that
failed on its config, was SIGKILLed 15 s later now and then: a SIGTERM missed the same
way); a SIGSTOP alone makes it too slow to answer a ping, as a loaded machine does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from pymongo import MongoClient

from crawler.store import embedded
from crawler.store.embedded import SharedStore, read_state


def _pause(pid: int) -> None:
    os.kill(pid, signal.SIGSTOP)
    os.kill(pid, signal.SIGCONT)


def _insert(uri: str, doc: dict) -> None:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client.news.things.insert_one(doc)
    finally:
        client.close()


def _count(uri: str) -> int:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return client.news.things.count_documents({})
    finally:
        client.close()


def test_a_server_that_missed_its_sigterm_is_stopped_cleanly_with_its_data(tmp_path: Path):
    folder = tmp_path / "mongo"
    store = SharedStore(folder, label="test")
    uri = store.attach()
    _insert(uri, {"_id": 1})
    assert store._server is not None and store._server.process is not None
    process = store._server.process
    _pause(process.pid)  # the next SIGTERM goes unseen
    assert store.detach()
    assert process.returncode == 0  # its own clean exit, not -9
    assert read_state(folder) == {}
    again = SharedStore(folder, label="test")
    try:
        assert _count(again.attach()) == 1
    finally:
        again.detach()


def test_a_live_server_too_busy_to_answer_is_joined_not_started_again(tmp_path: Path):
    folder = tmp_path / "mongo"
    first = SharedStore(folder, label="first")
    uri = first.attach()
    pid = read_state(folder)["pid"]
    os.kill(pid, signal.SIGSTOP)  # answers no ping for 4 s
    threading.Timer(4.0, os.kill, (pid, signal.SIGCONT)).start()
    second = SharedStore(folder, label="second")
    try:
        assert second.attach() == uri
        assert not second.started
        assert read_state(folder)["pid"] == pid  # its server.json is still there
    finally:
        second.detach()
        first.detach()
    assert first._server is not None and first._server.process is not None
    assert first._server.process.returncode == 0


def test_a_server_that_never_stops_listening_is_killed_in_the_end(tmp_path: Path, monkeypatch):
    """A server whose connections are still served while its main thread never acts on
    SIGTERM: it is signalled again, but not for ever; the command that stops it ends, and
    the server is killed as a last resort. Here a process that ignores SIGTERM and accepts
    connections, with the timeouts shortened."""
    monkeypatch.setattr(embedded, "STOP_TIMEOUT_S", 1.0)
    monkeypatch.setattr(embedded, "RESIGNAL_AFTER_S", 0.1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "import signal, socket, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"s = socket.create_server(('127.0.0.1', {port}))\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    s.accept()[0].close()\n"
    )
    wedged = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert wedged.stdout is not None and wedged.stdout.readline() == "ready\n"
        stopper = threading.Thread(
            target=embedded.stop_server_process,
            args=(wedged.pid, port, lambda: wedged.poll() is not None),
            daemon=True,
        )
        stopper.start()
        stopper.join(60)  # far above the shortened timeouts: the loop never ended before
        assert not stopper.is_alive(), "still signalling a server that never stops listening"
        assert wedged.wait(10) == -signal.SIGKILL
    finally:
        wedged.kill()
        wedged.wait()
