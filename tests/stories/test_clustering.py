"""Story clustering as users rely on it: rewrites of one wire copy form one story,
independent reports do not, the index lives in MongoDB and stays lean, and the
`newscrawl cluster` command deduplicates an export."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta, timezone

from crawler.localnet.text import (
    Writer,
    labelled_corpus,
    make_event,
    rewrite,
    wire_story,
)
from crawler.stories import Member, StoryIndex, containment, shingle_hashes
from crawler.stories.index import COMMON_ANCHOR_STORIES
from crawler.stories.placement import SAME_STORY_CONTAINMENT
from crawler.stories.shingles import ledes_of
from crawler.text import normalize
from tests.helpers import members_of, newscrawl

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def member(
    article_id: str, paragraphs: list[str], site: str = "s", title: str = "T", **kw
) -> Member:
    return Member(
        article_id=article_id,
        site=site,
        url=f"https://{site}.test/{article_id}",
        title=title,
        paragraphs=normalize.clean_paragraphs("\n".join(paragraphs)),
        published=kw.pop("published", None),
        seen_at=T0,
        **kw,
    )


class Index(StoryIndex):
    """The story index with each member's article stored first, as the pipeline does."""

    def assign(self, m: Member, now: datetime):  # type: ignore[override]
        self.db.articles.replace_one(
            {"_id": m.article_id},
            {"title": m.title, "text": "\n".join(m.paragraphs)},
            upsert=True,
        )
        return super().assign(m, now)


def story_world(seed: int = 5):
    rng = random.Random(seed)
    event = make_event(rng, 0)
    wire = wire_story(rng, event, "w0")
    return rng, event, wire


def test_cluster_command_groups_rewrites_and_separates_independent_reports(tmp_path, crawl_env):
    docs = labelled_corpus(seed=3, events=6)
    export = tmp_path / "export.jsonl"
    export.write_text(
        "".join(
            json.dumps({"id": d.id, "text": d.text, "title": d.title, "site": d.site}) + "\n"
            for d in docs
        )
    )
    result = newscrawl("cluster", str(export), env=crawl_env)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [d.id for d in docs]  # input order
    story = {r["id"]: r["story"] for r in rows}
    for a in docs:
        for b in docs:
            if a.story == b.story:
                assert story[a.id] == story[b.id], (a.id, b.id)
            else:
                assert story[a.id] != story[b.id], (a.id, b.id)


def test_cluster_command_removes_its_scratch_database(tmp_path, crawl_env, mongo_uri):
    from pymongo import MongoClient

    export = tmp_path / "one.jsonl"
    export.write_text(json.dumps({"id": 1, "text": "a short note"}) + "\n")
    client: MongoClient = MongoClient(mongo_uri)
    before = set(client.list_database_names())
    newscrawl("cluster", str(export), env=crawl_env)
    after = set(client.list_database_names())
    assert not {n for n in after - before if n.startswith("newscrawl_cluster_")}


def test_cluster_command_names_the_bad_line(tmp_path, crawl_env):
    export = tmp_path / "bad.jsonl"
    export.write_text(json.dumps({"id": 1, "text": "fine"}) + "\n{not json\n")
    result = newscrawl("cluster", str(export), env=crawl_env, check=False)
    assert result.returncode == 2
    assert f"{export}:2" in result.stderr


def test_batch_placement_matches_one_by_one(db):
    """The pipeline places a batch at once; every copy must land as if it came alone."""
    docs = labelled_corpus(seed=8, events=5)
    members = [member(d.id, d.text.split("\n"), site=d.site) for d in docs]
    index = StoryIndex(db)
    batched = [a.story_id for a in index.assign_many(members, T0)]
    truth = [d.story for d in docs]
    for i in range(len(docs)):
        for j in range(len(docs)):
            assert (batched[i] == batched[j]) == (truth[i] == truth[j])


def test_repeated_lede_and_glued_words_do_not_split_a_story(db):
    rng, event, wire = story_world()
    twice = rewrite(rng, wire, event, "s1", ("lede_twice", "glue", "headline"))
    index = Index(db)
    first = index.assign(member("wire", wire.paragraphs, site="wire", title=wire.title), T0)
    copy = index.assign(member("copy", twice.paragraphs, site="s1", title=twice.title), T0)
    assert copy.story_id == first.story_id and copy.joined
    story = db.stories.find_one({"_id": first.story_id})
    changes = {m["article_id"]: m.get("changes") for m in members_of(db, story["_id"])}
    assert changes["copy"]["new_headline"] is True
    assert story["size"] == 2 and sorted(story["sites"]) == ["s1", "wire"]


