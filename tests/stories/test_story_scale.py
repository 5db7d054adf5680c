"""Stories as they grow: a wire story carried by thousands of pages stays one story in
bounded documents, a better origin re-measures members a bounded number at a time,
and a database written by the schema-1 code (members inside `stories`) is migrated."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import bson
import pytest
from bson import json_util

from crawler.localnet.text import rewrite
from crawler.maintenance.migrate import SCHEMA_VERSION
from crawler.maintenance.verify import verify
from crawler.pipeline.processing import persist_batch
from crawler.store import Page
from crawler.stories import StoryIndex, members
from crawler.version.decide import Snapshot
from tests.helpers import REPO, members_of, newscrawl
from tests.stories.test_clustering import T0, Index, member, story_world

SCHEMA1 = REPO / "tests" / "data" / "schema1.json"  # written by commit bf30250's code
EDITS = [("headline",), ("headline", "intro"), ("trim",), ("glue", "headline"), ("lede_twice",)]


@pytest.mark.slow
def test_a_story_of_three_thousand_copies_is_one_story_in_bounded_documents(db):
    rng, event, wire = story_world(12)
    index = StoryIndex(db)
    copies = [member("wire", wire.paragraphs, site="wire", title=wire.title)]
    for n in range(1, 3000):
        if n % 10:  # most regional sites print the wire copy as it came, under their header
            copies.append(member(f"c{n}", wire.paragraphs, site=f"site{n % 300}", title=f"T{n}"))
        else:
            copy = rewrite(random.Random(n), wire, event, f"site{n % 300}", EDITS[n // 10 % 5])
            copies.append(member(f"c{n}", copy.paragraphs, site=f"site{n % 300}", title=copy.title))
    placed = []
    for start in range(0, len(copies), 32):
        placed += index.assign_many(copies[start : start + 32], T0 + timedelta(seconds=start))
    assert {a.story_id for a in placed} == {"wire"}
    story = db.stories.find_one({"_id": "wire"})
    assert story["size"] == 3000 == db.story_members.count_documents({"story_id": "wire"})
    assert len(story["sample"]) == members.SAMPLE_SIZE
    assert len(story["sites"]) == 301
    assert len(bson.encode(story)) < 16_000  # the summary does not grow with the members
    assert story["origin"]["article_id"] == "wire"
    assert db.story_members.distinct("story_id") == ["wire"]


def test_a_better_origin_re_measures_members_a_bounded_number_at_a_time(db, monkeypatch):
    monkeypatch.setattr(members, "CHANGES_REFRESH", 3)
    rng, event, wire = story_world(4)
    index = Index(db)
    for n in range(8):  # regional copies without the dateline, before the agency's own
        copy = rewrite(random.Random(n), wire, event, f"s{n}", ("no_dateline", "headline"))
        index.assign(member(f"r{n}", copy.paragraphs, site=f"s{n}", title=copy.title), T0)
    story_id = db.story_members.find_one({"_id": "r0"})["story_id"]
    index.assign(member("wire", wire.paragraphs, site="wire", title=wire.title), T0)
    story = db.stories.find_one({"_id": story_id})
    assert story["origin"]["article_id"] == "wire" and story["changes_pending"] is True
    against = [m.get("changes_against") for m in members_of(db, story_id)]
    assert against.count("wire") == 1 + 3  # its own entry and one bounded batch
    for n in range(8, 12):  # each later join re-measures another batch
        copy = rewrite(random.Random(n), wire, event, f"s{n}", ("headline",))
        index.assign(member(f"r{n}", copy.paragraphs, site=f"s{n}", title=copy.title), T0)
    assert all(m["changes_against"] == "wire" for m in members_of(db, story_id))
    assert db.stories.find_one({"_id": story_id})["changes_pending"] is False
    regional = db.story_members.find_one({"_id": "r0"})
    assert regional["changes"]["new_headline"] is True


def _load_schema1(db) -> dict[str, list]:
    dump = json_util.loads(SCHEMA1.read_text())
    for name, docs in dump.items():
        if docs:
            db[name].insert_many(docs)
    db.locks.insert_one({"_id": "story-index", "holder": "old", "expires_at": T0})
    return dump


def test_newscrawl_migrate_moves_members_out_of_a_schema_1_database(db, crawl_env):
    dump = _load_schema1(db)
    result = newscrawl("migrate", "--json", env=crawl_env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    old_members = sum(len(s["members"]) for s in dump["stories"])
    assert report == {
        "schema": SCHEMA_VERSION,
        "stories": len(dump["stories"]),
        "members": old_members,
        "already": False,
    }
    assert db.stories.count_documents({"members": {"$exists": True}}) == 0
    assert db.locks.count_documents({}) == 0
    for old in dump["stories"]:
        story = db.stories.find_one({"_id": old["_id"]})
        listed = members_of(db, old["_id"])
        assert [m["_id"] for m in listed] == [m["article_id"] for m in old["members"]]
        assert [m["changes"] for m in listed] == [m["changes"] for m in old["members"]]
        assert story["size"] == len(old["members"]) and story["sites"] == sorted(old["sites"])
        assert story["origin"]["article_id"] == old["origin"]["article_id"]
        assert "joined_at" in story["origin"]  # what ranks a later origin against it
    assert verify(db, T0 + timedelta(days=1)) == []
    before = {name: list(db[name].find()) for name in ("stories", "story_members")}
    again = newscrawl("migrate", "--json", env=crawl_env)
    assert json.loads(again.stdout.splitlines()[-1])["stories"] == 0
    assert {name: list(db[name].find()) for name in ("stories", "story_members")} == before


def test_a_migrated_story_takes_new_copies_like_one_written_today(db):
    from crawler.maintenance.migrate import migrate

    dump = _load_schema1(db)
    migrate(db, T0)
    wire_e0 = next(s for s in dump["stories"] if s["size"] == 5)
    origin = wire_e0["origin"]["article_id"]
    paragraphs = db.articles.find_one({"_id": origin})["text"].split("\n")
    later = T0 + timedelta(days=1)
    late = Page(
        article_id="late-copy",
        url="https://late.test/late-copy",
        site="late",
        fetched_at=later,
        snapshot=Snapshot.of("Late", paragraphs),
        aliases=["late.test/late-copy"],
        raw_html=b"<html>late</html>",
    )
    [result] = persist_batch(db, [late], later)
    assert result.outcome == "new" and result.story_id == wire_e0["_id"]
    story = db.stories.find_one({"_id": wire_e0["_id"]})
    assert story["size"] == 6 and "late" in story["sites"] and story["last_joined"] == later
    assert verify(db, later) == []
