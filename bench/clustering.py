"""Story clustering: quality on a labelled set, and per-document cost as the corpus grows.

Quality: pairwise precision and recall of "same story" on documents from the
local news network's generator (wire stories, regional rewrites with the edits
syndication makes, independent reports of the same events, page chrome around
the text), in three groups of pairs: rewrites of the same copy (should be
same), independent articles on the same event (should differ), other events
(should differ).

Cost: documents are assigned through the MongoDB-backed index (`StoryIndex`,
the pipeline's own code, in batches of BATCH as the pipeline's group commit
hands them over) and, in the same run, inserted into and queried from
datasketch's in-memory MinHashLSH; per-document time is reported per window as
the corpus grows, with a straight-line estimate for 1M documents.

    python bench/clustering.py [--events 150] [--sizes 10000,20000,50000,100000] [--uri URI]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crawler import normalize
from crawler.cli.cluster import cluster_documents
from crawler.localnet.text import labelled_corpus
from crawler.stories import Member, StoryIndex, shingle_hashes

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wire_set  # noqa: E402 - a sibling script, run from anywhere

BATCH = 32


def quality(events: int, uri: str) -> None:
    docs = labelled_corpus(seed=11, events=events)
    rows = cluster_documents(
        [{"id": i, "text": d.text, "title": d.title} for i, d in enumerate(docs)], uri
    )
    names = ["rewrites of the same copy", "independent, same event", "other events"]
    labelled = [{"story": d.story, "event": d.event, "role": "copy"} for d in docs]
    precision, recall, tally = _pairwise(
        labelled, [row["story"] for row in rows], len(names), lambda docs, a, b: 0
    )
    groups = dict(zip(names, tally, strict=True))
    print(
        f"quality on {len(docs)} documents ({events} events; wire + 4 rewrites + 2 independent each)"
    )
    for name, (pairs, same) in groups.items():
        print(f"  {name:28s} {pairs:9d} pairs, predicted same: {same / pairs:.4f}")
    print(f"  pairwise precision {precision:.4f}  recall {recall:.4f}  (targets: >= 0.98, >= 0.95)")


def real_copies(uri: str, texts: Path) -> None:
    """Pairwise precision and recall on the labelled real wire copies (bench/wire_set.py),
    per difficulty group, with all-pairs containment and datasketch on the same texts."""
    docs = wire_set.labelled_documents(texts_path=texts)
    if not docs:
        print(f"real wire copies: skipped ({texts} not present; see bench/wire_set.py)")
        return
    rows = cluster_documents(
        [
            {"id": i, "text": d["text"], "title": d["title"], "url": d["url"]}
            for i, d in enumerate(docs)
        ],
        uri,
    )
    events = len({d["event"] for d in docs})
    print(
        f"real wire copies: {len(docs)} pages, {events} events, {len({d['story'] for d in docs})} stories"
    )
    # the baselines get plain word 5-grams of the whole text, quotes included
    shingles = [_plain_shingles(normalize.clean_paragraphs(d["text"])) for d in docs]
    judges: dict[str, list[int]] = {"newscrawl cluster (production)": [r["story"] for r in rows]}
    for threshold in (0.2, 0.3, 0.5):
        judges[f"all-pairs containment >= {threshold}"] = _all_pairs(shingles, threshold)
    judges["datasketch MinHashLSH, Jaccard 0.3"] = _datasketch(shingles, ensemble=False)
    judges["datasketch LSHEnsemble, containment 0.5"] = _datasketch(shingles, ensemble=True)
    names = list(wire_set.GROUPS) + ["independent articles, same event", "other events"]
    print(
        f"  {'judge':42s} {'precision':>9s} {'recall':>7s}   "
        + "  ".join(f"g{i + 1}" for i in range(len(names)))
    )
    for judge, predicted in judges.items():
        precision, recall, groups = _pairwise(docs, predicted, len(names))
        cells = "  ".join(f"{same / pairs:.2f}" if pairs else " -- " for pairs, same in groups)
        print(f"  {judge:42s} {precision:9.3f} {recall:7.3f}   {cells}")
    print(
        "  groups (share of pairs predicted the same story; g1-g4 should be 1, g5-g6 should be 0):"
    )
    production = _pairwise(docs, judges["newscrawl cluster (production)"], len(names))[2]
    for i, name in enumerate(names):
        print(f"    g{i + 1} {name}: {production[i][0]} pairs")


def _plain_shingles(paragraphs: list[str]) -> set[int]:
    hashes = set()
    for paragraph in paragraphs:
        tokens = normalize.words(paragraph)
        for i in range(len(tokens) - 4):
            hashes.add(zlib.crc32(" ".join(tokens[i : i + 5]).encode()))
    return hashes


def _by_role(docs: list[dict[str, Any]], a: int, b: int) -> int:
    """A pair of copies counts in the difficulty group of its harder member."""
    return max(wire_set.group_of(docs[a]["role"]), wire_set.group_of(docs[b]["role"]))


def _pairwise(
    docs: list[dict[str, Any]],
    predicted: list[Any],
    groups: int,
    positive_group: Any = _by_role,
) -> tuple[float, float, list[list[int]]]:
    """Pairwise precision and recall, and per group [pairs, predicted same]: the positive
    groups first, then independent reports of one event, then other events."""
    tp = fp = fn = 0
    tally = [[0, 0] for _ in range(groups)]
    for a, b in itertools.combinations(range(len(docs)), 2):
        truth = docs[a]["story"] == docs[b]["story"]
        same = predicted[a] == predicted[b]
        if truth:
            group = positive_group(docs, a, b)
        elif docs[a]["event"] == docs[b]["event"]:
            group = groups - 2
        else:
            group = groups - 1
        tally[group][0] += 1
        tally[group][1] += same
        tp += truth and same
        fp += same and not truth
        fn += truth and not same
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tally


def _components(n: int, edges: Iterable[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        parent[root(a)] = root(b)
    return [root(i) for i in range(n)]


def _all_pairs(shingles: list[set[int]], threshold: float) -> list[int]:
    """Single linkage over every pair's containment (shared / smaller set)."""
    edges = [
        (a, b)
        for a, b in itertools.combinations(range(len(shingles)), 2)
        if shingles[a]
        and shingles[b]
        and len(shingles[a] & shingles[b]) / min(len(shingles[a]), len(shingles[b])) >= threshold
    ]
    return _components(len(shingles), edges)


