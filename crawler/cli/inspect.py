"""Inspection commands: history, show, diff, stories, runs, status — and the crawl summary.

Readable tables with rich for people, `--json` with the schema's field names
for scripts. Any URL variant of an article finds it (tracking parameters, AMP,
http/https), because lookups go through `urls.url_key` and `url_aliases`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from crawler import urls
from crawler.clock import utcnow
from crawler.store import ArticleStore
from crawler.store.reads import BIG_STORIES, first_sorted, latest, newest
from crawler.versioning import word_diff

Doc = dict[str, Any]


def console() -> Console:
    """The terminal, made when first printed to: importing this module prints nothing and
    opens nothing (a command that only prints JSON never builds one)."""
    return Console(width=None if sys.stdout.isatty() else 140)


class NotFound(Exception):
    pass


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    return table


def _json(data: Any) -> None:
    print(json.dumps(data, default=_jsonable, indent=2, ensure_ascii=False))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, (bytes, bytearray)):
        return None
    return str(value)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "-")


# -- crawl output -------------------------------------------------------------------------


MEMBERS_SHOWN = 50  # per story in `newscrawl stories --json`; --members for more
# a wire story's copies mostly join within hours of the first
FIRST_MEMBERS_WITHIN = (timedelta(hours=1), timedelta(days=1), timedelta(days=7))
SUMMARY_COLUMNS = (
    "pages",
    "new",
    "changed",
    "unchanged",
    "cosmetic",
    "degraded",
    "skipped",
    "errors",
)


def print_crawl_summary(results: list[Any]) -> None:
    table = Table(title="crawl summary")
    table.add_column("site")
    table.add_column("outcome")
    for column in SUMMARY_COLUMNS:
        table.add_column(column, justify="right")
    for result in results:
        table.add_row(
            result.site, result.outcome, *(str(result.summary.get(k, 0)) for k in SUMMARY_COLUMNS)
        )
        if result.error:
            console().print(f"[red]{result.site}: {result.error}[/red]")
    console().print(table)
    console().print(
        "new = new articles, changed = new versions; details per URL are in the 'fetches' collection."
    )


def print_extracted(result: Any) -> None:
    console().print(f"[bold]{result.title}[/bold]")
    for label, value in (
        ("url", result.url),
        ("canonical", result.canonical_url),
        ("authors", ", ".join(result.authors)),
        ("published", result.published),
        ("modified", result.modified),
        ("language", result.language),
        ("body from", result.body_source),
        ("words", len(result.text.split())),
    ):
        console().print(f"  {label:10s} {value or '-'}")
    console().print()
    for paragraph in result.paragraphs:
        console().print(paragraph, soft_wrap=False)
        console().print()


def print_demo_tour(uri: str, seconds: float, edited: list[str]) -> None:
    console().print(
        f"\n[bold]Demo finished in {seconds:.0f}s.[/bold] The data stays in the embedded store (data/mongo)."
    )
    console().print("Look at it:")
    console().print(
        "  newscrawl stories                  # wire copies grouped across sites, with the originating copy"
    )
    console().print("  newscrawl runs                     # the crawl runs and their counters")
    for url in edited:
        console().print(f"  newscrawl history {url}")
        console().print(f"  newscrawl diff {url} 1 2")
    console().print(
        "The embedded store runs while a newscrawl command or `python scheduler.py` runs; each prints"
    )
    console().print(
        "its URI. Open it in mongosh or Compass (this run's URI; the port changes per start):"
    )
    console().print(f'  npx mongosh "{uri}news"')
    console().print(
        "  > db.stories.find({size: {$gte: 2}}, {title: 1, sites: 1, size: 1}).sort({size: -1}).limit(5)"
    )


# -- lookups ------------------------------------------------------------------------------


def find_article(db: Any, url: str) -> Doc:
    article = ArticleStore(db).find_by_url_key(urls.url_key(url))
    if article is None:
        raise NotFound(f"no stored article for {url}")
    return article


def history_rows(db: Any, url: str) -> list[Doc]:
    article = find_article(db, url)
    rows = []
    for version in db.versions.find({"article_id": article["_id"]}, {"raw": 0, "text": 0}).sort(
        "version", 1
    ):
        change = version.get("change", {})
        rows.append(
            {
                "article_id": article["_id"],
                "version": version["version"],
                "fetched_at": version["fetched_at"],
                "title": version["title"],
                "kinds": change.get("kinds", []),
                "summary": change.get("summary"),
                "word_count": version.get("word_count"),
                "content_hash": version["content_hash"],
                "current": version["version"] == article.get("current_version"),
            }
        )
    return rows


def get_version(db: Any, url: str, number: int | None) -> Doc:
    article = find_article(db, url)
    query: Doc = {"article_id": article["_id"]}
    if number is not None:
        query["version"] = number
    else:
        query["version"] = article.get("current_version", article.get("version_count"))
    version = db.versions.find_one(query, {"raw": 0})
    if version is None:
        raise NotFound(f"{url} has no version {number}")
    return version


def story_rows(
    db: Any,
    site: str | None = None,
    since: datetime | None = None,
    limit: int = 20,
    members: int = MEMBERS_SHOWN,
) -> list[Doc]:
    """The biggest and newest stories with their first `members` members (from
    `story_members`: a story may have thousands)."""
    query: Doc = {"merged_into": None}  # a merged story's document only redirects
    if site:
        query["sites"] = site
    if since:
        query["last_joined"] = {"$gte": since}
    biggest = [("size", -1), ("last_joined", -1)]
    rows = []
    for story in first_sorted(db.stories, query, biggest, limit, BIG_STORIES):
        rows.append(
            {
                "story_id": story["_id"],
                "title": story.get("title"),
                "size": story.get("size", 0),
                "sites": story.get("sites", []),
                "origin": story.get("origin"),
                "first_published": story.get("first_published"),
                "last_joined": story.get("last_joined"),
                "sample": story.get("sample", []),
                "members": [
                    {
                        k: m.get(k)
                        for k in (
                            "article_id",
                            "site",
                            "url",
                            "title",
                            "similarity",
                            "joined_at",
                            "changes",
                        )
                    }
                    for m in first_members(db, story, members)
                ],
            }
        )
    return rows


def first_members(db: Any, story: Doc, limit: int) -> list[Doc]:
    """A story's first `limit` members in joining order. A big story's are read through a
    range after its creation (the embedded store sorts all 5,000 members of a 5,000-copy
    story to give the first 50: 167 ms against 7 ms)."""
    created = story.get("created_at")
    bounds = []
    if created is not None and story.get("size", 0) > limit:
        bounds = [created + span for span in FIRST_MEMBERS_WITHIN]
    query = {"story_id": story["_id"]}
    return first_sorted(db.story_members, query, [("joined_at", 1)], limit, bounds)


def run_rows(db: Any, site: str | None = None, limit: int = 20) -> list[Doc]:
    query = {"site": site} if site else {}
    return newest(db.crawl_runs, query, "started_at", limit, utcnow())


# -- commands -----------------------------------------------------------------------------


def _db() -> Any:
    from crawler.store import open_database

    return open_database()


def _with_store(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from crawler.session import store_session

        with store_session(quiet=True):
            try:
                return int(func(args, _db()))
            except NotFound as exc:
                print(f"newscrawl: {exc}", file=sys.stderr)
                return 1

    return run


def cmd_history(args: argparse.Namespace, db: Any) -> int:
    rows = history_rows(db, args.url)
    if args.json:
        _json(rows)
        return 0
    table = _table(
        f"history of {args.url}", ("version", "fetched at (UTC)", "change", "words", "title")
    )
    for row in rows:
        marker = " (current)" if row["current"] else ""
        table.add_row(
            f"{row['version']}{marker}",
            _when(row["fetched_at"]),
            ", ".join(row["kinds"]),
            str(row["word_count"]),
            row["title"],
        )
    console().print(table)
    return 0


def cmd_show(args: argparse.Namespace, db: Any) -> int:
    version = get_version(db, args.url, args.version)
    if args.json:
        _json(version)
        return 0
    console().print(f"[bold]{version['title']}[/bold]")
    console().print(
        f"version {version['version']} · fetched {_when(version['fetched_at'])} · {version['url']}"
    )
    console().print(
        f"authors: {', '.join(version.get('authors') or []) or '-'} · published {version.get('published') or '-'} · modified {version.get('modified') or '-'}"
    )
    console().print(f"change: {', '.join(version.get('change', {}).get('kinds', []))}\n")
    for paragraph in version["text"].split("\n"):
        console().print(paragraph + "\n")
    return 0


def cmd_diff(args: argparse.Namespace, db: Any) -> int:
    old = get_version(db, args.url, args.a)
    new = get_version(db, args.url, args.b)
    title_ops = word_diff(old["title"], new["title"])
    body_ops = word_diff(old["text"].replace("\n", " ¶ "), new["text"].replace("\n", " ¶ "))
    if args.json:
        _json({"url": args.url, "from": args.a, "to": args.b, "title": title_ops, "text": body_ops})
        return 0
    console().print(f"[bold]diff of {args.url}: version {args.a} → {args.b}[/bold]")
    for label, ops in (("title", title_ops), ("text", body_ops)):
        if all(op == "=" for op, _ in ops):
            continue
        line = Text(f"{label}: ")
        for op, chunk in ops:
            if op == "=":
                line.append(_elide(chunk) + " ")
            elif op == "-":
                line.append("[-" + chunk + "-] ", style="bold red")
            else:
                line.append("{+" + chunk + "+} ", style="bold green")
        console().print(line)
    return 0


def _elide(chunk: str, keep: int = 12) -> str:
    words = chunk.split(" ")
    if len(words) <= 2 * keep:
        return chunk
    return " ".join(words[:keep]) + " … " + " ".join(words[-keep:])


def cmd_stories(args: argparse.Namespace, db: Any) -> int:
    since = _parse_since(args.since) if args.since else None
    rows = story_rows(db, args.site, since, args.limit, args.members)
    if args.json:
        _json(rows)
        return 0
    table = _table(
        "stories (biggest, then newest)",
        ("size", "sites", "originating copy", "title", "last joined"),
    )
    for row in rows:
        origin = row.get("origin") or {}
        table.add_row(
            str(row["size"]),
            ", ".join(row["sites"]),
            origin.get("site") or "-",
            row.get("title") or "-",
            _when(row.get("last_joined")),
        )
    console().print(table)
    return 0


def _parse_since(text: str) -> datetime:
    from crawler.discovery import parse_date

    parsed = parse_date(text)
    if parsed is None:
        from crawler.session import UsageError

        raise UsageError(f"--since: not a date: {text!r} (use e.g. 2026-11-25)")
    return parsed


def cmd_runs(args: argparse.Namespace, db: Any) -> int:
    rows = run_rows(db, args.site, args.limit)
    if args.json:
        _json(rows)
        return 0
    table = _table(
        "crawl runs (newest first)",
        (
            "run",
            "trigger",
            "started (UTC)",
            "duration",
            "outcome",
            "pages",
            "new",
            "changed",
            "unchanged",
            "skipped",
            "errors",
        ),
    )
    for run in rows:
        s = run.get("summary") or {}
        table.add_row(
            run["_id"],
            run.get("trigger", "-"),
            _when(run.get("started_at")),
            f"{run.get('duration_s', '-')}s",
            run.get("outcome", "-"),
            *(
                str(s.get(k, 0))
                for k in ("pages", "new", "changed", "unchanged", "skipped", "errors")
            ),
        )
    console().print(table)
    return 0


def status_rows(db: Any, config: Any) -> list[Doc]:
    from crawler.lease import running_crawls

    schedules = {doc["_id"]: doc for doc in db.schedules.find()}
    leases = running_crawls(db)
    rows = []
    for site in config.sites:
        last = latest(db.crawl_runs, {"site": site.name}, "started_at", utcnow(), _not_running)
        lease = leases.get(site.name)
        rows.append(
            {
                "site": site.name,
                "schedule": site.schedule.describe(),
                "running": lease is not None,
                "running_run_id": lease.get("run_id") if lease else None,
                "next_run_at": (schedules.get(site.name) or {}).get("next_run_at"),
                "last_run": {
                    k: last.get(k)
                    for k in (
                        "_id",
                        "trigger",
                        "started_at",
                        "finished_at",
                        "outcome",
                        "summary",
                        "extraction",
                        "warnings",
                    )
                }
                if last
                else None,
            }
        )
    return rows


def _not_running(run: Doc) -> bool:
    return run.get("outcome") != "running"


def cmd_status(args: argparse.Namespace, db: Any) -> int:
    from crawler.config import load_config

    rows = status_rows(db, load_config(args.config))
    if args.json:
        _json(rows)
        return 0
    table = _table(
        "sites",
        (
            "site",
            "schedule",
            "running",
            "next run (UTC)",
            "last run",
            "outcome",
            "new",
            "changed",
            "errors",
        ),
    )
    for row in rows:
        last = row["last_run"] or {}
        s = last.get("summary") or {}
        table.add_row(
            row["site"],
            row["schedule"],
            "yes" if row["running"] else "no",
            _when(row["next_run_at"]),
            _when(last.get("started_at")),
            last.get("outcome", "-"),
            *(str(s.get(k, "-")) for k in ("new", "changed", "errors")),
        )
    console().print(table)
    _print_journal()
    for row in rows:  # extraction drift (crawler.drift): the layout changed, text went missing
        for warning in (row["last_run"] or {}).get("warnings") or []:
            console().print(f"[yellow]warning[/yellow] {row['site']}: extraction drift: {warning}")
    return 0


def _print_journal() -> None:
    """The local journal still to be replayed (crawler.journal.backlog), if any."""
    from crawler.journal import backlog

    state = backlog()
    last = state["last_replay"] or {}
    if state["files"]:
        console().print(
            f"[yellow]journal[/yellow]: {state['files']} file(s), "
            f"{state['bytes'] / 1e6:.1f} MB waiting to be replayed in {state['directory']}"
            + (
                f" ({state['being_replayed']} being replayed now)"
                if state["being_replayed"]
                else ""
            )
        )
    if last:
        console().print(
            f"last journal replay {last.get('at')}: {last.get('pages', 0)} pages, "
            f"{last.get('records', 0)} records" + f"; stopped: {last.get('stopped')}"
        )
    if state["failed_files"]:
        console().print(
            f"[red]journal[/red]: {state['failed_files']} failed-*.jsonl file(s) of lines "
            "that could not be stored are kept in the journal folder"
        )


def add_commands(sub: Any) -> None:
    status = sub.add_parser("status", help="per site: schedule, last and next run, running or not")
    status.add_argument("--config")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_with_store(cmd_status))

    history = sub.add_parser("history", help="all versions of an article")
    history.add_argument("url")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=_with_store(cmd_history))

    show = sub.add_parser("show", help="text and metadata of a version")
    show.add_argument("url")
    show.add_argument("--version", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_with_store(cmd_show))

    diff = sub.add_parser("diff", help="word-level diff between two versions")
    diff.add_argument("url")
    diff.add_argument("a", type=int)
    diff.add_argument("b", type=int)
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=_with_store(cmd_diff))

    stories = sub.add_parser("stories", help="the biggest and newest stories")
    stories.add_argument("--site")
    stories.add_argument("--since")
    stories.add_argument("--limit", type=int, default=20)
    stories.add_argument(
        "--members", type=int, default=MEMBERS_SHOWN, help="members listed per story (--json)"
    )
    stories.add_argument("--json", action="store_true")
    stories.set_defaults(func=_with_store(cmd_stories))

    runs = sub.add_parser("runs", help="recent crawl runs with their counters")
    runs.add_argument("--site")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(func=_with_store(cmd_runs))