def test_trimmed_copy_with_local_intro_joins_and_reports_what_changed(db):
    rng, event, wire = story_world(9)
    local = rewrite(rng, wire, event, "s2", ("trim", "intro"))
    index = Index(db)
    index.assign(member("wire", wire.paragraphs, site="wire", title=wire.title), T0)
    placed = index.assign(member("local", local.paragraphs, site="s2", title=wire.title), T0)
    story = db.stories.find_one({"_id": placed.story_id})
    entry = next(m for m in members_of(db, story["_id"]) if m["article_id"] == "local")
    assert entry["changes"]["added_intro"] is True
    assert entry["changes"]["removed_paragraphs"] >= 1
    assert 0.5 <= entry["similarity"] <= 1.0


def test_wire_dateline_copy_is_the_origin_even_when_it_arrives_later(db):
    rng, event, wire = story_world(4)
    undated = rewrite(rng, wire, event, "s3", ("no_dateline", "headline"))
    index = Index(db)
    early = T0 - timedelta(hours=2)
    index.assign(
        member("regional", undated.paragraphs, site="s3", title=undated.title, published=early),
        T0,
    )
    index.assign(member("wire", wire.paragraphs, site="wire", title=wire.title, published=T0), T0)
    story = db.stories.find_one({"_id": db.story_members.find_one({"_id": "wire"})["story_id"]})
    assert story["origin"]["article_id"] == "wire"
    regional = next(m for m in members_of(db, story["_id"]) if m["article_id"] == "regional")
    assert regional["changes_against"] == "wire"
    assert regional["changes"]["new_headline"] is True  # re-measured against the new origin


def test_near_identical_copies_are_not_indexed_again_but_still_found(db):
    """A story carried by many sites is looked up through its distinct texts only."""
    rng, event, wire = story_world(6)
    index = StoryIndex(db)
    index.assign(member("wire", wire.paragraphs, site="wire"), T0)
    for n in range(5):
        index.assign(member(f"copy{n}", wire.paragraphs, site=f"s{n}"), T0)
    indexed = db.fingerprints.count_documents({"anchors.0": {"$exists": True}})
    assert indexed == 1
    trimmed = rewrite(rng, wire, event, "s9", ("trim", "reorder"))
    late = index.assign(member("late", trimmed.paragraphs, site="s9"), T0)
    assert late.story_id == "wire"
    assert db.stories.find_one({"_id": "wire"})["size"] == 7


def test_an_edit_never_moves_an_article_to_another_story(db):
    rng, event, wire = story_world(2)
    other_rng, other_event, other = story_world(12)
    index = StoryIndex(db)
    first = index.assign(member("a", wire.paragraphs), T0)
    index.assign(member("b", other.paragraphs), T0)
    again = index.assign(member("a", other.paragraphs), T0 + timedelta(hours=1))
    assert again.story_id == first.story_id


def test_independent_reports_of_one_event_stay_apart(db):
    docs = [d for d in labelled_corpus(seed=21, events=1) if d.kind != "rewrite"]
    index = StoryIndex(db)
    stories = {index.assign(member(d.id, d.text.split("\n")), T0).story_id for d in docs}
    assert len(stories) == len(docs)


def test_boilerplate_shared_by_many_stories_is_learned_and_left_out_of_lookups(db):
    """A paragraph printed under every article must not make all articles candidates."""
    rng = random.Random(30)
    footer = (
        "Sign up for our morning newsletter to get the top regional stories delivered "
        "to your inbox every weekday before seven, free of charge, from our newsroom"
    )
    index = StoryIndex(db)
    placed = []
    for n in range(COMMON_ANCHOR_STORIES + 8):
        event = make_event(rng, n)
        writer = Writer(rng, event)
        paragraphs = [writer.paragraph() for _ in range(8)] + [footer]
        placed.append(index.assign(member(f"a{n}", paragraphs), T0).story_id)
    assert len(set(placed)) == len(placed)  # distinct stories despite the shared footer
    assert db.common_anchors.count_documents({}) >= 1


