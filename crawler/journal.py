"""The local journal: fetched pages that could not reach MongoDB, kept until they can.

When writes still fail after retries with backoff, the page (raw bytes and all)
is appended to a JSON-lines file and fsynced. The next command that starts
replays every journal file through the same processing; replays are safe
because every store write is idempotent. A file is claimed by renaming it,
so two processes never replay the same file.
"""

from __future__ import annotations

import base64
import json
import logging
import os
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

from crawler.paths import journal_dir
from crawler.processing import FetchedPage

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
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


_EXACT = json_util.CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=timezone.utc)


@dataclass
class ReplayReport:
    pages: int = 0
    records: int = 0
    failed: int = 0  # lines a handler refused: kept in failed-*.jsonl
    unreadable: int = 0  # lines cut short by a kill during append: kept in failed-*.jsonl


def _decode_page(record: dict[str, Any]) -> FetchedPage:
    record = {k: v for k, v in record.items() if k not in ("journal_error", "type")}
    record["body"] = zstandard.ZstdDecompressor().decompress(base64.b64decode(record["body"]))
    record["fetched_at"] = datetime.fromisoformat(record["fetched_at"])
    return FetchedPage(**record)


def replay(
    handle_page: Callable[[FetchedPage], Any],
    handle_records: Callable[[str, list[dict[str, Any]]], Any] | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> ReplayReport:
    """Feed every journalled line to its handler; delete a file once all of it went in.

    Crash-safe: a file is claimed by renaming it to `*.replaying-PID`, and a claim
    whose process is dead is taken over, so a replay killed half-way is replayed
    again (the store's writes are idempotent). A transient database error stops
    the replay and keeps what is left for next time. A line its handler refuses,
    or one cut short by a kill during append, is moved to `failed-*.jsonl` beside
    the journal and logged with file and line: kept, never dropped.
    """
    folder = Path(directory) if directory else journal_dir()
    report = ReplayReport()
    if not folder.is_dir():
        return report
    for path in _claimable(folder):
        claimed = folder / f"{_stem(path)}.replaying-{os.getpid()}"
        try:
            path.rename(claimed)
        except OSError:
            continue  # another process claimed it first
        _replay_file(claimed, folder, handle_page, handle_records, report)
    return report


def _replay_file(
    claimed: Path,
    folder: Path,
    handle_page: Callable[[FetchedPage], Any],
    handle_records: Callable[[str, list[dict[str, Any]]], Any] | None,
    report: ReplayReport,
) -> None:
    lines = claimed.read_text(encoding="utf-8", errors="replace").splitlines()
    failed = folder / f"failed-{_stem(claimed)}.jsonl"
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            report.unreadable += 1
            log.error("%s line %d: unreadable journal line kept in %s", claimed, number, failed)
            _append_durably(failed, [line])
            continue
        try:
            if record.get("type", "page") == "page":
                handle_page(_decode_page(record))
                report.pages += 1
            elif handle_records is not None:
                docs = json_util.loads(record["docs"], json_options=_EXACT)
                handle_records(record["type"], docs)
                report.records += len(docs)
        except TRANSIENT:
            rest = folder / f"{_stem(claimed)}-rest-{int(time.time() * 1000)}.jsonl"
            _append_durably(rest, lines[number - 1 :])
            claimed.unlink()
            log.error("journal replay stopped: MongoDB unavailable; the rest is kept in %s", rest)
            raise
        except Exception as exc:  # a bug or a page the store refuses: keep it, go on
            report.failed += 1
            log.error("%s line %d: could not replay (%r); kept in %s", claimed, number, exc, failed)
            _append_durably(failed, [line])
    claimed.unlink()
    log.info("replayed journal %s", claimed.name)


def _claimable(folder: Path) -> list[Path]:
    """Unclaimed journal files, and claims left behind by a process that died."""
    from crawler.embedded import pid_alive

    paths = list(folder.glob("journal-*.jsonl"))
    for path in folder.glob("journal-*.replaying-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            paths.append(path)
    return sorted(paths, key=lambda p: p.name)


def _stem(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _append_durably(path: Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())
