"""What changed, found articles, stories with their copies, and tables at 80 columns:
the archivist's commands against a crawled local news network."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import uuid

import pytest

from crawler.localnet import LocalNetwork
from crawler.store import connect
from tests.helpers import REPO, newscrawl, newscrawl_here

SITES = ("valley-gazette", "harbour-times")


@pytest.fixture(scope="module")
def archive(mongo_uri, tmp_path_factory):
    """Two sites crawled three times while their edited articles change (a paragraph
    added after an hour, a number corrected and the headline changed two hours later)."""
    name = f"t_changes_{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ,
        MONGODB_URI=mongo_uri,
        NEWSCRAWL_DB=name,
        NEWSCRAWL_JOURNAL=str(tmp_path_factory.mktemp("journal")),
    )
    with LocalNetwork(seed=9, hostile=False) as net:
        config = net.write_config(tmp_path_factory.mktemp("cfg") / "sites.yaml")
        env["NEWSCRAWL_CONFIG"] = str(config)
        crawl = ("crawl", *SITES, "--config", str(config))
        newscrawl(*crawl, env=env)
        net.clock.advance(hours=1, minutes=5)
        newscrawl(*crawl, env=env)
        net.clock.advance(hours=2)
        newscrawl(*crawl, env=env)
        db = connect(mongo_uri, name)
        yield {"env": env, "db": db, "config": config}
        db.client.drop_database(name)


def _json(*args, env):
    result = newscrawl_here(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_changes_lists_every_edit_newest_first_with_its_kinds(archive):
    env, db = archive["env"], archive["db"]
    rows = _json("changes", "--since", "1h", env=env)
    edits = list(db.versions.find({"version": {"$gt": 1}}, {"raw": 0}))
    assert len(edits) >= 4  # two edited articles a site, each edited twice
    assert sorted((r["article_id"], r["version"]) for r in rows) == sorted(
        (v["article_id"], v["version"]) for v in edits
    )
    times = [r["fetched_at"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(r["summary"] and r["url"] and r["title"] and r["site"] in SITES for r in rows)
    headlines = _json("changes", "--kind", "headline", env=env)
    assert headlines and all("headline" in r["kinds"] for r in headlines)
    assert len(headlines) < len(rows)
    one_site = _json("changes", "--site", "harbour-times", env=env)
    assert one_site and {r["site"] for r in one_site} == {"harbour-times"}
    news = _json("changes", "--kind", "first", "--limit", "3", env=env)
    assert len(news) == 3 and all(r["version"] == 1 for r in news)
    assert _json("changes", "--since", "2999-01-01", env=env) == []
    diffs = newscrawl_here("changes", "--kind", "headline", "--diff", env=env).stdout
    assert "+# UPDATED: " in diffs  # the stored diff: headline first


def test_articles_found_by_words_and_inspected_by_id(archive):
    env, db = archive["env"], archive["db"]
    edited = db.articles.find_one({"title": {"$regex": "^UPDATED: "}, "site": "harbour-times"})
    word = [w for w in edited["title"].split() if len(w) > 5 and w.isalpha()][0]
    found = _json("articles", "--grep", word, "UPDATED:", env=env)
    assert edited["_id"] in [r["article_id"] for r in found]
    assert all(word.lower() in r["title"].lower() or r["versions"] for r in found)
    assert _json("articles", "--grep", "zzqxnotaword", env=env) == []
    listed = _json("articles", "--site", "valley-gazette", "--limit", "5", env=env)
    assert len(listed) == 5 and {r["site"] for r in listed} == {"valley-gazette"}
    history = _json("history", edited["_id"], env=env)
    assert [r["version"] for r in history] == [1, 2, 3]
    shown = _json("show", edited["_id"], "--version", "3", env=env)
    assert shown["title"] == edited["title"]
    diff = _json("diff", edited["_id"], "1", "3", env=env)
    assert any(op == "+" and "UPDATED:" in text for op, text in diff["title"])


def test_stories_table_names_each_copy_site_and_url(archive):
    env, db = archive["env"], archive["db"]
    story = db.stories.find({"size": {"$gte": 2}}).sort([("size", -1), ("last_joined", -1)])[0]
    members = list(db.story_members.find({"story_id": story["_id"]}))
    table = newscrawl_here("stories", "--limit", "1", env=dict(env, COLUMNS="200")).stdout
    for member in members[:5]:
        assert f"{member['site']}: {member['url']}" in table


@pytest.mark.slow
def test_wrong_sites_limits_and_dates_are_usage_errors(archive):
    env = archive["env"]
    for command in ("stories", "runs", "changes", "articles"):
        typo = newscrawl_here(command, "--site", "valley-gazete", env=env, check=False)
        assert typo.returncode == 2, (command, typo.stdout)
        assert "valley-gazette" in typo.stderr and "harbour-times" in typo.stderr
    for command in ("stories", "runs", "changes", "articles"):
        zero = newscrawl_here(command, "--limit", "0", env=env, check=False)
        assert zero.returncode == 2 and "--limit" in zero.stderr, command
    bad = newscrawl_here("changes", "--since", "yesterdayish", env=env, check=False)
    assert bad.returncode == 2 and "1h" in bad.stderr
    kind = newscrawl_here("changes", "--kind", "typo", env=env, check=False)
    assert kind.returncode == 2 and "headline" in kind.stderr
    stories = _json("stories", "--since", "2h", env=env)
    assert stories  # a duration, as the config's schedules take


def test_runs_json_names_the_run_id_as_crawl_does(archive):
    runs = _json("runs", env=archive["env"])
    assert runs and all("run_id" in r and "_id" not in r for r in runs)
    status = _json("status", env=archive["env"])
    ran = [row["last_run"] for row in status if row["last_run"]]
    assert ran and all(r["run_id"] for r in ran)


def _in_terminal(args: list[str], env: dict[str, str], columns: int = 80) -> str:
    """Run a command in a pseudo-terminal `columns` wide, as a user sees it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", *args],
        cwd=REPO,
        env=dict(env, COLUMNS=str(columns), TERM="xterm"),
        stdin=follower,
        stdout=follower,
        stderr=subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=120) == 0
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("command", ["runs", "status", "stories", "changes", "articles"])
def test_tables_are_readable_at_80_columns(archive, command):
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", _in_terminal([command], archive["env"]))
    lines = text.replace("\r", "").splitlines()
    assert max(len(line) for line in lines) <= 80, text
    assert all(
        line.rstrip().endswith(("│", "┃", "┓", "┫", "┩", "┤", "┘", "┐"))
        for line in lines
        if line.startswith(("│", "┃", "┏", "┡", "└"))
    ), text
    assert "…" not in text, text  # no cell cut to an ellipsis
    rows = [line for line in lines if line.startswith("│")]
    assert rows, text
    if command == "runs":  # every run id of the table, whole, over its folded lines
        db = archive["db"]
        first_column = "".join(line.split("│")[1].strip() for line in rows)
        for run in db.crawl_runs.find({}, {"_id": 1}):
            assert run["_id"] in first_column


