"""What the archivist's reads cost as the store grows: `newscrawl export` and `changes`.

Builds an embedded store of versions spread over 30 days (each with ~20 kB of raw
page, zstd-compressed as the crawler stores it), then, at two store sizes in the
same run:

- export to WARC and to JSON lines (crawler.store.export): the peak of Python memory
  (tracemalloc) and the time, next to the plain way (one query sorted by
  `fetched_at`, written as it comes), whose memory grows with the store;
- `changes` (the newest 50 edits of the month, crawler.cli.changes.change_rows),
  next to one sorted query of the month's versions.

    python bench/archive_reads.py [--versions 4000]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from crawler.cli.changes import change_rows
from crawler.clock import utcnow
from crawler.store import connect, ensure_indexes, export
from crawler.store.embedded import EmbeddedServer
from crawler.store.versions import compress_raw, decompress_raw

WORDS = ["council", "harbour", "budget", "ferry", "storm", "school", "bridge", "mayor", "vote"]


def page(rng: random.Random, n: int) -> bytes:
    text = " ".join(rng.choice(WORDS) for _ in range(3000))
    return (
        f"<html><head><title>Article {n}</title></head><body><p>{text}</p></body></html>".encode()
    )


def load(db: Any, start: int, count: int, now: Any) -> None:
    rng = random.Random(start)
    docs = []
    for n in range(start, start + count):
        body = page(rng, n)
        fetched = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
        version = 1 + n % 3
        docs.append(
            {
                "_id": f"a{n // 3}:{version}",
                "article_id": f"a{n // 3}",
                "version": version,
                "url": f"http://site{n % 20}.test/news/{n // 3}/",
                "site": f"site{n % 20}",
                "fetched_at": fetched,
                "title": f"Article {n}",
                "text": "x " * 500,
                "content_hash": f"h{n}",
                "change": {"kinds": ["first"] if version == 1 else ["body_edited"], "diff": ""},
                "raw": {"zstd": compress_raw(body), "size": len(body)},
                "http": {"status": 200, "content-type": "text/html"},
            }
        )
        if len(docs) == 500:
            db.versions.insert_many(docs)
            docs = []
    if docs:
        db.versions.insert_many(docs)


def measure(label: str, run: Callable[[], Any]) -> None:
    """Time a run, then run it again under tracemalloc for its peak of Python memory
    (tracemalloc slows allocation-heavy code: the time is taken without it)."""
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(f"  {label:44s} {seconds:7.2f} s  peak {peak:7.1f} MB")


def plain_export(db: Any) -> None:
    """The plain way: one query sorted by fetched_at (the embedded store sorts the whole
    collection in memory and hands over every document)."""
    out = io.BytesIO()
    for version in list(db.versions.find().sort("fetched_at", 1)):
        out.write(decompress_raw(version["raw"]["zstd"]))


def report(db: Any, tmp: Path, now: Any) -> None:
    window = export.Window()

    def warc() -> None:
        with (tmp / "out.warc.gz").open("wb") as out:
            export.write_warc(db, out, window, now)

    def jsonl() -> None:
        with (tmp / "out.jsonl").open("w") as text:
            export.write_jsonl(db, text, window, now)

    measure("export --format warc", warc)
    measure("export --format jsonl", jsonl)
    measure("baseline: one sorted query", lambda: plain_export(db))
    month = now - timedelta(days=30)
    measure("changes --since 30d (50 newest)", lambda: change_rows(db, month, now))
    measure(
        "baseline: sorted query of the month",
        lambda: list(
            db.versions.find({"fetched_at": {"$gte": month}}, {"raw": 0, "text": 0})
            .sort("fetched_at", -1)
            .limit(50)
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=4000)
    args = parser.parse_args()
    now = utcnow()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedServer(Path(tmp) / "mongo") as server:
        db = connect(server.uri, "bench")
        ensure_indexes(db)
        loaded = 0
        for size in (args.versions // 4, args.versions):
            load(db, loaded, size - loaded, now)
            loaded = size
            print(f"{size} versions over 30 days")
            report(db, Path(tmp), now)


if __name__ == "__main__":
    main()
