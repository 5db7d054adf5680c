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
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import zstandard
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from crawler.processing import FetchedPage

log = logging.getLogger(__name__)

DEFAULT_JOURNAL_DIR = "data/journal"
TRANSIENT = (AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError)
T = TypeVar("T")


def journal_dir() -> Path:
    return Path(os.environ.get("CRAWLER_JOURNAL", DEFAULT_JOURNAL_DIR))


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


class Journal:
    """Append-only spool of FetchedPages for one process."""

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        self.directory = Path(directory) if directory else journal_dir()
        self.path = self.directory / f"journal-{os.getpid()}-{int(time.time() * 1000)}.jsonl"
        self.count = 0

    def append(self, page: FetchedPage, error: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        record = page.to_dict()
        record["body"] = base64.b64encode(
            zstandard.ZstdCompressor(level=3).compress(page.body)
        ).decode()
        record["fetched_at"] = page.fetched_at.isoformat()
        record["journal_error"] = error
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.count += 1
        if self.count == 1:
            log.error(
                "MongoDB unreachable: spooling pages to %s; they are replayed on the next start",
                self.path,
            )


def _decode(line: str) -> FetchedPage:
    record: dict[str, Any] = json.loads(line)
    record.pop("journal_error", None)
    record["body"] = zstandard.ZstdDecompressor().decompress(base64.b64decode(record["body"]))
    record["fetched_at"] = datetime.fromisoformat(record["fetched_at"])
    return FetchedPage(**record)


def replay(
    handle_page: Callable[[FetchedPage], Any], directory: str | os.PathLike[str] | None = None
) -> int:
    """Feed every journalled page to `handle_page`; delete a file once all its pages went in."""
    folder = Path(directory) if directory else journal_dir()
    if not folder.is_dir():
        return 0
    replayed = 0
    for path in sorted(folder.glob("journal-*.jsonl")):
        claimed = path.with_suffix(f".replaying-{os.getpid()}")
        try:
            path.rename(claimed)
        except OSError:
            continue  # another process claimed it
        lines = [line for line in claimed.read_text(encoding="utf-8").splitlines() if line.strip()]
        done = 0
        try:
            for line in lines:
                handle_page(_decode(line))
                done += 1
        except Exception:
            remaining = lines[done:]
            path.write_text("\n".join(remaining) + "\n", encoding="utf-8")
            claimed.unlink()
            log.exception("journal replay stopped; %d pages remain in %s", len(remaining), path)
            raise
        claimed.unlink()
        replayed += done
        log.info("replayed %d journalled pages from %s", done, path.name)
    return replayed
