"""Two stories become one when a later copy bridges them, and only then.

The case from real pages: a gallery page carrying the agency's lede among its
photo captions founds a story before the full copy arrives; the two share too
little to be placed together. A copy carrying both (the captions and the full
text) shows they are one story. A roundup page carrying two unrelated wire
items verifies against both stories too, and must not merge them.
"""

from __future__ import annotations

import random

from crawler.cli.inspect import story_rows
from crawler.localnet.text import independent_story, make_event, wire_story
from crawler.maintenance.verify import verify
from crawler.pipeline.processing import persist_batch
from crawler.store import Page
from crawler.stories import StoryIndex, containment, follow_merges, shingle_hashes
from crawler.stories.placement import BRIDGE_CONTAINMENT, SAME_STORY_CONTAINMENT
from crawler.text import normalize
from crawler.version.decide import Snapshot
from tests.stories.test_clustering import T0, member, slowed


def _page(article_id: str, paragraphs: list[str], title: str = "T") -> Page:
    site = article_id.split("-")[0]
    return Page(
        article_id=article_id,
        url=f"https://{site}.test/{article_id}",
        site=site,
        fetched_at=T0,
        snapshot=Snapshot.of(title, paragraphs),
        aliases=[f"{site}.test/{article_id}"],
        raw_html=b"<html>page</html>",
    )


def _hashes(paragraphs: list[str]) -> set[int]:
    return shingle_hashes(normalize.clean_paragraphs("\n".join(paragraphs)))


def gallery_world(seed: int = 11) -> tuple[list[str], list[str], list[str]]:
    """The full wire copy, a gallery page (long captions around the agency's first two
    paragraphs) that shares too little with it to join it, and a copy carrying both.
    The captions carry no credit line: recognised as captions, they would be left out
    of the narrative and the gallery would join the full copy at once."""
    rng = random.Random(seed)
    event, elsewhere = make_event(rng, 0), make_event(rng, 1)
    full = wire_story(rng, event, "w0").paragraphs
    captions = [
        f"Pictured: {p}"
        for n in range(3)
        for p in independent_story(rng, elsewhere, f"c{n}", "Jo Lee").paragraphs
    ]
    for extra in range(3, len(captions)):
        # captions first, as galleries print them: the lede is not among the page's ledes
        gallery = captions[:3] + full[:2] + captions[3:extra]
        share = containment(_hashes(gallery), _hashes(full))
        if share < SAME_STORY_CONTAINMENT:
            break
    assert BRIDGE_CONTAINMENT <= share < SAME_STORY_CONTAINMENT, share
    return full, gallery, gallery + full[1:]


def test_a_copy_that_bridges_two_stories_makes_them_one(db):
    full, gallery, both = gallery_world()
    [f] = persist_batch(db, [_page("wire-1", full)], T0)
    [g] = persist_batch(db, [_page("gallery-1", gallery)], T0)
    assert f.story_id != g.story_id  # each placed before the other was known: two stories

    [c] = persist_batch(db, [_page("regional-1", both)], T0)

    survivor, merged = min(f.story_id, g.story_id), max(f.story_id, g.story_id)
    assert c.story_id == survivor
    story = db.stories.find_one({"_id": survivor})
    assert story["size"] == 3 and set(story["sites"]) == {"wire", "gallery", "regional"}
    assert {m["_id"] for m in db.story_members.find({"story_id": survivor})} == {
        "wire-1",
        "gallery-1",
        "regional-1",
    }
    # an id noted down before the merge still leads to the story
    tombstone = db.stories.find_one({"_id": merged})
    assert tombstone["merged_into"] == survivor and tombstone["size"] == 0
    for article in db.articles.find():
        assert article["story_id"] == survivor
    for fingerprint in db.fingerprints.find():
        assert fingerprint["story_id"] == survivor
    # what each site changed is measured against the one origin of the merged story
    origin = story["origin"]["article_id"]
    assert {m["changes_against"] for m in db.story_members.find()} == {origin}
    assert [row["story_id"] for row in story_rows(db)] == [survivor]
    assert verify(db, T0) == []

    # copies arriving later join the merged story, whichever part they carry
    [g2] = persist_batch(db, [_page("late-1", gallery)], T0)
    assert g2.story_id == survivor
    assert db.stories.find_one({"_id": survivor})["size"] == 4
    assert verify(db, T0) == []


def test_a_roundup_of_two_unrelated_wire_items_merges_nothing(db):
    rng = random.Random(3)
    first = wire_story(rng, make_event(rng, 0), "w0").paragraphs
    second = wire_story(rng, make_event(rng, 1), "w1").paragraphs
    [a] = persist_batch(db, [_page("wire-a", first)], T0)
    [b] = persist_batch(db, [_page("wire-b", second)], T0)
    [r] = persist_batch(db, [_page("briefs-1", first + second)], T0)
    assert r.story_id in (a.story_id, b.story_id)  # it verifies against both ...
    assert a.story_id != b.story_id
    assert db.stories.count_documents({"merged_into": {"$ne": None}}) == 0  # ... and merges none
    assert (
        db.stories.find_one({"_id": a.story_id})["size"]
        + db.stories.find_one({"_id": b.story_id})["size"]
        == 3
    )
    assert verify(db, T0) == []