def _datasketch(shingles: list[set[int]], ensemble: bool) -> list[int]:
    from datasketch import MinHash, MinHashLSH, MinHashLSHEnsemble

    hashes = []
    for shingle_set in shingles:
        minhash = MinHash(num_perm=128)
        minhash.update_batch([h.to_bytes(4, "little") for h in sorted(shingle_set)])
        hashes.append(minhash)
    edges: list[tuple[int, int]] = []
    if ensemble:
        index = MinHashLSHEnsemble(threshold=0.5, num_perm=128, num_part=8)
        index.index([(i, hashes[i], max(1, len(s))) for i, s in enumerate(shingles)])
        for i, s in enumerate(shingles):
            edges += [(i, j) for j in index.query(hashes[i], max(1, len(s))) if j != i]
    else:
        lsh = MinHashLSH(threshold=0.3, num_perm=128)
        for i in range(len(shingles)):
            edges += [(i, j) for j in lsh.query(hashes[i])]
            lsh.insert(i, hashes[i])
    return _components(len(shingles), edges)


def cost(sizes: list[int], uri: str) -> None:
    from datasketch import MinHash, MinHashLSH

    from crawler.clock import utcnow
    from crawler.store import connect, ensure_indexes

    total = max(sizes)
    docs = labelled_corpus(seed=23, events=total // 7 + 1)[:total]
    db = connect(uri, f"bench_cluster_{os.getpid()}")
    db.client.drop_database(db.name)
    ensure_indexes(db)
    index = StoryIndex(db)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    now = utcnow()
    ours = mem = 0.0
    window_ours = window_mem = 0.0
    window_start = 0
    print(f"cost per document (ms), windows up to {total} documents")
    print(
        f"  {'documents':>12s} {'newscrawl (MongoDB index)':>26s} {'datasketch MinHashLSH (memory)':>32s}"
    )
    windows: list[tuple[int, float]] = []
    for start in range(0, total, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, total)):
            paragraphs = normalize.clean_paragraphs(docs[i].text)
            batch.append(Member(f"d{i}", docs[i].site, "", docs[i].title, paragraphs, None, now))
        t0 = time.perf_counter()
        index.assign_many(batch, now)
        t1 = time.perf_counter()
        for member in batch:
            minhash = MinHash(num_perm=128)
            minhash.update_batch(
                [h.to_bytes(4, "little") for h in shingle_hashes(member.paragraphs)]
            )
            lsh.query(minhash)
            lsh.insert(member.article_id, minhash)
        t2 = time.perf_counter()
        window_ours += t1 - t0
        window_mem += t2 - t1
        done = start + len(batch)
        if any(window_start < size <= done for size in sizes):
            n = done - window_start
            print(
                f"  {window_start + 1:>6d}-{done:<7d} {1000 * window_ours / n:26.2f} {1000 * window_mem / n:32.2f}",
                flush=True,
            )
            windows.append((done, window_ours / n))
            ours += window_ours
            mem += window_mem
            window_ours = window_mem = 0.0
            window_start = done
    first, last = windows[0][1], windows[-1][1]
    print(
        f"  last window / first window: {last / first:.2f} (target <= 1.5); "
        f"total {ours:.0f} s newscrawl, {mem:.0f} s datasketch"
    )
    # index lookups grow with the logarithm of the corpus when they grow at all:
    # a straight line in log(n) through the last two windows
    (n1, c1), (n2, c2) = windows[-2] if len(windows) > 1 else windows[-1], windows[-1]
    slope = (c2 - c1) / (math.log10(n2) - math.log10(n1)) if n2 != n1 else 0.0
    estimate = c2 + slope * (6 - math.log10(n2))
    print(
        f"  estimate at 1M documents (straight line in log(n) through the last two windows): "
        f"{1000 * estimate:.2f} ms/document, {estimate * 1e6 / 3600:.1f} hours for the whole corpus"
    )
    # dropping 100k documents takes secantusdb longer than the crawler's socket timeout
    connect(uri, db.name, timeout_ms=600_000).client.drop_database(db.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--sizes", default="10000,20000,50000,100000")
    parser.add_argument("--uri", default=os.environ.get("MONGODB_URI"))
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--wire-texts", type=Path, default=wire_set.TEXTS)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.uri:
        quality(args.events, args.uri)
        real_copies(args.uri, args.wire_texts)
        if not args.skip_cost:
            cost(sizes, args.uri)
        return 0
    import tempfile

    from crawler.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory() as tmp, EmbeddedServer(tmp) as server:
        quality(args.events, server.uri)
        real_copies(server.uri, args.wire_texts)
        if not args.skip_cost:
            cost(sizes, server.uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