# -- export -------------------------------------------------------------------------------


def _export(tmp_path, env, *args, name="out"):
    path = tmp_path / name
    result = newscrawl("export", *args, "-o", str(path), env=env)
    assert result.returncode == 0, result.stderr
    return path, result


def _warc_records(path):
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            yield record, record.content_stream().read()


def test_warc_export_round_trips_every_version(archive, tmp_path):
    from crawler.store.versions import decompress_raw

    env, db = archive["env"], archive["db"]
    path, result = _export(tmp_path, env, "--format", "warc", name="all.warc.gz")
    assert "--since" in result.stderr  # says how to resume
    responses, metadata, first = {}, {}, None
    for record, body in _warc_records(path):
        first = first or record.rec_type
        assert record.rec_headers.protocol == "WARC/1.1"
        if record.rec_type == "response":
            key = record.rec_headers.get_header("WARC-Newscrawl-Version")
            responses[key] = (record, body)
        elif record.rec_type == "metadata":
            metadata[record.rec_headers.get_header("WARC-Concurrent-To")] = json.loads(body)
    assert first == "warcinfo"
    stored = list(db.versions.find())
    assert len(responses) == len(stored) == len(metadata)
    for version in stored:
        record, body = responses[f"{version['article_id']}:{version['version']}"]
        assert body == decompress_raw(version["raw"]["zstd"])
        assert record.rec_headers.get_header("WARC-Target-URI") == version["http"]["final_url"]
        date = record.rec_headers.get_header("WARC-Date")
        assert date == version["fetched_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert record.http_headers.get_statuscode() == str(version["http"]["status"])
        content_type = dict(version["http"]["headers"])["content-type"]
        assert record.http_headers.get_header("Content-Type") == content_type
        about = metadata[record.rec_headers.get_header("WARC-Record-ID")]
        assert (about["title"], about["change"]["kinds"]) == (
            version["title"],
            version["change"]["kinds"],
        )


def test_warc_export_is_indexed_by_cdxj_indexer(archive, tmp_path):
    indexer = REPO / ".venv" / "bin" / "cdxj-indexer"
    if not indexer.exists():
        pytest.skip("cdxj-indexer is not installed")
    path, _ = _export(tmp_path, archive["env"], "--format", "warc", name="all.warc.gz")
    index = subprocess.run(
        [str(indexer), str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    lines = [json.loads(line.split(" ", 2)[2]) for line in index]
    responses = [line for line in lines if line.get("mime") != "application/json"]
    assert len(responses) == archive["db"].versions.count_documents({})
    assert all(int(line["length"]) > 0 and "offset" in line for line in lines)


def test_export_windows_join_without_gaps_and_old_versions_get_headers(archive, tmp_path):
    env, db = archive["env"], archive["db"]
    times = sorted({v["fetched_at"] for v in db.versions.find({}, {"fetched_at": 1})})
    middle = times[len(times) // 2].isoformat()
    before, _ = _export(tmp_path, env, "--format", "warc", "--until", middle, name="a.warc.gz")
    after, _ = _export(tmp_path, env, "--format", "warc", "--since", middle, name="b.warc.gz")
    keys = [
        record.rec_headers.get_header("WARC-Newscrawl-Version")
        for path in (before, after)
        for record, _ in _warc_records(path)
        if record.rec_type == "response"
    ]
    assert sorted(keys) == sorted(f"{v['article_id']}:{v['version']}" for v in db.versions.find())
    only, _ = _export(tmp_path, env, "--format", "warc", "--site", "harbour-times", name="h.gz")
    sites = {
        record.rec_headers.get_header("WARC-Target-URI").split("/")[2]
        for record, _ in _warc_records(only)
        if record.rec_type == "response"
    }
    assert len(sites) == 1
    # a version stored before the headers were kept: status and content type rebuilt
    old = db.versions.find_one({"site": "valley-gazette"})
    db.versions.update_one({"_id": old["_id"]}, {"$unset": {"http.headers": ""}})
    try:
        path, _ = _export(tmp_path, env, "--format", "warc", "--site", "valley-gazette")
        record = next(
            record
            for record, _ in _warc_records(path)
            if record.rec_headers.get_header("WARC-Newscrawl-Version")
            == f"{old['article_id']}:{old['version']}"
        )
        assert record.rec_headers.get_header("WARC-Newscrawl-Headers") == "synthesized"
        assert record.http_headers.protocol == "HTTP/1.1"
        assert record.http_headers.get_statuscode() == "200"
        assert record.http_headers.get_header("Content-Type") == old["http"]["content-type"]
    finally:
        db.versions.update_one({"_id": old["_id"]}, {"$set": {"http": old["http"]}})


def test_jsonl_export_has_versions_articles_and_stories(archive, tmp_path):
    import base64

    from crawler.store.versions import decompress_raw

    env, db = archive["env"], archive["db"]
    path, _ = _export(tmp_path, env, "--format", "jsonl", name="all.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    by_type = {}
    for line in lines:
        by_type.setdefault(line["type"], []).append(line)
    assert len(by_type["version"]) == db.versions.count_documents({})
    assert not any("raw" in v or "raw_base64" in v for v in by_type["version"])
    assert {a["_id"] for a in by_type["article"]} == {a["_id"] for a in db.articles.find()}
    assert {s["_id"] for s in by_type["story"]} == {
        s["_id"] for s in db.stories.find({"last_joined": {"$ne": None}})
    }
    raw, _ = _export(tmp_path, env, "--format", "jsonl", "--raw", name="raw.jsonl")
    stored = {v["_id"]: decompress_raw(v["raw"]["zstd"]) for v in db.versions.find()}
    versions = [json.loads(line) for line in raw.read_text().splitlines()]
    versions = [v for v in versions if v["type"] == "version"]
    assert {v["_id"]: base64.b64decode(v["raw_base64"]) for v in versions} == stored
    refused = newscrawl("export", "--format", "jsonl", "-o", str(path), env=env, check=False)
    assert refused.returncode == 2 and "exists" in refused.stderr


def test_every_option_of_every_command_says_what_it_does():
    import argparse

    from crawler.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.dest}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert missing == []


def test_piped_tables_take_columns_and_name_urls_seen_again(archive):
    env, db = archive["env"], archive["db"]
    narrow = newscrawl_here("runs", env=dict(env, COLUMNS="80")).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 80
    wide = newscrawl_here("runs", "--limit", "1", env=dict(env, COLUMNS="250")).stdout
    assert "seen again" in wide and "not fetched" in wide and "skipped" not in wide
    run = db.crawl_runs.find().sort("started_at", -1)[0]
    again = run["counters"].get("skip/duplicate", 0)
    row = next(line for line in wide.splitlines() if run["_id"] in line)
    cells = [c.strip() for c in row.split("│")]
    header = next(line for line in wide.splitlines() if "seen again" in line)
    names = [c.strip() for c in header.split("┃")]
    assert cells[names.index("seen again")] == str(again)
    not_fetched = run["summary"]["skipped"] - again
    assert cells[names.index("not fetched")] == str(not_fetched)


def test_crawl_summary_splits_skips_into_seen_again_and_not_fetched(capsys, monkeypatch):
    from crawler.cli.inspect import print_crawl_summary
    from crawler.run.runner import RunResult

    monkeypatch.setenv("COLUMNS", "200")
    summary = {"pages": 12, "new": 9, "changed": 0, "skipped": 27, "errors": 0}
    result = RunResult("valley-gazette", "run-1", "ok", summary)
    print_crawl_summary([result], {"run-1": {"skip/duplicate": 25, "skip/not-due": 2}})
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "seen again" in line)
    row = next(line for line in out.splitlines() if "valley-gazette" in line)
    names = [c.strip() for c in header.split("┃")]
    cells = [c.strip() for c in row.split("│")]
    assert cells[names.index("seen again")] == "25" and cells[names.index("not fetched")] == "2"
    assert cells[names.index("new")] == "9"


def test_a_wrong_site_lists_the_stores_sites_when_there_is_no_config(archive, tmp_path):
    """Run from a folder without the config (after the demo, say): the sites the store
    crawled are the known ones, not 'none in the config'."""
    env = dict(archive["env"], NEWSCRAWL_CONFIG=str(tmp_path / "absent.yaml"))
    typo = newscrawl_here("stories", "--site", "valley-gazete", env=env, check=False)
    assert typo.returncode == 2, typo.stdout
    assert "valley-gazette" in typo.stderr and "harbour-times" in typo.stderr, typo.stderr


def test_export_to_dash_writes_the_lines_to_stdout(archive, tmp_path):
    """`-o -` is standard output (it wrote a file named '-'); counts go to stderr."""
    result = newscrawl("export", "--format", "jsonl", "-o", "-", env=archive["env"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "-").exists()
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    versions = [r for r in rows if r["type"] == "version"]
    assert len(versions) == archive["db"].versions.count_documents({})
    assert "versions" in result.stderr
