"""Versioning on real pages: chrome-only re-fetches that made a version, and edits caught.

    python bench/versioning.py [--pages N] [--corpus DIR]

Serves the Zyte benchmark's real pages with chrome that changes on every
request (crawler/localnet/zyte.py: a clock-and-weather bar in the header and
inside the article container, "N people are reading this", READ MORE links,
an ad slot, a comment count, a most-read box, a cookie banner, a tracking
script). Each page is fetched three times, then a sentence is added, a number
corrected or a headline changed on a third of the pages each, and every page
is fetched once more. Three judges of the same fetches, in the same run:

- newscrawl: the production path (extraction, site chrome, versioning, store);
- newscrawl without site chrome: the same extraction and versioning, each
  fetch compared with the previous one by `versioning.decide` alone;
- trafilatura hash: a new version whenever the hash of trafilatura.extract's
  text changes (what a crawler without a versioning stage does).

Then the same rounds per layout family (`family_table`): the publishers' own
markup (semantic), and each article re-wrapped in an old CMS template
(crawler/localnet/oldcms.py: a layout table with <p>, nested tables with
<font> and <br><br>; the site bar with clock and temperature, a reader count
and a section name in the article's cell, the lede printed twice), newscrawl
against the trafilatura hash.

Then `nonarticle_rounds`: whole rounds of login walls, error pages and cut
bodies (crawler/localnet/faults.py), the recovery and a real shortening, with
versions made per kind next to the trafilatura-hash baseline.

Skips (exit 0) without ../shared/corpora.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "extraction-zyte"
EXPECTED = {"sentence": "body_added", "number": "correction", "headline": "headline"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pages", type=int, default=150)
    parser.add_argument(
        "--no-families",
        dest="families",
        action="store_false",
        help="skip the per-layout-family table (semantic, layout table, nested table with <br>)",
    )
    parser.add_argument("--only", choices=["nonarticle"], help="run only this section")
    args = parser.parse_args()
    if not (args.corpus / "ground-truth.json").exists():
        print(f"skipped: {args.corpus} not present")
        return 0
    if args.only == "nonarticle":
        nonarticle_rounds(args.corpus, args.pages)
        return 0

    import trafilatura

    from crawler.localnet.zyte import ZyteChromeSite, load_pages
    from crawler.pipeline.processing import FetchedPage, persist_batch, prepare
    from crawler.store import connect, ensure_indexes
    from crawler.store.embedded import EmbeddedServer
    from crawler.text.chrome import ChromeBook
    from crawler.version.decide import Snapshot, decide

    pages = load_pages(args.corpus, args.pages)
    site = ZyteChromeSite(pages)
    start = datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc)
    plain_prev: dict[str, Snapshot] = {}
    traf_prev: dict[str, str] = {}
    tally: Counter[tuple[str, str]] = Counter()  # (judge, phase) -> versions made
    kinds: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    caught: set[str] = set()
    noise: list[tuple[str, str | None, int | None]] = []  # chrome that made a version

    with tempfile.TemporaryDirectory() as tmp, EmbeddedServer(Path(tmp) / "mongo") as server:
        db = connect(server.uri, "bench_versioning")
        ensure_indexes(db)

        def fetch_all(round_no: int, phase: str, edits: dict[str, str]) -> None:
            at = start + timedelta(hours=round_no)
            book = ChromeBook(db)
            batch = []
            for page in pages:
                url = f"http://127.0.0.1:1/articles/{page.page_id}/"
                body = site.render(page.page_id)
                prepared = prepare(FetchedPage("zyte-chrome", url, url, body, at)).page
                assert prepared is not None
                snapshot = prepared.snapshot
                before = plain_prev.get(page.page_id)
                if before is not None and decide(before, snapshot).makes_version:
                    tally["without site chrome", phase] += 1
                plain_prev[page.page_id] = snapshot
                text = trafilatura.extract(body) or ""
                digest = hashlib.sha256(text.encode()).hexdigest()
                if page.page_id in traf_prev and traf_prev[page.page_id] != digest:
                    tally["trafilatura hash", phase] += 1
                traf_prev[page.page_id] = digest
                batch.append((page.page_id, prepared))
            began = time.perf_counter()
            for i in range(0, len(batch), 16):
                part = batch[i : i + 16]
                outcomes = persist_batch(db, [p for _, p in part], at, chrome_book=book)
                for (page_id, _), outcome in zip(part, outcomes, strict=True):
                    if outcome.outcome == "changed":
                        tally["newscrawl", phase] += 1
                        if page_id not in edits:
                            noise.append((page_id, outcome.article_id, outcome.version))
                        if page_id in edits:
                            caught.add(page_id)
                            right = EXPECTED[edits[page_id]] in outcome.change_kinds
                            kinds[
                                f"{edits[page_id]}: {'right kind' if right else 'wrong kind'}"
                            ] += 1
            book.flush(at)
            seconds[phase] += time.perf_counter() - began

        fetch_all(0, "first", {})
        fetch_all(1, "chrome only", {})
        fetch_all(2, "chrome only", {})
        edits = edit_thirds(site, pages, args.corpus)
        fetch_all(3, "edited", edits)
        examples = [
            (page_id, (db.versions.find_one({"article_id": aid, "version": v}) or {}).get("change"))
            for page_id, aid, v in noise[:3]
        ]
        chrome_lines = sum(len(doc.get("chrome", [])) for doc in db.site_chrome.find())

    refetches = 2 * len(pages)
    print(f"{len(pages)} real pages, {refetches} chrome-only re-fetches, {len(edits)} edits")
    print(f"{'judge':24s} {'chrome-only versions':>22s} {'edits caught':>14s}")
    for judge in ("newscrawl", "without site chrome", "trafilatura hash"):
        noise = tally[judge, "chrome only"]
        print(
            f"{judge:24s} {noise:>10d} ({noise / refetches:6.1%})"
            f" {tally[judge, 'edited']:>8d} / {len(edits)}"
        )
    print("kinds of the edits newscrawl caught:", dict(sorted(kinds.items())))
    missed = sorted(set(edits) - caught)
    print("edits that made no version:", [f"{p[:12]} ({edits[p]})" for p in missed])
    for page_id, change in examples:
        print(f"  chrome-only version on {page_id[:12]}: {(change or {}).get('diff', '')[:300]!r}")
    print(f"site chrome learned: {chrome_lines} line shapes")
    per_page = {phase: 1000 * s / len(pages) for phase, s in seconds.items()}
    print("store path per page (ms):", {k: round(v, 2) for k, v in per_page.items()})
    if args.families:
        family_table(args.corpus, args.pages)
    print()
    nonarticle_rounds(args.corpus, args.pages)
    return 0


def family_run(corpus: Path, count: int, layout: str) -> dict[str, Any]:
    """One layout family: three fetches of every page, then a third of the pages each get a
    sentence, a number or a headline edit, and one more fetch. Versions made by newscrawl's
    production path and by a trafilatura-text hash, chrome-only and on edits."""
    import trafilatura

    from crawler.localnet.zyte import ZyteChromeSite, load_pages
    from crawler.pipeline.processing import FetchedPage, persist_batch, prepare
    from crawler.store import connect, ensure_indexes
    from crawler.store.embedded import EmbeddedServer
    from crawler.text.chrome import ChromeBook

    pages = load_pages(corpus, count)
    site = ZyteChromeSite(pages, layout=layout)
    start = datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc)
    traf_prev: dict[str, str] = {}
    tally: Counter[str] = Counter()
    wrong: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedServer(Path(tmp) / "mongo") as server:
        db = connect(server.uri, "bench_versioning_family")
        ensure_indexes(db)

        def fetch_all(round_no: int, edits: dict[str, str]) -> None:
            at = start + timedelta(hours=round_no)
            book = ChromeBook(db)  # one crawl: the site's model read from the store
            batch = []
            for page in pages:
                url = f"http://127.0.0.1:1/articles/{page.page_id}/"
                body = site.render(page.page_id)
                prepared = prepare(FetchedPage("zyte-family", url, url, body, at)).page
                assert prepared is not None
                digest = hashlib.sha256((trafilatura.extract(body) or "").encode()).hexdigest()
                if page.page_id in traf_prev and traf_prev[page.page_id] != digest:
                    edited = page.page_id in edits
                    tally[f"trafilatura hash, {'edited' if edited else 'chrome only'}"] += 1
                traf_prev[page.page_id] = digest
                batch.append((page.page_id, prepared))
            for i in range(0, len(batch), 16):
                part = batch[i : i + 16]
                outcomes = persist_batch(db, [p for _, p in part], at, chrome_book=book)
                for (page_id, _), outcome in zip(part, outcomes, strict=True):
                    if outcome.outcome != "changed":
                        continue
                    if page_id not in edits:
                        tally["newscrawl, chrome only"] += 1  # a re-fetch of an unedited page
                        continue
                    tally["newscrawl, edited"] += 1
                    if EXPECTED[edits[page_id]] in outcome.change_kinds:
                        tally["right kind"] += 1
                    else:
                        wrong.append(f"{page_id[:12]} ({edits[page_id]}: {outcome.change_kinds})")
            book.flush(at)

        for round_no in range(3):
            fetch_all(round_no, {})
        edits = edit_thirds(site, pages, corpus)
        fetch_all(3, edits)
    return {"pages": len(pages), "edits": len(edits), "wrong": wrong, **tally}


def family_table(corpus: Path, count: int) -> None:
    """False versions per layout family, newscrawl next to the trafilatura hash, one run."""
    from crawler.localnet.oldcms import LAYOUTS
    from crawler.localnet.zyte import SEMANTIC

    print()
    print("per layout family (3 fetches, then one edit on each of a third, a third, a third):")
    print(
        f"{'family':24s} {'re-fetches':>10s} {'newscrawl false':>16s} {'trafilatura false':>18s}"
        f" {'edits caught':>13s} {'right kind':>10s} {'trafilatura':>11s}"
    )
    for layout in (SEMANTIC, *LAYOUTS):
        got = family_run(corpus, count, layout)
        refetches = 3 * got["pages"] - got["edits"]  # re-fetches of unedited pages
        ours, theirs = (
            got.get("newscrawl, chrome only", 0),
            got.get("trafilatura hash, chrome only", 0),
        )
        print(
            f"{layout:24s} {refetches:>10d} {ours:>7d} ({ours / refetches:5.1%})"
            f" {theirs:>8d} ({theirs / refetches:6.1%})"
            f" {got.get('newscrawl, edited', 0):>6d} / {got['edits']:<4d}"
            f" {got.get('right kind', 0):>10d} {got.get('trafilatura hash, edited', 0):>6d} / {got['edits']}"
        )
        if got["wrong"]:
            print(f"  {layout}: edits of the wrong kind: {got['wrong'][:5]}")


def nonarticle_rounds(corpus: Path, count: int) -> None:
    """Rounds in which the site answers 200 without the article (crawler/localnet/faults.py).

    Every page is fetched once as it is, then once in each round in which the
    whole site serves a login wall, an error page, bodies cut mid-paragraph or a
    cookie-consent page,
    then once after it recovered; last, a third of the pages are shortened by
    the publisher to a clean end (a real edit, which must make a version). Each
    round is one run (one RunTally). Versions made by newscrawl and by the
    baseline (a new version whenever the hash of trafilatura.extract's text
    changes), degraded pages and the kinds their reasons name, in the same run.
    """
    import trafilatura

    from crawler.localnet.faults import CONSENT, FAULTS, FaultyZyteSite
    from crawler.localnet.zyte import load_pages
    from crawler.pipeline.processing import FetchedPage, persist_batch, prepare
    from crawler.store import connect, ensure_indexes
    from crawler.store.embedded import EmbeddedServer
    from crawler.text import nonarticle
    from crawler.text.chrome import ChromeBook

    pages = load_pages(corpus, count)
    site = FaultyZyteSite(pages)
    start = datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc)
    traf_prev: dict[str, str] = {}
    rows: list[tuple[str, Counter[str], int, Counter[str]]] = []
    caught: list[str] = []  # shortened pages that made a version
    with tempfile.TemporaryDirectory() as tmp, EmbeddedServer(Path(tmp) / "mongo") as server:
        db = connect(server.uri, "bench_nonarticle")
        ensure_indexes(db)

        def fetch_round(round_no: int, label: str, fault: str | None) -> None:
            site.fault = fault
            at = start + timedelta(hours=round_no)
            book, tally = ChromeBook(db), nonarticle.RunTally()
            outcomes: Counter[str] = Counter()
            kinds: Counter[str] = Counter()
            baseline = 0
            batch = []
            for page in pages:
                url = f"http://127.0.0.1:1/articles/{page.page_id}/"
                body = site.render(page.page_id)
                headers = {"content-length": str(len(body))}
                fetched = FetchedPage("zyte-faults", url, url, body, at, headers=headers)
                prepared = prepare(fetched).page
                assert prepared is not None
                batch.append(prepared)
                digest = hashlib.sha256((trafilatura.extract(body) or "").encode()).hexdigest()
                baseline += page.page_id in traf_prev and traf_prev[page.page_id] != digest
                traf_prev[page.page_id] = digest
            for i in range(0, len(batch), 16):
                part = batch[i : i + 16]
                done = persist_batch(db, part, at, chrome_book=book, run_tally=tally)
                for page, outcome in zip(pages[i : i + 16], done, strict=True):
                    outcomes[outcome.outcome] += 1
                    if outcome.outcome == "changed" and page.page_id in site.shortened:
                        caught.append(page.page_id)
                    if outcome.outcome == "degraded":
                        kinds[nonarticle.kind_of(outcome.detail or "")] += 1
            book.flush(at)
            rows.append((label, outcomes, baseline, kinds))

        fetch_round(0, "first", None)
        faults = (*FAULTS, CONSENT)
        for k, fault in enumerate(faults, start=1):
            fetch_round(k, fault, fault)
        fetch_round(len(faults) + 1, "recovered", None)
        site.shortened = {page.page_id for page in pages[: len(pages) // 3]}
        fetch_round(len(faults) + 2, "shortened (real)", None)

    print(f"non-article rounds: {len(pages)} real pages, each round one run of every page")
    print(
        f"{'round':18s} {'newscrawl versions':>19s} {'degraded':>9s} {'reverted':>9s}"
        f" {'trafilatura-hash versions':>26s}  degraded kinds"
    )
    for label, outcomes, baseline, kinds in rows:
        made = outcomes["changed"] if label != "first" else outcomes["new"]
        print(
            f"{label:18s} {made:>19d} {outcomes['degraded']:>9d} {outcomes['reverted']:>9d}"
            f" {baseline:>26d}  {dict(sorted(kinds.items()))}"
        )
    print(
        f"shortened: {len(pages) // 3} pages cut by the publisher to 70 % of their paragraphs,"
        f" {len(caught)} made a version (the other versions of these rounds are chrome-only"
        " ones, counted in the first section)"
    )


def edit_thirds(site: Any, pages: list[Any], corpus: Path) -> dict[str, str]:
    """Edit three thirds of the pages, one kind each (a sentence from another page added,
    a number corrected, the headline changed): page id -> the kind of its edit."""
    from crawler.localnet.zyte import foreign_sentences

    third = len(pages) // 3
    sentences = foreign_sentences(corpus, pages, third)
    edits: dict[str, str] = {}
    for k, page in enumerate(pages[: 3 * third]):
        kind = ("sentence", "number", "headline")[k // third]
        edits[page.page_id] = kind
        if kind == "sentence":
            site.add_sentence(page.page_id, sentences[k % len(sentences)])
        elif kind == "number":
            site.correct_number(page.page_id)
        else:
            site.change_headline(page.page_id, f"Desk update {k}: {site.title_of(page.page_id)}")
    return edits


if __name__ == "__main__":
    sys.exit(main())
