"""The embedded MongoDB-compatible server used when no MONGODB_URI is configured.

secantusdb (PyPI) speaks the MongoDB wire protocol on WiredTiger. It allows one
process per data directory, so the server we start records its URI and PID in
`<data>/server.json`; a second command (a one-off crawl while the service runs)
finds it there and connects to it instead of starting another, and leaves it
running on exit because it is not its own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "data/mongo"
# No oplog: nothing here uses change streams or transactions, and secantusdb's oplog
# pruning walks every entry it deleted before: past its 100,000-entry cap a load of
# fingerprints went from 6 s per 10,000 inserts to over 10 minutes (bench notes in
# the README). A months-long service passes that cap. Standalone, pymongo does not
# retry writes: a write to a child process on loopback that fails has lost the
# server, not a packet, and crawler.journal keeps what could not be stored.
SERVER_ARGS = ("--standalone",)
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(uri: str, timeout_ms: int = 1500) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _server_command() -> list[str]:
    exe = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    return [exe]


class EmbeddedServer:
    """A secantusdb child process on 127.0.0.1 with its data in `data_dir`."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
        port: int | None = None,
        server_args: Sequence[str] = (),
    ):
        """`server_args` go to secantusd-py after SERVER_ARGS, as they are (a benchmark
        raises the cache with them)."""
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.server_args = list(server_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.uri = ""
        self.owned = False

    @property
    def _state_file(self) -> Path:
        return self.data_dir / "server.json"

    def start(self) -> str:
        """Start the server, or join the one already serving this data directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        existing = self._running_uri()
        if existing:
            self.uri = existing
            return existing
        self.port = self.port or free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        log_file = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the child
        cmd = _server_command() + [
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data_dir / "db"),
            "--log-level",
            "WARNING",
            *SERVER_ARGS,
            *self.server_args,
        ]
        self.process = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.owned = True
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"embedded MongoDB server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'server.log'}"
                )
            if ping(self.uri, 500):
                self._state_file.write_text(json.dumps({"uri": self.uri, "pid": self.process.pid}))
                return self.uri
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"embedded MongoDB server did not answer within {START_TIMEOUT_S:.0f}s")

    def _running_uri(self) -> str | None:
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        uri, pid = state.get("uri"), state.get("pid")
        if not uri or not pid_alive(pid):
            return None
        return str(uri) if ping(uri) else None

    def stop(self) -> None:
        """Stop the server if this object started it; WiredTiger needs a clean shutdown."""
        if not self.owned or self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("embedded MongoDB server did not stop in time; killing it")
                self.process.kill()
                self.process.wait()
        self._state_file.unlink(missing_ok=True)
        self.owned = False

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pid_alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
