"""Every real third-party feed and sitemap goes through discovery without a crash or a hang.

Uses ../shared/corpora when present (users' checkouts lack it: the tests skip then).
A file may be refused, but only with a DiscoveryError that names it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from crawler.crawl import discovery
from tests.conftest import CORPORA

SKIP_SUFFIXES = {".json", ".md", ".jsonl", ".license"}
PER_FILE_SECONDS = 10


def _files(folder: str) -> list[Path]:
    root = CORPORA / folder
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in SKIP_SUFFIXES
        and not p.name.startswith(("LICENSE", "README"))
    )


def _run_all(files: list[Path], parse) -> dict[str, int]:
    outcomes = {"entries": 0, "refused": 0, "empty": 0}

    def on_alarm(signum, frame):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        for path in files:
            signal.alarm(PER_FILE_SECONDS)
            try:
                found = parse(path.read_bytes(), f"https://corpus.example/{path.name}")
            except discovery.DiscoveryError as exc:
                assert path.name in str(exc)
                outcomes["refused"] += 1
            except TimeoutError:
                pytest.fail(f"{path}: discovery hung for {PER_FILE_SECONDS}s")
            else:
                outcomes["entries" if found.entries or found.sitemaps else "empty"] += 1
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return outcomes


@pytest.mark.skipif(not _files("feeds"), reason="../shared/corpora/feeds not present")
def test_every_corpus_feed_is_parsed_or_refused_clearly():
    files = _files("feeds")
    outcomes = _run_all(files, discovery.parse_feed)
    # most feedparser cases test channel-level elements and have no linked entries
    assert sum(outcomes.values()) == len(files) and outcomes["entries"] > 100, outcomes


@pytest.mark.skipif(not _files("sitemaps"), reason="../shared/corpora/sitemaps not present")
def test_every_corpus_sitemap_is_parsed_or_refused_clearly():
    files = [p for p in _files("sitemaps") if "robots" not in p.name.lower()]
    outcomes = _run_all(files, discovery.parse_sitemap)
    assert sum(outcomes.values()) == len(files) and outcomes["entries"] >= 10, outcomes


@pytest.mark.skipif(not _files("sitemaps"), reason="../shared/corpora/sitemaps not present")
def test_real_robots_files_yield_their_sitemaps():
    robots = [p for p in _files("sitemaps") if "robots" in str(p).lower()]
    found = sum(
        bool(discovery.parse_robots_sitemaps(p.read_bytes(), "https://corpus.example/robots.txt"))
        for p in robots
    )
    assert found >= 1
