"""The local journal: fetched pages that could not reach MongoDB, kept until they can.

When writes still fail after retries with backoff, the page (raw bytes and all)
is appended to a JSON-lines file and fsynced. The next command that starts
replays every journal file through the same processing; replays are safe
because every store write is idempotent. A file is claimed by renaming it,
so two processes never replay the same file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import zstandard
from bson import json_util
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from crawler import env
from crawler.clock import Clock
from crawler.paths import journal_dir
from crawler.pipeline.processing import FetchedPage

log = logging.getLogger(__name__)

TRANSIENT = (AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError)
T = TypeVar("T")


def with_retry(action: Callable[[], T], attempts: int = 4, first_delay: float = 0.5) -> T:
    """Run a database action, retrying transient failures with exponential backoff."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except TRANSIENT as exc:
            if attempt == attempts:
                raise
            log.warning(
                "MongoDB unavailable (%s); retry %d/%d in %.1fs",
                exc.__class__.__name__,
                attempt,
                attempts - 1,
                delay,
            )
            time.sleep(delay)
            delay *= 2
        except OperationFailure as exc:
            if not exc.has_error_label("RetryableWriteError") or attempt == attempts:
                raise
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class ReplayRefused(Exception):
    """A journalled line its handler could not store (already recorded as an error)."""


class Journal:
    """Append-only spool for one process: fetched pages, and the fetch records and
    run ends the ledger could not write. Each line is fsynced before append returns."""

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        self.directory = Path(directory) if directory else journal_dir()
        self.path = self.directory / f"journal-{os.getpid()}-{int(time.time() * 1000)}.jsonl"
        self.count = 0
        self._lock = threading.Lock()  # pages and ledger records come from several threads

    def append(self, page: FetchedPage, error: str) -> None:
        record = page.to_dict()
        record["body"] = base64.b64encode(
            zstandard.ZstdCompressor(level=3).compress(page.body)
        ).decode()
        record["fetched_at"] = page.fetched_at.isoformat()
        record["journal_error"] = error
        self._write({"type": "page", **record})
        self.count += 1
        if self.count == 1:
            log.error(
                "MongoDB unreachable: spooling pages to %s; they are replayed on the next start",
                self.path,
            )

    def append_records(self, kind: str, docs: list[dict[str, Any]]) -> None:
        """Documents for a collection (`fetches`, or `run` for a crawl run's end)."""
        self._write({"type": kind, "docs": json_util.dumps(docs, json_options=_EXACT)})

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record) + "\n"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            append_lines(self.path, line)


_EXACT = json_util.CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=timezone.utc)


@dataclass
class ReplayReport:
    pages: int = 0
    records: int = 0
    failed: int = 0  # lines a handler refused: kept in failed-*.jsonl
    unreadable: int = 0  # lines cut short by a kill during append: kept in failed-*.jsonl
    steps: int = 0  # pages and record batches replayed (what the bounds count)
    stopped: str | None = None  # why the replay stopped before the journal was empty


@dataclass(frozen=True)
class ReplayBounds:
    """How much one crawl start replays: at most `steps` pages or batches of
    REPLAY_BATCH records, for at most `seconds`; the rest waits for the next start.

    A journal of hundreds of MB (a big site's fetch log spilled during an outage)
    is then drained over several starts, each of them bounded, instead of making
    every crawl of every site wait for it (or fail with it)."""

    steps: int = 500
    seconds: float = 30.0

    @classmethod
    def from_env(cls) -> ReplayBounds:
        """NEWSCRAWL_REPLAY_STEPS and NEWSCRAWL_REPLAY_SECONDS, else the defaults."""
        return cls(
            steps=int(env.get("NEWSCRAWL_REPLAY_STEPS") or cls.steps),
            seconds=float(env.get("NEWSCRAWL_REPLAY_SECONDS") or cls.seconds),
        )


REPLAY_BATCH = 200  # journalled records written per insert during a replay


def _decode_page(record: dict[str, Any]) -> FetchedPage:
    record = {k: v for k, v in record.items() if k not in ("journal_error", "type")}
    record["body"] = zstandard.ZstdDecompressor().decompress(base64.b64decode(record["body"]))
    record["fetched_at"] = datetime.fromisoformat(record["fetched_at"])
    return FetchedPage(**record)


