"""Story clustering: quality on a labelled set, and per-document cost as the corpus grows.

Quality: pairwise precision and recall of "same story" on documents from the
local news network's generator (wire stories, regional rewrites with the edits
syndication makes, independent reports of the same events, page chrome around
the text), in three groups of pairs: rewrites of the same copy (should be
same), independent articles on the same event (should differ), other events
(should differ).

Cost: the index is filled to 10k, 100k and 1M documents with generated
fingerprints (1M full texts would take hours to generate and shingle; see
Background for how they imitate real ones) and at each size 1,024 real-like texts
are placed through the MongoDB-backed index (`StoryIndex`, the pipeline's own
code, in batches of BATCH as the pipeline's group commit hands them over) and
timed; in the same run the same documents go into datasketch's in-memory
MinHashLSH and, up to --ensemble-up-to, MinHashLSHEnsemble (built for
containment, rebuilt whole at each size). Then copies join a 5-member and a
5,000-member story, alternately, and their cost is compared.

    python bench/clustering.py [--events 150] [--sizes 10000,100000,1000000] [--uri URI]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import zlib
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from crawler.cli.cluster import cluster_documents
from crawler.localnet.text import labelled_corpus
from crawler.stories import Member, StoryIndex, shingle_hashes
from crawler.text import normalize

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lookalike  # noqa: E402 - a sibling script, run from anywhere
import wire_set  # noqa: E402

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
        print(
            f"real wire copies: skipped ({wire_set.LABELS.name} or {texts} not present; "
            "see bench/wire_set.py)"
        )
        return
    made = lookalike.made_copies(docs)
    docs = docs + made
    rows = cluster_documents(
        [
            {
                "id": i,
                "text": d["text"],
                "title": d["title"],
                "url": d["url"],
                "authors": d.get("authors") or [],
                "credits": d.get("credits") or [],
            }
            for i, d in enumerate(docs)
        ],
        uri,
    )
    events = len({d["event"] for d in docs})
    print(
        f"real wire copies: {len(docs)} pages ({len(made)} look-alike copies made from them by "
        f"bench/lookalike.py), {events} events, {len({d['story'] for d in docs})} stories"
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
    tallies = {}
    for judge, predicted in judges.items():
        precision, recall, tallies[judge] = _pairwise(docs, predicted, len(names))
        cells = "  ".join(
            f"{same / pairs:.2f}" if pairs else " -- " for pairs, same in tallies[judge]
        )
        print(f"  {judge:42s} {precision:9.3f} {recall:7.3f}   {cells}")
    # spun copies (a copy machine-reworded word by word) share 1-5 % of their 5-grams
    # with the copy they reword: the figure without them says what the rest come to
    kept = [i for i, d in enumerate(docs) if d["role"] != "machine-reworded"]
    stories_found = judges["newscrawl cluster (production)"]
    precision, recall, unspun = _pairwise(
        [docs[i] for i in kept], [stories_found[i] for i in kept], len(names)
    )
    print(
        f"  {'newscrawl cluster, spun copies left out':42s} {precision:9.3f} {recall:7.3f}   "
        + "  ".join(f"{same / pairs:.2f}" if pairs else " -- " for pairs, same in unspun)
        + f"  ({len(docs) - len(kept)} machine-reworded pages)"
    )
    hard = {"machine-reworded", "lookalike-made"}
    plain = [i for i, d in enumerate(docs) if d["role"] not in hard]
    precision, recall, _ = _pairwise(
        [docs[i] for i in plain], [stories_found[i] for i in plain], len(names)
    )
    print(
        f"  {'newscrawl cluster, spun and made copies out':42s} {precision:9.3f} {recall:7.3f}   "
        "(real pages only, machine-reworded left out)"
    )
    _per_language(docs, stories_found, len(names))
    _agency_share(docs, rows)
    print(
        "  groups (share of pairs predicted the same story; g1-g4 should be 1, g5-g6 should be 0):"
    )
    production = tallies["newscrawl cluster (production)"]
    for i, name in enumerate(names):
        print(f"    g{i + 1} {name}: {production[i][0]} pairs")


def _per_language(docs: list[dict[str, Any]], predicted: list[Any], groups: int) -> None:
    """Precision and recall among the pages of each language (labels' `language`)."""
    languages = sorted({d.get("language") or "en" for d in docs})
    for language in languages:
        kept = [i for i, d in enumerate(docs) if (d.get("language") or "en") == language]
        events = len({docs[i]["event"] for i in kept})
        precision, recall, _ = _pairwise(
            [docs[i] for i in kept], [predicted[i] for i in kept], groups
        )
        print(
            f"  {'language ' + language:42s} {precision:9.3f} {recall:7.3f}   "
            f"({len(kept)} pages, {events} events)"
        )


# the agency a labelled story comes from, by its label's prefix ("ap-betty-white");
# other prefixes (bbc-, cnn-, independent reports' outlets) name no agency
AGENCY_OF_LABEL = {"ap": "AP", "cp": "CP", "pc": "CP", "reuters": "Reuters", "afp": "AFP"}
AGENCY_OF_LABEL["dpa"] = "dpa"


def _agency_share(docs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Share of labelled stories whose pages' story names the right agency (the story's
    agency as `newscrawl cluster` reports it, for the story's first page); how many were
    named from photo credits alone, and how many that expect `unknown` (independent
    reports, other outlets' stories) were named all the same."""
    right = total = 0
    agency_stories = right_agency = 0
    from_photos = right_from_photos = 0
    unknown_named = unknown_named_from_photos = 0
    seen: set[str] = set()
    for doc, row in zip(docs, rows, strict=True):
        if doc["story"] in seen:
            continue
        seen.add(doc["story"])
        expected = AGENCY_OF_LABEL.get(doc["story"].split("-")[0], "unknown")
        total += 1
        right += row["agency"] == expected
        photo = row.get("agency_from") == "photo credits"
        from_photos += photo
        right_from_photos += photo and row["agency"] == expected
        if expected != "unknown":
            agency_stories += 1
            right_agency += row["agency"] == expected
        elif row["agency"] != "unknown":
            unknown_named += 1
            unknown_named_from_photos += photo
    print(
        f"  agency: {right}/{total} stories named right ({right / max(total, 1):.3f}); "
        f"of the {agency_stories} agency stories, {right_agency} "
        f"({right_agency / max(agency_stories, 1):.3f})"
    )
    print(
        f"  agency from photo credits (no text evidence, 2+ sites): {from_photos} stories, "
        f"{right_from_photos} right; of the {total - agency_stories} stories expecting "
        f"unknown, {unknown_named} named ({unknown_named_from_photos} from photo credits)"
    )


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
    from datasketch import MinHashLSH, MinHashLSHEnsemble

    hashes = [_minhash(sorted(shingle_set)) for shingle_set in shingles]
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


PROBE = 1024  # real texts placed, and timed, at each corpus size
JOINS = 256  # copies joined to each of the small and the big story
BIG_STORY = 5000


class Background:
    """Generated fingerprints that fill the index to 1M documents without 1M texts.

    Each has the size and the share of common shingles (the generator's stock
    phrases: shingles found in three or more of a sample of real-like texts)
    measured on the local news network's texts, drawn in proportion to how often
    those phrases occur; the rest are random 32-bit hashes like a text's own
    narrative. A quarter are near copies of an earlier one (same story, not
    indexed: crawler.stories.placement.adds_nothing), as syndication makes.

    The index is left as placing these documents through the pipeline would have
    left it, including `common_anchors`: the stock anchors found in more than
    COMMON_ANCHOR_STORIES of its stories (`learn_common`), which lookups skip.
    Without them the generator's stock phrases (far more of its text than of a
    real article's) would make every lookup read thousands of postings until
    they were learned.
    """

    def __init__(self, seed: int):
        import random
        from collections import Counter

        self.rng = random.Random(seed)
        sample = labelled_corpus(seed=seed, events=400)
        sets = [shingle_hashes(normalize.clean_paragraphs(d.text)) for d in sample]
        counts = Counter(h for hashes in sets for h in hashes)
        stock = {h: n for h, n in counts.items() if n >= 3}
        self.stock = list(stock)
        self.cum_weights = list(itertools.accumulate(stock.values()))
        self.stock_set = set(stock)
        self.sizes = [len(h) for h in sets if h]
        self.stock_share = sum(len(h & stock.keys()) for h in sets) / sum(self.sizes)
        self.made: list[tuple[str, set[int]]] = []
        self.stock_anchors: Counter[int] = Counter()

    def learn_common(self, db: Any, now: Any) -> int:
        from pymongo import UpdateOne

        from crawler.stories.index import COMMON_ANCHOR_STORIES

        common = [
            UpdateOne(
                {"_id": a}, {"$max": {"stories": n}, "$setOnInsert": {"since": now}}, upsert=True
            )
            for a, n in self.stock_anchors.items()
            if n > COMMON_ANCHOR_STORIES
        ]
        if common:
            db.common_anchors.bulk_write(common, ordered=False)
        return len(common)

    def documents(self, start: int, count: int, now: Any) -> list[dict[str, Any]]:
        from crawler.stories import anchors_of, pack

        docs = []
        for i in range(start, start + count):
            doc_id = f"g{i:08d}"
            if self.made and self.rng.random() < 0.25:
                story, source = self.rng.choice(self.made[-5000:])
                hashes = {h for h in source if self.rng.random() < 0.95}
                anchors: list[int] = []
            else:
                size = self.rng.choice(self.sizes)
                common = int(size * self.stock_share)
                hashes = set(self.rng.choices(self.stock, cum_weights=self.cum_weights, k=common))
                while len(hashes) < size:
                    hashes.add(self.rng.getrandbits(32))
                story, anchors = doc_id, anchors_of(hashes)
                self.made.append((doc_id, hashes))
                self.stock_anchors.update(a for a in anchors if a in self.stock_set)
            docs.append(
                {
                    "_id": doc_id,
                    "site": f"site{i % 400}",
                    "shingles": pack(hashes),
                    "size": len(hashes),
                    "ledes": [],
                    "story_id": story,
                    "body_hash": f"{self.rng.getrandbits(64):016x}",
                    "anchors": anchors,
                    "created_at": now,
                    "updated_at": now,
                    "_hashes": hashes,
                }
            )
        del self.made[:-5000]
        return docs


def _minhash(hashes: Iterable[int], num_perm: int = 128) -> Any:
    from datasketch import LeanMinHash, MinHash

    minhash = MinHash(num_perm=num_perm)
    minhash.update_batch([h.to_bytes(4, "little") for h in hashes])
    return LeanMinHash(minhash)


def _probe_members(seed: int, now: Any) -> list[Member]:
    docs = labelled_corpus(seed=seed, events=PROBE // 7 + 1)[:PROBE]
    return [
        Member(f"p{seed}-{i}", d.site, "", d.title, normalize.clean_paragraphs(d.text), None, now)
        for i, d in enumerate(docs)
    ]


def _place(index: StoryIndex, members: list[Member], now: Any) -> None:
    for start in range(0, len(members), BATCH):
        index.assign_many(members[start : start + BATCH], now, record_articles=False)


def _forget_probe(db: Any, background_time: Any) -> None:
    """Take the probe's texts, stories and learned anchors out of the index again.

    Left in, each size's probe would be placed beside every earlier size's: real-like
    texts of one generator share phrasing (places, officials, stock sentences) in
    fewer than COMMON_ANCHOR_STORIES stories, so they are candidates of each other.
    That is a real cost, bounded by COMMON_ANCHOR_STORIES per anchor and MAX_POSTINGS
    per lookup, but it grows with how much real text is indexed, not with the index's
    size: measured with the probe left in, the 1M figure carried 2,048 earlier texts
    the 10k figure did not (bench notes in the README).
    """
    db.fingerprints.delete_many({"_id": {"$regex": "^p"}})
    db.stories.delete_many({})
    db.story_members.delete_many({})
    db.common_anchors.delete_many({"since": {"$gt": background_time}})


ZYTE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "extraction-zyte"


class CountingIndex(StoryIndex):
    """The production index, keeping what its lookups returned for the text being placed."""

    def __init__(self, db: Any):
        super().__init__(db)
        self.found: set[str] = set()

    def _lookup(self, anchors: list[int], now: Any) -> dict[str, Any]:
        found = super()._lookup(anchors, now)
        self.found.update(found)
        return found


def neighbours(uri: str, texts: Path, corpus: Path) -> None:
    """How many texts of other stories a lookup returns as real text accumulates, against
    the generator's texts in the same numbers.

    Each candidate costs the lookup about the same whether it matches or not (the
    server checks it against the query, the client unpacks it): this is the cost that
    grows with what is indexed rather than with the index's size. Its level depends on
    how much phrasing unrelated texts share, which the generator overstates.
    """
    real: list[tuple[str, str, str]] = [
        (d["story"], d["title"], d["text"]) for d in wire_set.labelled_documents(texts_path=texts)
    ]
    truth = corpus / "ground-truth.json"
    if truth.exists():
        import json

        real += [
            (f"zyte-{key}", "", page["articleBody"])
            for key, page in json.loads(truth.read_text(encoding="utf-8")).items()
        ]
    if len(real) < 100:
        print("neighbours: skipped (needs the wire set and/or the Zyte corpus)")
        return
    generated = [
        (d.story, d.title, d.text) for d in labelled_corpus(seed=77, events=len(real) // 7 + 1)
    ][: len(real)]
    print(
        f"neighbours: candidates of other stories per lookup as texts accumulate "
        f"({len(real)} real texts: wire set + Zyte pages; as many generated ones)"
    )
    print(f"  {'texts indexed before':>22s} {'real':>6s} {'generator':>10s}")
    quarters = [
        _unrelated_per_lookup(uri, name, docs)
        for name, docs in (("real", real), ("gen", generated))
    ]
    for q in range(4):
        before = q * len(real) // 4
        print(
            f"  {before:>10d} - {(q + 1) * len(real) // 4:<9d} {quarters[0][q]:6.2f} {quarters[1][q]:10.2f}"
        )


def _unrelated_per_lookup(uri: str, name: str, docs: list[tuple[str, str, str]]) -> list[float]:
    import random

    from crawler.clock import utcnow
    from crawler.store import connect, ensure_indexes

    docs = list(docs)
    random.Random(3).shuffle(docs)  # a stream, not the set's order (events grouped)
    db = connect(uri, f"bench_neighbours_{name}_{os.getpid()}", timeout_ms=600_000)
    db.client.drop_database(db.name)
    ensure_indexes(db)
    now = utcnow()
    labels = {f"n{i:05d}": story for i, (story, _, _) in enumerate(docs)}
    index = CountingIndex(db)
    per_text: list[int] = []
    for i, (story, title, text) in enumerate(docs):
        paragraphs = normalize.clean_paragraphs(text)
        index.found.clear()
        index.assign(Member(f"n{i:05d}", f"s{i}", "", title, paragraphs, None, now), now)
        per_text.append(sum(1 for key in index.found if labels[key] != story))
    db.client.drop_database(db.name)
    size = len(per_text)
    return [sum(per_text[q * size // 4 : (q + 1) * size // 4]) / (size // 4) for q in range(4)]


def cost(sizes: list[int], uri: str, ensemble_up_to: int) -> None:
    """Per-document placement cost as the index grows to max(sizes) documents, against
    datasketch on the same documents in the same run."""
    from datasketch import MinHashLSH, MinHashLSHEnsemble

    from crawler.clock import utcnow
    from crawler.store import connect, ensure_indexes

    now = utcnow()
    probing = now + timedelta(seconds=1)  # what the probe learns is told apart by its time
    db = connect(uri, f"bench_cluster_{os.getpid()}", timeout_ms=600_000)
    db.client.drop_database(db.name)
    ensure_indexes(db)
    background = Background(seed=5)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    entries: list[tuple[str, Any, int]] = []  # for the ensemble, built whole at each size
    print(
        f"cost per document as the index grows (ms); the index is filled with generated "
        f"fingerprints ({background.stock_share:.0%} stock shingles, see Background), "
        f"then the same {PROBE} real-like texts are placed in batches of {BATCH}, timed "
        "and taken out again"
    )
    header = (
        f"  {'documents':>10s} {'load s':>7s} {'newscrawl':>10s} {'MinHashLSH':>11s} "
        f"{'LSHEnsemble':>12s} {'(build s)':>10s}"
    )
    print(header, flush=True)
    # the same texts at every size, so that only the index's size differs; placed once
    # untimed first, so that no size pays for the process's and the server's warm-up
    probe = _probe_members(seed=1001, now=probing)
    _place(StoryIndex(db), probe, probing)
    _forget_probe(db, now)
    loaded, first = 0, None
    for size in sizes:
        t0 = time.perf_counter()
        while loaded < size:
            chunk = background.documents(loaded, min(5000, size - loaded), now)
            for doc in chunk:
                minhash = _minhash(doc["_hashes"])
                lsh.insert(doc["_id"], minhash)
                if size <= ensemble_up_to:
                    entries.append((doc["_id"], minhash, doc["size"]))
                del doc["_hashes"]
            db.fingerprints.insert_many(chunk, ordered=False)
            loaded += len(chunk)
            if loaded % 100_000 == 0:
                print(
                    f"    loaded {loaded} ({time.perf_counter() - t0:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
        background.learn_common(db, now)
        index = StoryIndex(db)  # reads the common anchors afresh
        load_s = time.perf_counter() - t0
        probe = _probe_members(seed=1001, now=probing)
        t0 = time.perf_counter()
        _place(index, probe, probing)
        ours = (time.perf_counter() - t0) / len(probe)
        _forget_probe(db, now)
        hashes = [shingle_hashes(m.paragraphs) for m in probe]
        minhashes = [_minhash(h) for h in hashes]
        t0 = time.perf_counter()
        for member, minhash in zip(probe, minhashes, strict=True):
            lsh.query(minhash)
            lsh.insert(member.article_id, minhash)
        theirs = (time.perf_counter() - t0) / len(probe)
        for member in probe:
            lsh.remove(member.article_id)
        ensemble_cell, build_cell = "-", "-"
        if size <= ensemble_up_to:
            probed = [
                (m.article_id, mh, max(1, len(h)))
                for m, mh, h in zip(probe, minhashes, hashes, strict=True)
            ]
            t0 = time.perf_counter()
            ensemble = MinHashLSHEnsemble(threshold=0.2, num_perm=128, num_part=16)
            ensemble.index(entries + probed)
            build = time.perf_counter() - t0
            t0 = time.perf_counter()
            for minhash, h in zip(minhashes, hashes, strict=True):
                list(ensemble.query(minhash, max(1, len(h))))
            ensemble_cell = f"{1000 * (time.perf_counter() - t0) / len(probe):12.2f}"
            build_cell = f"{build:10.0f}"
            del ensemble
        first = first or ours
        print(
            f"  {size:>10d} {load_s:7.0f} {1000 * ours:10.2f} {1000 * theirs:11.2f} "
            f"{ensemble_cell:>12s} {build_cell:>10s}   newscrawl {ours / first:.2f}x the first size",
            flush=True,
        )
    print(
        f"  target: newscrawl at {sizes[-1]} within 1.5x of {sizes[0]}; datasketch keeps its "
        "index in this process's memory (not shared between crawl processes or machines)"
    )
    db.client.drop_database(db.name)


def join_cost(uri: str) -> None:
    """A copy joining a story of BIG_STORY members costs what joining one of 5 costs."""
    import random

    from crawler.clock import utcnow
    from crawler.localnet.text import make_event, rewrite, wire_story
    from crawler.store import connect, ensure_indexes

    now = utcnow()
    db = connect(uri, f"bench_join_{os.getpid()}", timeout_ms=600_000)
    db.client.drop_database(db.name)
    ensure_indexes(db)
    index = StoryIndex(db)
    rng = random.Random(3)
    stories = {}
    for name, size in (("small", 5), ("big", BIG_STORY)):
        event = make_event(rng, len(stories))
        wire = wire_story(rng, event, f"w-{name}")
        stories[name] = (event, wire)
        members = [
            Member(
                f"{name}-{i}", f"site{i % 400}", "", wire.title, list(wire.paragraphs), None, now
            )
            for i in range(size)
        ]
        for start in range(0, size, BATCH):
            index.assign_many(members[start : start + BATCH], now, record_articles=False)
    spent = {"small": 0.0, "big": 0.0}
    for round_no in range(JOINS // 8):  # alternating, so drift of the machine hits both
        for name, (event, wire) in stories.items():
            batch = []
            for k in range(8):
                n = round_no * 8 + k
                copy = rewrite(random.Random(n), wire, event, f"j{n}", ("headline", "intro"))
                batch.append(
                    Member(f"{name}-join-{n}", f"j{n}", "", copy.title, copy.paragraphs, None, now)
                )
            t0 = time.perf_counter()
            placed = index.assign_many(batch, now, record_articles=False)
            spent[name] += time.perf_counter() - t0
            assert {a.story_id for a in placed} == {f"{name}-0"}, name
    small, big = (1000 * spent[n] / JOINS for n in ("small", "big"))
    sizes = {n: db.stories.find_one({"_id": f"{n}-0"})["size"] for n in stories}
    print(
        f"join cost: {small:.2f} ms per copy joining a story of 5 members, {big:.2f} ms joining "
        f"one of {BIG_STORY} ({big / small:.2f}x; target about 1x); sizes now {sizes}"
    )
    db.client.drop_database(db.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--ensemble-up-to",
        type=int,
        default=100_000,
        help="build datasketch's MinHashLSHEnsemble up to this size (it is rebuilt whole)",
    )
    parser.add_argument("--uri", default=os.environ.get("MONGODB_URI"))
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-quality", action="store_true", help="only the cost figures")
    parser.add_argument("--wire-texts", type=Path, default=wire_set.TEXTS)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.uri:
        _run(args, sizes, args.uri)
        return 0
    import tempfile

    from crawler.store.embedded import EmbeddedServer

    # the embedded server's 1 GB cache suits a crawl store; filling the index to 1M
    # documents is timed without eviction
    server_args = ["--cache-size", "8G"]
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedServer(tmp, server_args=server_args) as server,
    ):
        _run(args, sizes, server.uri)
    return 0


def _run(args: argparse.Namespace, sizes: list[int], uri: str) -> None:
    if not args.skip_quality:
        quality(args.events, uri)
        real_copies(uri, args.wire_texts)
    if not args.skip_cost:
        neighbours(uri, args.wire_texts, ZYTE)
        join_cost(uri)
        cost(sizes, uri, args.ensemble_up_to)


if __name__ == "__main__":
    sys.exit(main())