def slowed(index: StoryIndex) -> StoryIndex:
    """The index of a loaded store: every crawl looks up before any has written."""
    lookup = index._lookup

    def slow_lookup(*args):
        found = lookup(*args)
        time.sleep(0.2)
        return found

    index._lookup = slow_lookup  # type: ignore[method-assign]
    return index


def _place_copies(
    uri: str, db_name: str, site: str, seeds: list[int], batch_size: int, start, queue
) -> None:
    from crawler.store import connect

    db = connect(uri, db_name)
    index = slowed(StoryIndex(db))
    copies = []
    for seed in seeds:
        rng, event, wire = story_world(seed)
        copy = rewrite(random.Random(f"{site}{seed}"), wire, event, site, ("headline", "intro"))
        copies.append(member(f"{site}-{seed}", copy.paragraphs, site=site))
    start.wait(timeout=60)
    placed = {}
    for i in range(0, len(copies), batch_size):
        batch = copies[i : i + batch_size]
        assignments = index.assign_many(batch, T0)
        placed.update({m.article_id: a.story_id for m, a in zip(batch, assignments, strict=True)})
    queue.put(placed)


def test_copies_placed_at_the_same_moment_by_several_crawls_form_one_story(db, mongo_uri):
    """Crawls of several sites run side by side and meet the same wire stories at once:
    six processes, no lock between them, each placing copies one or two at a time."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    seeds = [40, 41, 42, 43, 44, 45]
    sites = [f"site{n}" for n in range(6)]
    crawls = [
        ctx.Process(
            target=_place_copies, args=(mongo_uri, db.name, s, seeds, 1 + n % 2, start, queue)
        )
        for n, s in enumerate(sites)
    ]
    for crawl in crawls:
        crawl.start()
    start.set()
    placed: dict[str, str] = {}
    for _ in crawls:
        placed.update(queue.get(timeout=120))
    for crawl in crawls:
        crawl.join(timeout=60)
        assert crawl.exitcode == 0
    for seed in seeds:
        assert len({placed[f"{site}-{seed}"] for site in sites}) == 1, seed
    assert len(set(placed.values())) == len(seeds)
    for story in db.stories.find():  # every join counted once, whoever founded the story
        assert story["size"] == db.story_members.count_documents({"story_id": story["_id"]})
        assert story["size"] == len(sites)
    assert db.placements.count_documents({}) == 0  # every batch in flight has left
    assert db.locks.count_documents({}) == 0  # and none took a lock


STATEMENT = (
    '"Our team is currently calling the next of kin of passengers and crew, and our thoughts '
    'and prayers are with all affected passengers and crew and their family members,"'
)


def test_two_agencies_quoting_the_same_statement_stay_apart(db):
    """Independent reports share the quoted statement word for word, not the narrative."""
    agency_a = [
        "KUALA LUMPUR, Malaysia (AP) - A passenger jet carrying 239 people lost contact over "
        "the sea early Saturday on a flight to Beijing, and search teams had not found it hours later.",
        f"{STATEMENT} the airline's chief executive said in a statement.",
        "The plane lost communication two hours into the flight, the state news agency said, "
        "and the radar signal was lost as well over the stretch of water between two countries.",
    ]
    agency_b = [
        "A flight carrying 239 people from Kuala Lumpur went missing on Saturday, prompting "
        "neighbouring governments to send ships to scour the water for any sign of wreckage.",
        f"{STATEMENT} its group chief told reporters at a brief news conference in the capital.",
        "Relatives waiting at the arrivals hall were taken to a hotel near the airport, where "
        "officials promised them hourly updates while the search went on through the night.",
    ]
    index = Index(db)
    first = index.assign(member("ap", agency_a, site="a"), T0)
    second = index.assign(member("reuters", agency_b, site="b"), T0)
    assert first.story_id != second.story_id


def test_a_write_thru_with_a_reworded_lede_and_new_body_joins_the_first_take(db):
    """An agency's later take keeps the lede, nearly word for word, and rewrites the rest."""
    lede = (
        "A wing of a 12-story beachfront condo building collapsed in a town outside Miami "
        "early Thursday, killing at least one person while trapping residents in rubble and "
        "twisted metal."
    )
    first_take = [
        f"SURFSIDE, Fla. (AP) - {lede}",
        "The mayor warned during a news conference that the building manager told him the "
        "tower was quite full and the death toll was likely to rise as crews kept searching.",
        "Authorities did not say what may have caused the collapse of the oceanfront tower.",
        "Ten people were treated at the scene and two were taken to hospital, one of whom died, "
        "and fifteen families walked out of the building on their own before sunrise.",
        "The building went up in 1981 and was undergoing its forty-year inspection, a process "
        "that can require owners to make costly repairs to concrete and balconies.",
    ]
    write_thru = [
        lede.replace("12-story", "12-storey").replace(" while ", " and ")
        + " Rescuers pulled dozens of survivors from the tower.",
        "About half of the building's roughly 130 units were affected when the tower came down "
        "at 1:30 a.m., and nearly 100 people were still unaccounted for by midday.",
        "Video showed fire crews removing a boy from the wreckage while teams with dogs worked "
        "through the heap from a parking garage beneath the structure.",
        "Teams of ten to twelve rescuers at a time entered the rubble, working until they grew "
        "tired from the heavy lifting and then making way for a new team.",
    ]
    index = Index(db)
    first = index.assign(member("take1", first_take, site="a"), T0)
    shared = containment(shingle_hashes(first_take), shingle_hashes(write_thru))
    assert shared < SAME_STORY_CONTAINMENT  # the body alone would not join them
    later = index.assign(member("take3", write_thru, site="b"), T0)
    assert later.story_id == first.story_id and later.joined
    # the same lede alone is not enough: an independent report written around it stays apart
    own = [
        "Residents of the oceanfront town said they heard a roar before dawn on Thursday and ran "
        "outside to find part of a condo tower gone, with dust hanging over the street.",
        "The town's mayor told reporters the tower was full and that he expected more deaths, "
        "while crews from two counties searched the rubble with dogs and cameras.",
    ]
    other = index.assign(member("local", own, site="c"), T0)
    assert other.story_id != first.story_id