def test_a_crawl_that_wrote_into_a_story_merged_meanwhile_moves_its_writes(db):
    """The pipeline writes an article's story after placing it: a merge between the two
    leaves the article naming the merged story until its second look."""
    full, gallery, both = gallery_world()
    index = StoryIndex(db)

    def stored(article_id: str, paragraphs: list[str]) -> None:
        db.articles.insert_one(
            {"_id": article_id, "title": "T", "text": "\n".join(paragraphs), "version_count": 1}
        )

    # the full copy's story has the smaller id: the gallery's story is the one merged away
    for article_id, paragraphs in (("a-wire", full), ("b-gallery", gallery)):
        stored(article_id, paragraphs)
        index.assign(member(article_id, paragraphs), T0)
    # a crawl places a second gallery copy, and has not written its story id yet ...
    stored("b-gallery-2", gallery)
    [late] = index.assign_many([member("b-gallery-2", gallery)], T0, record_articles=False)
    assert late.story_id == "b-gallery"
    # ... when another crawl places the bridging copy
    stored("c-both", both)
    StoryIndex(db).assign(member("c-both", both), T0)
    db.articles.update_one({"_id": "b-gallery-2"}, {"$set": {"story_id": late.story_id}})
    assert db.stories.find_one({"_id": "b-gallery"})["merged_into"] == "a-wire"
    problems = [v for v in verify(db, T0) if v.check == "stories"]
    assert [p.subject for p in problems] == ["b-gallery-2"]
    assert "merged into a-wire" in problems[0].problem

    assert follow_merges(db, ["b-gallery"]) == {"b-gallery": "a-wire"}  # its second look
    _assert_one_story(db)


def _assert_one_story(db) -> None:
    live = list(db.stories.find({"merged_into": None}))
    assert len(live) == 1
    assert live[0]["size"] == db.story_members.count_documents({}) == 4
    assert {a["story_id"] for a in db.articles.find()} == {live[0]["_id"]}
    assert [v for v in verify(db, T0) if v.check == "stories"] == []


def _place_pages(uri: str, db_name: str, pages: list[tuple[str, list[str]]], start, queue) -> None:
    from crawler.store import connect

    db = connect(uri, db_name)
    index = slowed(StoryIndex(db))
    start.wait(timeout=60)
    for article_id, paragraphs in pages:
        persist_batch(db, [_page(article_id, paragraphs)], T0, story_index=index)
    queue.put(len(pages))


def test_crawls_placing_both_halves_and_the_bridge_at_once_end_with_one_story(db, mongo_uri):
    """Gallery copies, full copies and bridging copies placed by five processes side by
    side: whatever the order, one story, every article naming it, sizes exact."""
    import multiprocessing

    full, gallery, both = gallery_world()
    crawls = [
        [(f"wire{n}-1", full), (f"wire{n}-2", full[:-1])]
        if n % 2
        else [(f"gallery{n}-1", gallery), (f"gallery{n}-2", gallery[:-1])]
        for n in range(4)
    ] + [[("regional-1", both)]]
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    processes = [
        ctx.Process(target=_place_pages, args=(mongo_uri, db.name, pages, start, queue))
        for pages in crawls
    ]
    for process in processes:
        process.start()
    start.set()
    assert sum(queue.get(timeout=120) for _ in processes) == 9
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    live = list(db.stories.find({"merged_into": None}))
    assert len(live) == 1, [s["_id"] for s in live]
    assert live[0]["size"] == db.story_members.count_documents({"story_id": live[0]["_id"]}) == 9
    assert {a["story_id"] for a in db.articles.find()} == {live[0]["_id"]}
    assert verify(db, T0) == []


def test_a_merge_stopped_after_its_mark_is_finished_at_the_next_crawl_start(db):
    from datetime import timedelta

    from crawler.run.runner import prepare_store

    full, gallery, _ = gallery_world()
    [f] = persist_batch(db, [_page("awire-1", full)], T0)
    [g] = persist_batch(db, [_page("bgallery-1", gallery)], T0)
    # the merging crawl was killed right after marking the story merged
    db.stories.update_one(
        {"_id": g.story_id},
        {
            "$set": {
                "merged_into": f.story_id,
                "merged_at": T0,
                "recheck_until": T0 + timedelta(hours=1),  # by the crawls' clock
            }
        },
    )
    assert any("merged into" in v.problem for v in verify(db, T0))

    prepare_store(db, lambda: T0)  # what every crawl process does first

    assert db.stories.find_one({"_id": f.story_id})["size"] == 2
    assert db.stories.find_one({"_id": g.story_id})["size"] == 0
    assert {a["story_id"] for a in db.articles.find()} == {f.story_id}
    assert verify(db, T0) == []


def test_a_big_story_merged_into_another_moves_every_copy(db):
    """All of a 130-copy story's members and fingerprints move, in batches, and the sizes
    follow; a second pass (a crawl start's recheck) moves nothing twice."""
    from crawler.stories.merge import repoint

    db.stories.insert_many(
        [
            {"_id": "loser", "size": 130, "sites": ["a"]},
            {"_id": "winner", "size": 3, "sites": ["b"]},
        ]
    )
    for story_id, count in (("loser", 130), ("winner", 3)):
        ids = [f"{story_id}-{i:03d}" for i in range(count)]
        db.story_members.insert_many({"_id": i, "story_id": story_id, "site": "a"} for i in ids)
        db.fingerprints.insert_many({"_id": i, "story_id": story_id, "anchors": []} for i in ids)
    assert repoint(db, "loser", "winner") == 130
    assert repoint(db, "loser", "winner") == 0
    for collection in (db.story_members, db.fingerprints):
        assert collection.count_documents({"story_id": "winner"}) == 133
    sizes = {s["_id"]: s["size"] for s in db.stories.find()}
    assert sizes == {"loser": 0, "winner": 133}