class _Stop(Exception):
    """The replay stops here: the bounds are spent, or MongoDB is away (`reason`)."""

    def __init__(self, reason: str, rest_of_line: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.rest_of_line = rest_of_line  # the part of the current line not yet replayed


def replay(
    handle_page: Callable[[FetchedPage], Any],
    handle_records: Callable[[str, list[dict[str, Any]]], Any] | None = None,
    directory: str | os.PathLike[str] | None = None,
    bounds: ReplayBounds | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    *,
    clock: Clock,
) -> ReplayReport:
    """Feed journalled lines to their handlers, within `bounds`; delete what went in.

    Crash-safe: a file is claimed by renaming it to `*.replaying-PID`, and a claim
    whose process is dead is taken over, so a replay killed half-way is replayed
    again (the store's writes are idempotent). When the bounds are spent, or
    MongoDB is away (a transient error), the replay stops without raising: what is
    left goes to a `-rest` file for the next start, and the caller's crawl goes on.
    A line its handler refuses, or one cut short by a kill during append, is moved
    to `failed-*.jsonl` beside the journal and logged with file and line: kept,
    never dropped. Files are read a line at a time, so their size costs no memory.
    """
    folder = Path(directory) if directory else journal_dir()
    report = ReplayReport()
    if not folder.is_dir():
        return report
    limits = bounds or ReplayBounds.from_env()
    deadline = monotonic() + limits.seconds

    def spend() -> None:
        """One step replayed; stop once the bounds are spent."""
        report.steps += 1
        if report.steps >= limits.steps or monotonic() >= deadline:
            raise _Stop(
                f"replay bounds reached ({limits.steps} steps or {limits.seconds:g} s "
                "a start); the rest is replayed by the next start"
            )

    for path in _claimable(folder):
        claimed = folder / f"{_origin(path)}.replaying-{os.getpid()}"
        try:
            path.rename(claimed)
        except OSError:
            continue  # another process claimed it first
        try:
            _replay_file(claimed, folder, handle_page, handle_records, report, spend)
        except _Stop as stop:
            if _claimable(folder):  # the bounds ran out on the very last line: not stopped
                report.stopped = stop.reason
                log.warning("journal replay stopped: %s", stop.reason)
            break
    _write_progress(folder, report, clock())
    return report


def _replay_file(
    claimed: Path,
    folder: Path,
    handle_page: Callable[[FetchedPage], Any],
    handle_records: Callable[[str, list[dict[str, Any]]], Any] | None,
    report: ReplayReport,
    spend: Callable[[], None],
) -> None:
    failed = folder / f"failed-{_origin(claimed)}.jsonl"
    with open(claimed, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            try:
                _replay_line(line, number, claimed, failed, handle_page, handle_records, report)
            except _Stop as stop:
                _keep_rest(claimed, folder, stop.rest_of_line or line, lines)
                raise
            try:
                spend()
            except _Stop:
                _keep_rest(claimed, folder, None, lines)
                raise
    claimed.unlink()
    log.info("replayed journal %s", claimed.name)


def _replay_line(
    line: str,
    number: int,
    claimed: Path,
    failed: Path,
    handle_page: Callable[[FetchedPage], Any],
    handle_records: Callable[[str, list[dict[str, Any]]], Any] | None,
    report: ReplayReport,
) -> None:
    if not line.strip():
        return
    try:
        record = json.loads(line)
    except ValueError:
        report.unreadable += 1
        log.error("%s line %d: unreadable journal line kept in %s", claimed, number, failed)
        _append_durably(failed, [line])
        return
    try:
        if record.get("type", "page") == "page":
            handle_page(_decode_page(record))
            report.pages += 1
        elif handle_records is not None:
            docs = json_util.loads(record["docs"], json_options=_EXACT)
            _replay_records(record["type"], docs, handle_records, report)
    except _Stop:
        raise
    except TRANSIENT as exc:
        raise _Stop(f"MongoDB unavailable ({exc.__class__.__name__})") from exc
    except Exception as exc:  # a bug or a page the store refuses: keep it, go on
        report.failed += 1
        log.error("%s line %d: could not replay (%r); kept in %s", claimed, number, exc, failed)
        _append_durably(failed, [line])


def _replay_records(
    kind: str,
    docs: list[dict[str, Any]],
    handle_records: Callable[[str, list[dict[str, Any]]], Any],
    report: ReplayReport,
) -> None:
    """A line of records, REPLAY_BATCH at a time (older journals hold 36,000 to a line);
    when MongoDB goes away half-way, what is left of the line is kept, re-encoded."""
    for start in range(0, len(docs), REPLAY_BATCH):
        try:
            handle_records(kind, docs[start : start + REPLAY_BATCH])
        except TRANSIENT as exc:
            rest = json.dumps(
                {"type": kind, "docs": json_util.dumps(docs[start:], json_options=_EXACT)}
            )
            raise _Stop(f"MongoDB unavailable ({exc.__class__.__name__})", rest) from exc
        report.records += len(docs[start : start + REPLAY_BATCH])


def _keep_rest(claimed: Path, folder: Path, current: str | None, lines: Any) -> None:
    """What a stopped replay leaves: `current` (the line it stopped on, or what is left
    of it) and the lines after it, copied into a fresh journal file whose name stays
    short however often the replay stops (journal-<origin>-rest-<pid>-<ms>)."""
    rest = folder / f"{_origin(claimed)}-rest-{os.getpid()}-{int(time.time() * 1000)}.jsonl"
    with open(rest, "w", encoding="utf-8") as out:
        if current is not None and current.strip():
            out.write(current + "\n")
        shutil.copyfileobj(lines, out)
        out.flush()
        os.fsync(out.fileno())
    if rest.stat().st_size == 0:
        rest.unlink()
    claimed.unlink()


def _claimable(folder: Path) -> list[Path]:
    """Unclaimed journal files, and claims left behind by a process that died."""
    from crawler.store.embedded import pid_alive

    paths = list(folder.glob("journal-*.jsonl"))
    for path in folder.glob("journal-*.replaying-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            paths.append(path)
    return sorted(paths, key=lambda p: p.name)


def _origin(path: Path) -> str:
    """`journal-<pid>-<ms>` of the journal a file comes from, however many times its
    replay was stopped and resumed (so names stay bounded: no ENAMETOOLONG)."""
    stem = path.name.split(".", 1)[0]
    parts = stem.split("-")
    return "-".join(parts[:3]) if parts[0] == "journal" and len(parts) >= 3 else stem


def _append_durably(path: Path, lines: list[str]) -> None:
    append_lines(path, "".join(line + "\n" for line in lines))


def append_lines(path: Path, text: str) -> None:
    """Append whole lines to `path` and fsync them, or nothing at all.

    A write that fails part-way (a full disk, a file-size limit: the kernel writes
    what fits, then refuses the rest) is cut back to the file's size before it, so
    the journal never holds half a line that a replay could only keep as unreadable,
    and the caller's error says the record was not journalled (it records the page as
    lost: crawler.pipeline.item_pipeline). Should a file end mid-line all the same (a
    process killed during its write), the next line starts on a line of its own,
    rather than glued to the cut one and lost with it."""
    data = text.encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        before = os.fstat(fd).st_size
        if before and os.pread(fd, 1, before - 1) != b"\n":
            data = b"\n" + data
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)


PROGRESS_FILE = "replay-progress.json"


def _write_progress(folder: Path, report: ReplayReport, now: datetime) -> None:
    """What a replay that stopped early did and why, for `newscrawl status`; removed once
    a replay gets to the end of the journal (nothing is left to report on)."""
    if not report.stopped:
        (folder / PROGRESS_FILE).unlink(missing_ok=True)
        return
    progress = {
        "at": now.isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "pages": report.pages,
        "records": report.records,
        "failed": report.failed + report.unreadable,
        "stopped": report.stopped,
    }
    try:
        tmp = folder / f".{PROGRESS_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(progress), encoding="utf-8")
        tmp.replace(folder / PROGRESS_FILE)
    except OSError as exc:  # a full disk: the replay itself is what matters
        log.warning("journal replay progress not saved: %s", exc)


def backlog(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The journal waiting to be replayed: files, bytes, claimed files, failed lines,
    and what the last replay did (for `newscrawl status`)."""
    folder = Path(directory) if directory else journal_dir()
    waiting = list(folder.glob("journal-*")) if folder.is_dir() else []
    failed = list(folder.glob("failed-*.jsonl")) if folder.is_dir() else []
    last: dict[str, Any] | None = None
    try:
        last = json.loads((folder / PROGRESS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    return {
        "directory": str(folder),
        "files": len(waiting),
        "bytes": sum(_size(path) for path in waiting),
        "being_replayed": sum(".replaying-" in path.name for path in waiting),
        "failed_files": len(failed),
        "last_replay": last,
    }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # replayed and deleted meanwhile
        return 0
