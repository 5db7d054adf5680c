"""The embedded MongoDB-compatible server used when no MONGODB_URI is configured.

secantusdb (PyPI) speaks the MongoDB wire protocol on WiredTiger. It allows one
process per data directory, so the server we start records its URI and PID in
`<data>/server.json`; a second command (a one-off crawl while the service runs)
finds it there and connects to it instead of starting another.

`EmbeddedServer` is one server process (tests and benchmarks start and stop
their own). Commands and the service share the store through `SharedStore`:
every process using it holds it, and the server stops only when the last holder
ends, whoever started it (docs/design/embedded-store.md).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "data/mongo"
# No oplog: nothing here uses change streams or transactions, and secantusdb's oplog
# pruning walks every entry it deleted before: past its 100,000-entry cap a load of
# fingerprints went from 6 s per 10,000 inserts to over 10 minutes (bench notes in
# the README). A months-long service passes that cap. Standalone, pymongo does not
# retry writes: a write to a child process on loopback that fails has lost the
# server, not a packet, and crawler.pipeline.journal keeps what could not be stored.
SERVER_ARGS = ("--standalone",)
START_TIMEOUT_S = 30.0
# A clean stop takes ~2 s (secantusd waits 2 s for its accept thread); a server is killed
# only when it has not ended this long after it stopped listening (WiredTiger then
# recovers from its log on the next start, but a kill is never the plan).
STOP_TIMEOUT_S = 60.0
# A server still listening this long after a SIGTERM never saw it: it is sent again
# (see stop_server_process).
RESIGNAL_AFTER_S = 2.5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(uri: str, timeout_ms: int = 1500) -> bool:
    from pymongo import MongoClient  # here: `newscrawl --help` and `extract` need no driver
    from pymongo.errors import PyMongoError

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
        label: str = "",
    ):
        """`server_args` go to secantusd-py after SERVER_ARGS, as they are (a benchmark
        raises the cache with them); `label` (the command that started it) goes to
        server.json, for the other commands' messages."""
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.server_args = list(server_args)
        self.label = label
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
        # Written before it answers: a starter killed now leaves a server the next one finds.
        self._write_state("starting")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._forget_state()
                raise RuntimeError(
                    f"embedded MongoDB server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'server.log'}"
                )
            if ping(self.uri, 500):
                self._write_state("running")
                return self.uri
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"embedded MongoDB server did not answer within {START_TIMEOUT_S:.0f}s")

    def _forget_state(self) -> None:
        """Remove server.json if it is this object's server's: a server that could not start
        (another one serves the folder) must not make the one that does unfindable."""
        pid = self.process.pid if self.process is not None else None
        if read_state(self.data_dir).get("pid") == pid:
            self._state_file.unlink(missing_ok=True)

    def _write_state(self, state: str) -> None:
        assert self.process is not None
        data = {
            "uri": self.uri,
            "pid": self.process.pid,
            "port": self.port,
            "state": state,
            "started_by": self.label or None,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        tmp = self._state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._state_file)

    def _running_uri(self) -> str | None:
        """The URI of the live server of this folder, or None when there is none.

        A live server of this folder that does not answer a ping (still starting, or
        too busy to answer within the ping's 1.5 s on a loaded machine) is waited for,
        up to START_TIMEOUT_S. Taking it for gone started a second server on the
        folder, which WiredTiger refused, and whose failed start removed the live
        one's server.json: that server was then never stopped cleanly."""
        state = read_state(self.data_dir)
        uri, pid = state.get("uri"), state.get("pid")
        if not uri or not pid_alive(pid):
            return None
        assert isinstance(pid, int)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if ping(uri):
                return str(uri)
            if not pid_alive(pid) or not _serves(pid, self.data_dir):
                return None
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"the embedded MongoDB server of {self.data_dir} (pid {pid}) runs but "
                    f"has not answered at {uri} for {START_TIMEOUT_S:.0f}s; see "
                    f"{self.data_dir / 'server.log'}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the server if this object started it; WiredTiger needs a clean shutdown."""
        if not self.owned or self.process is None:
            return
        process = self.process
        if process.poll() is None:
            stop_server_process(process.pid, self.port, lambda: process.poll() is not None)
            process.wait()
        self._forget_state()
        self.owned = False

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pid_alive(pid: object) -> bool:
    """Whether `pid` is a running process (a zombie, ended but not yet reaped, is not)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Linux only (/proc); elsewhere a zombie counts as alive, which errs on keeping a store."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def read_state(data_dir: Path) -> dict[str, Any]:
    """server.json of a data folder: the running server's uri, pid and who started it."""
    try:
        state = json.loads((data_dir / "server.json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def store_exists(data_dir: Path) -> bool:
    """Whether a store was ever made in `data_dir` (its WiredTiger files are there)."""
    db = data_dir / "db"
    return db.is_dir() and any(db.iterdir())


def port_free(port: int) -> bool:
    """Whether a server could listen on `port` now (as servers do, despite TIME_WAIT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- one store, many processes -----------------------------------------------------------

KEEP_CHECK_S = 2.0  # how often an owner (service, `newscrawl store`) checks its server
DECISION_LOCK = "store.lock"  # held exclusively while a process decides to start or stop
USERS_LOCK = "users.lock"  # every process using the store holds a shared lock on it


class NoStore(Exception):
    """A command that only reads found no store to read (exit status 1)."""


class SharedStore:
    """This process's hold on the embedded store of a data folder, which other processes share.

    Why file locks rather than a list of PIDs: each process using the store holds
    a shared `flock` on `users.lock` from attach to detach, and the kernel drops it
    when the process ends, however it ends (kill -9 included). So the count of
    users cannot go stale or be fooled by a reused PID. Starting and stopping are
    decided under an exclusive lock on `store.lock`, so no process can attach
    while another decides to stop. The process that ends last, the only one
    that can then lock `users.lock` exclusively, stops the server, whoever started
    it. The server runs in its own session, so the starter ending does not end it.
    """

    def __init__(
        self, data_dir: str | os.PathLike[str], label: str = "", server_args: Sequence[str] = ()
    ):
        self.data_dir = Path(data_dir).resolve()
        self.label = label
        self.server_args = list(server_args)
        self.uri = ""
        self.started = False  # this process started the server
        self.state: dict[str, Any] = {}
        self._users_fd: int | None = None
        self._server: EmbeddedServer | None = None
        self._keeping = threading.Event()  # set: no keeper thread runs (or it must end)
        self._keeping.set()

    def attach(self, create: bool = True) -> str:
        """Use the running server, or start one; with `create` False, never make a new store."""
        if not create and not store_exists(self.data_dir) and not read_state(self.data_dir):
            raise NoStore(f"no store in {self.data_dir} (none there and none running)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._deciding():
            self._users_fd = _lock_file(self.data_dir / USERS_LOCK, fcntl.LOCK_SH)
            try:
                self.uri = self._running() or self._start(create)
            except BaseException:
                self._release_users()
                raise
        self.state = read_state(self.data_dir)
        return self.uri

    def keep(self, every_s: float = KEEP_CHECK_S) -> None:
        """Watch the server for as long as this process holds it, and start it again (on the
        same port when free, so the URI handed to crawls stays right) when it died. The
        service and `newscrawl store` keep the store this way: they are its owners."""
        self._keeping.clear()
        thread = threading.Thread(target=self._keep, args=(every_s,), name="store-keeper")
        thread.daemon = True
        thread.start()

    def _keep(self, every_s: float) -> None:
        backoff = every_s
        while not self._keeping.wait(backoff):
            pid = read_state(self.data_dir).get("pid")
            if pid_alive(pid):
                backoff = every_s
                continue
            with self._deciding():
                if self._keeping.is_set() or pid_alive(read_state(self.data_dir).get("pid")):
                    continue
                log.warning("the embedded store at %s is gone; starting it again", self.uri)
                try:
                    self.uri = self._start(create=True)
                    backoff = every_s
                except Exception as exc:  # tried again later, less often
                    log.error("could not start the embedded store again: %s", exc)
                    backoff = min(backoff * 2, 60.0)

    def detach(self) -> bool:
        """Stop holding the store; stop the server if no other process holds it. True if stopped."""
        self._keeping.set()
        if self._users_fd is None:
            return False
        with self._deciding():
            self._release_users()
            try:
                alone = _lock_file(self.data_dir / USERS_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another process uses it: the last one to end stops it
            try:
                self._stop_server()
            finally:
                os.close(alone)
        return True

    def _running(self) -> str | None:
        return EmbeddedServer(self.data_dir)._running_uri()

    def _start(self, create: bool) -> str:
        if not create and not store_exists(self.data_dir):
            raise NoStore(f"no store in {self.data_dir} (none there and none running)")
        previous = read_state(self.data_dir).get("port")
        port = previous if isinstance(previous, int) and port_free(previous) else None
        server = EmbeddedServer(self.data_dir, port, self.server_args, label=self.label)
        uri = server.start()
        self._server, self.started = server, True
        process = server.process
        if process is not None:  # reaped whenever it ends, so no zombie looks alive to others
            threading.Thread(target=process.wait, name="store-reaper", daemon=True).start()
        return uri

    def _stop_server(self) -> None:
        own = self._server.process if self._server is not None else None
        if self._server is not None and own is not None and own.poll() is None:
            self._server.stop()
            return
        state = read_state(self.data_dir)
        pid = state.get("pid")
        if isinstance(pid, int) and pid_alive(pid) and _serves(pid, self.data_dir):
            _terminate(pid, state.get("port"))
        (self.data_dir / "server.json").unlink(missing_ok=True)

    def _release_users(self) -> None:
        if self._users_fd is not None:
            os.close(self._users_fd)
            self._users_fd = None

    @contextlib.contextmanager
    def _deciding(self) -> Iterator[None]:
        fd = _lock_file(self.data_dir / DECISION_LOCK, fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.close(fd)


def _lock_file(path: Path, operation: int) -> int:
    """Open `path` and flock it; the descriptor is closed on exec, so children do not hold it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, operation)
                return fd
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
    except BaseException:
        os.close(fd)
        raise


def _serves(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is the server of `data_dir` (checked on /proc, so a reused PID is spared)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc: server.json and a live PID are all there is to go on
    return str(data_dir / "db").encode() in cmdline


def _terminate(pid: int, port: object = None) -> None:
    """Stop a server another process started, cleanly (stop_server_process)."""
    stop_server_process(pid, port if isinstance(port, int) else None, lambda: not pid_alive(pid))


def stop_server_process(pid: int, port: int | None, ended: Any) -> None:
    """SIGTERM the server `pid` and wait until `ended()`; SIGTERM again while it never saw it.

    secantusd stops on SIGTERM from a Python handler, which its main thread runs
    when it wakes from waiting for the server's end. A signal that reaches it at
    the wrong moment is noted and never acted on (every time after a SIGSTOP/SIGCONT
    here; the suspected cause of the SIGKILLs of stores stopped just after they
    started): the server served on, and was SIGKILLed 15 s later with WiredTiger
    open. Its first act on
    the signal is to close its listening socket, so a server still listening
    RESIGNAL_AFTER_S after the signal has not seen it and gets it again; one that
    stopped listening is stopping, and is only waited for. It is killed only when it
    has not ended STOP_TIMEOUT_S after the last signal (logged as an error); signals are
    sent again during the first STOP_TIMEOUT_S only, so the stop ends, by a kill at worst,
    within twice that.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    first = signalled = time.monotonic()
    while not ended():
        waited = time.monotonic() - signalled
        if waited >= STOP_TIMEOUT_S:
            log.error("embedded MongoDB server %d did not stop in %.0fs; killing it", pid, waited)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        # signalled again for STOP_TIMEOUT_S at most: a server that serves on whatever it
        # is sent would otherwise keep its stopper waiting for ever
        resignal = time.monotonic() - first < STOP_TIMEOUT_S
        if resignal and port is not None and waited >= RESIGNAL_AFTER_S and _listening(port):
            log.info("embedded MongoDB server %d did not act on SIGTERM; sending it again", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            signalled = time.monotonic()
        time.sleep(0.05)


def _listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except OSError:
        return False
    return True