def test_a_copy_s_dateline_is_not_part_of_its_lede():
    """Where a copy was filed is not what it says: the same lede with or without the
    dateline is the same lede, so a reworded copy is judged on its words alone."""
    lede = (
        "Lisa Marie Presley, the only child of Elvis Presley and a dedicated steward of his "
        "legacy, died Thursday after being hospitalized for a medical emergency."
    )
    bare = ledes_of([lede])
    for dateline in (
        "LOS ANGELES (AP) —",
        "MEMPHIS, Tenn. (WMC) -",
        "VATICAN CITY —",
        "NEW YORK (AP) --",
        "Calabasas (Reuters) -",
    ):
        assert ledes_of([f"{dateline} {lede}"]) == bare, dateline
    # an opening clause that is the story's own words stays
    opening = "Presley, 54, a singer in her own right — and her father's steward — died."
    assert ledes_of([opening])[0].startswith("presley 54 a singer")


def test_clustering_the_same_input_twice_gives_the_same_stories_whatever_ran_between(mongo_uri):
    """No state outside the database: nothing a process learned earlier changes a result."""
    from crawler.cli.cluster import cluster_documents

    docs = [
        {"id": d.id, "text": d.text, "title": d.title} for d in labelled_corpus(seed=41, events=6)
    ]
    first = cluster_documents(docs, mongo_uri)
    # something else in between, in the same process, that teaches common anchors
    other = [{"id": d.id, "text": d.text} for d in labelled_corpus(seed=42, events=8)]
    cluster_documents(other, mongo_uri)
    assert cluster_documents(docs, mongo_uri) == first
    assert (
        len({row["story"] for row in first}) == 6 * 3
    )  # per event: the wire story, 2 independents


def test_common_anchors_learned_elsewhere_are_read_once_the_refresh_period_has_passed(db):
    from crawler.stories import CommonAnchors

    reader, learner = CommonAnchors(db), CommonAnchors(db)
    assert reader.known(T0) == set()
    learner.learn({7: COMMON_ANCHOR_STORIES + 1, 8: 1}, T0)  # 8 is in one story: not common
    assert reader.known(T0 + timedelta(seconds=30)) == set()  # its own copy, until the refresh
    later = T0 + CommonAnchors.REFRESH + timedelta(seconds=1)
    assert reader.known(later) == {7}
