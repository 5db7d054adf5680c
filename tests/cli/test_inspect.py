"""Inspecting snapshots: the CLI commands, and every mongosh recipe of docs/schema.md
run with the real mongosh against a crawled local news network."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from crawler.localnet import LocalNetwork
from crawler.store import connect
from tests.helpers import REPO, newscrawl, newscrawl_here

SENTENCE = "Harbour officials later confirmed the figure in a written statement to the council."


@pytest.fixture(scope="module")
def crawled(mongo_uri, tmp_path_factory):
    """Two sites crawled, one article edited and crawled again."""
    name = f"t_inspect_{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ,
        MONGODB_URI=mongo_uri,
        NEWSCRAWL_DB=name,
        NEWSCRAWL_JOURNAL=str(tmp_path_factory.mktemp("journal")),
    )
    with LocalNetwork(seed=9, hostile=False) as net:
        config = net.write_config(tmp_path_factory.mktemp("cfg") / "sites.yaml")
        newscrawl("crawl", "harbour-times", "valley-gazette", "--config", str(config), env=env)
        net.clock.advance(minutes=1)
        post = net.world.edit_sentence("harbour-times", 1, SENTENCE)
        newscrawl("crawl", "harbour-times", "--config", str(config), env=env)
        url = net.base("harbour-times") + post.path
        db = connect(mongo_uri, name)
        yield {"env": env, "url": url, "db": db, "config": config}
        db.client.drop_database(name)


def test_history_show_diff_find_any_url_variant(crawled):
    env, url = crawled["env"], crawled["url"]
    variant = url.replace("http://", "https://") + "amp/?utm_source=twitter&utm_medium=social"
    history = json.loads(newscrawl_here("history", variant, "--json", env=env).stdout)
    assert [row["version"] for row in history] == [1, 2]
    assert history[0]["kinds"] == ["first"] and history[1]["current"] is True
    assert "body_edited" in history[1]["kinds"] or "body_added" in history[1]["kinds"]
    shown = json.loads(newscrawl_here("show", url, "--version", "2", "--json", env=env).stdout)
    assert SENTENCE in shown["text"] and shown["version"] == 2 and "raw" not in shown
    first = json.loads(newscrawl_here("show", url, "--version", "1", "--json", env=env).stdout)
    assert SENTENCE not in first["text"]
    diff = json.loads(newscrawl_here("diff", url, "1", "2", "--json", env=env).stdout)
    added = " ".join(text for op, text in diff["text"] if op == "+")
    assert SENTENCE in added and not [t for op, t in diff["text"] if op == "-"]
    readable = newscrawl_here("diff", url, "1", "2", env=env).stdout
    assert "{+" in readable and "officials later confirmed" in readable
    table = newscrawl_here("history", url, env=env).stdout
    assert "(current)" in table and "first" in table


def test_unknown_url_is_an_error_with_a_message(crawled):
    result = newscrawl_here("history", "https://nowhere.example/x", env=crawled["env"], check=False)
    assert result.returncode == 1 and "no stored article" in result.stderr


@pytest.mark.slow
def test_stories_runs_and_status(crawled):
    env, db = crawled["env"], crawled["db"]
    stories = json.loads(newscrawl_here("stories", "--json", env=env).stdout)
    sizes = [s["size"] for s in stories]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 2  # wire copies on both sites
    assert stories[0]["origin"]["site"] == "valley-gazette"
    only = json.loads(
        newscrawl_here("stories", "--site", "harbour-times", "--json", env=env).stdout
    )
    assert only and all("harbour-times" in s["sites"] for s in only)
    future = json.loads(
        newscrawl_here("stories", "--since", "2999-01-01", "--json", env=env).stdout
    )
    assert future == []
    runs = json.loads(newscrawl_here("runs", "--json", env=env).stdout)
    assert len(runs) == db.crawl_runs.count_documents({}) == 3
    assert runs[0]["site"] == "harbour-times" and runs[0]["summary"]["changed"] == 1
    status = json.loads(
        newscrawl_here("status", "--config", str(crawled["config"]), "--json", env=env).stdout
    )
    by_site = {row["site"]: row for row in status}
    assert by_site["harbour-times"]["last_run"]["summary"]["changed"] == 1
    assert (
        by_site["lakeside-herald"]["last_run"] is None and not by_site["harbour-times"]["running"]
    )
    assert "crawl runs" in newscrawl_here("runs", env=env).stdout


# -- mongosh --------------------------------------------------------------------------


def _mongosh() -> str:
    local = REPO / "node_modules" / ".bin" / "mongosh"
    found = str(local) if local.exists() else shutil.which("mongosh")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(
            "mongosh is not installed (scripts/test.sh installs it with npm); the recipes are unverified"
        )
    pytest.skip("mongosh not installed; run scripts/test.sh")


def _recipes() -> list[str]:
    text = (REPO / "docs" / "schema.md").read_text()
    section = text.split("## mongosh recipes", 1)[1]
    return [block.strip() for block in re.findall(r"```js\n(.*?)```", section, re.S)]


def _run(script: str, uri: str, db_name: str) -> object:
    script = script.rstrip().rstrip(";")
    if ".find(" in script.splitlines()[-1] or script.endswith(")") and ".find(" in script:
        script += ".toArray()"  # a cursor prints only in the interactive shell
    result = subprocess.run(
        [_mongosh(), f"{uri.rstrip('/')}/{db_name}", "--quiet", "--json=relaxed", "--eval", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{script}\n{result.stderr}{result.stdout}"
    return json.loads(result.stdout)


@pytest.mark.slow
def test_every_mongosh_recipe_returns_what_the_docs_say(crawled, mongo_uri):
    db = crawled["db"]
    article = db.articles.find_one(
        {"aliases": {"$regex": re.escape(crawled["url"].split("://")[1].rstrip("/"))}}
    )
    setup, latest, history, today, biggest, copies, siblings, why, _ = _recipes()
    assert setup.startswith("const key = ")
    prelude = f"const key = {json.dumps(article['aliases'][0])};\n"

    rows = _run(prelude + latest, mongo_uri, db.name)
    assert len(rows) == 1 and rows[0]["version"] == 2 and "raw" not in rows[0]

    rows = _run(prelude + history, mongo_uri, db.name)
    assert [r["version"] for r in rows] == [1, 2] and rows[1]["change"]["kinds"]

    rows = _run(prelude + today, mongo_uri, db.name)
    assert [(r["url"], r["version"]) for r in rows] == [(article["url"], 2)]

    rows = _run(prelude + biggest, mongo_uri, db.name)
    biggest_first = [("size", -1), ("last_joined", -1)]
    expected = [s["_id"] for s in db.stories.find().sort(biggest_first).limit(10)]
    expected = [i for i in expected if db.stories.find_one({"_id": i})["size"] >= 2]
    assert expected, "the crawl made no story of two copies or more"
    assert [r["_id"] for r in rows] == expected and rows[0]["size"] >= rows[-1]["size"]

    rows = _run(prelude + copies, mongo_uri, db.name)
    top = expected[0]
    assert [r["_id"] for r in rows] == [
        m["_id"] for m in db.story_members.find({"story_id": top}).sort("joined_at", 1)
    ]
    assert len(rows) == db.stories.find_one({"_id": top})["size"] and "changes" in rows[0]

    member = db.articles.find_one({"story_id": top})  # an article of the biggest story
    rows = _run(f"const key = {json.dumps(member['aliases'][0])};\n" + siblings, mongo_uri, db.name)
    assert len(rows) >= 1 and sorted(r["_id"] for r in rows) == sorted(
        m["_id"] for m in db.story_members.find({"story_id": top, "_id": {"$ne": member["_id"]}})
    )

    rows = _run(prelude + why, mongo_uri, db.name)
    assert rows and {r["outcome"] for r in rows} >= {"new", "changed"}


def test_the_merged_story_recipe_follows_merges_to_the_live_story(db, mongo_uri):
    *_, follow = _recipes()
    db.stories.insert_many(
        [
            {"_id": "c", "size": 0, "merged_into": "b"},
            {"_id": "b", "size": 0, "merged_into": "a"},
            {"_id": "a", "size": 7, "title": "Live", "sites": ["x"]},
        ]
    )
    for noted in ("c", "b", "a"):
        rows = _run(f"const storyId = {json.dumps(noted)};\n" + follow, mongo_uri, db.name)
        assert [(r["_id"], r["size"]) for r in rows] == [("a", 7)]


BRACKETED = """<html><head><title>[updated] Council approves budget</title></head><body><article>
<h1>[updated] Council approves budget</h1>
<p>The council voted on Tuesday to approve the regional budget after a long debate that
lasted well into the night, officials said.</p>
<p>[caption id="attachment_1"]Councillors at the vote.[/caption] The mayor said the vote was a
turning point for the town and its residents.</p>
<p>Opponents argued that the plan cuts services for seniors and would raise fees for families
across the region next year.</p></article></body></html>"""


def test_page_text_in_square_brackets_is_printed_as_it_is(tmp_path, crawl_env):
    """Titles and paragraphs are data, not rich markup: a leftover WordPress shortcode
    ("[/caption]") made `extract` fail with MarkupError, and "[updated]" vanished."""
    page = tmp_path / "page.html"
    page.write_text(BRACKETED)
    result = newscrawl("extract", str(page), env=dict(crawl_env, COLUMNS="200"), check=False)
    assert result.returncode == 0, result.stderr
    assert "[updated] Council approves budget" in result.stdout
    assert "Councillors at the vote.[/caption]" in result.stdout


def test_table_cells_in_square_brackets_are_printed_as_they_are(capsys, monkeypatch):
    from crawler.cli.tables import Column, print_table

    monkeypatch.setenv("COLUMNS", "120")
    print_table("t", (Column("title"),), [("[updated] Council [/caption] vote",)])
    assert "[updated] Council [/caption] vote" in capsys.readouterr().out
