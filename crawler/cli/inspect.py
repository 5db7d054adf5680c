"""Inspection commands: history, show, diff, stories, runs, status — and the crawl summary.

Readable tables with rich for people, `--json` with the schema's field names
for scripts. Any URL variant of an article finds it (tracking parameters, AMP,
http/https), because lookups go through `urls.url_key` and `url_aliases`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from crawler import urls
from crawler.cli import tables
from crawler.cli.options import SINCE_FORMS, add_site, check_site, parse_since, positive_int
from crawler.cli.tables import Column, print_table
from crawler.clock import utcnow
from crawler.crawl import figures
from crawler.store import ArticleStore
from crawler.store.reads import BIG_STORIES, first_sorted, last_run, newest
from crawler.types import Doc
from crawler.version.decide import word_diff


def console() -> Console:
    """The terminal, made when first printed to: importing this module prints nothing and
    opens nothing (a command that only prints JSON never builds one)."""
    return tables.console()


class NotFound(Exception):
    pass


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
# the run figures (crawler.crawl.figures) each table shows, by header, with its priority
CRAWL_COLUMNS = {
    "pages": 2,
    "new": 1,
    "changed": 1,
    "unchanged": 3,
    "cosmetic": 3,
    "degraded": 3,
    figures.SEEN_AGAIN: 3,
    figures.label("skipped"): 3,
    "errors": 1,
}
RUNS_COLUMNS = {
    "pages": 3,
    "new": 2,
    "changed": 2,
    "unchanged": 5,
    figures.SEEN_AGAIN: 4,
    figures.label("skipped"): 5,
    "errors": 2,
}
STATUS_FIGURES = ("new", "changed", "errors")


def figure_columns(shown: dict[str, int]) -> list[Column]:
    return [Column(header, priority, "right") for header, priority in shown.items()]


def legend(headers: Any) -> str:
    """What the figures' headers mean (crawler.crawl.figures.LEGEND), for those shown."""
    return ", ".join(f"{h} = {figures.LEGEND[h]}" for h in headers if h in figures.LEGEND)


def print_crawl_summary(results: list[Any], counters: dict[str, Doc] | None = None) -> None:
    """One row per site; `counters` (run_id -> the run's counters) splits the skipped entries
    into URLs seen again in another source and URLs not fetched."""
    columns = [Column("site"), Column("outcome"), *figure_columns(CRAWL_COLUMNS)]
    cells = []
    for result in results:
        shown = figures.table_cells(result.summary, (counters or {}).get(result.run_id))
        cells.append((result.site, result.outcome, *(str(shown[h]) for h in CRAWL_COLUMNS)))
        if result.error:
            console().print(f"[red]{result.site}: {escape(result.error)}[/red]")
    print_table("crawl summary", columns, cells)
    console().print(
        f"{legend(CRAWL_COLUMNS)}; details per URL are in the 'fetches' collection.",
    )


def print_extracted(result: Any) -> None:
    # page text is never markup: "[updated]" vanished and "[/caption]" raised MarkupError
    console().print(f"[bold]{escape(str(result.title))}[/bold]")
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
        console().print(f"  {label:10s} {value or '-'}", markup=False)
    console().print()
    for paragraph in result.paragraphs:
        console().print(paragraph, soft_wrap=False, markup=False)
        console().print()


def newscrawl_command() -> str:
    """How to run this newscrawl, as a user can paste it: `newscrawl` when that is what was
    run and PATH finds the same script, else that script's full path (a venv not
    activated), else `python -m crawler` with this Python."""
    import shlex
    import shutil
    from pathlib import Path

    script = Path(sys.argv[0]).absolute()
    if script.name != "newscrawl" or not script.exists():
        return f"{shlex.quote(sys.executable)} -m crawler"
    found = shutil.which("newscrawl")
    if found and Path(found).resolve() == script.resolve():
        return "newscrawl"
    return shlex.quote(str(script))


def print_demo_tour(seconds: float, edited: list[str]) -> None:
    import shlex

    from crawler.paths import data_dir

    run = newscrawl_command()
    out = console()
    out.print(
        f"\n[bold]Demo finished in {seconds:.0f}s.[/bold] The data stays in the embedded store "
        f"({data_dir() / 'mongo'}), which every command finds from any folder.",
        soft_wrap=True,  # a path folded across lines cannot be pasted
        highlight=False,
    )
    out.print("Look at it:")
    for command, why in (
        ("changes --since 1d", "what was edited, newest first"),
        ("stories", "wire copies grouped across sites, with each copy's URL"),
        ("runs", "the crawl runs and their counters"),
    ):
        out.print(f"  {run} {command}    # {why}", soft_wrap=True, highlight=False)
    for url in edited:
        out.print(f"  {run} history {shlex.quote(url)}", soft_wrap=True, highlight=False)
        out.print(f"  {run} diff {shlex.quote(url)} 1 2", soft_wrap=True, highlight=False)
    # this run's URI is gone once the demo ends (the store stops with the last command
    # using it): `newscrawl store` keeps it open and prints the URI to give mongosh
    out.print(
        "The store stops when the last command using it ends. To browse it in mongosh or "
        "Compass, keep it open in another terminal (it prints its URI):"
    )
    out.print(f"  {run} store", soft_wrap=True, highlight=False)
    out.print('  npx mongosh "<the URI it prints>news"', soft_wrap=True, highlight=False)
    out.print(
        "  > db.stories.find({size: {$gte: 2}}, {title: 1, sites: 1, size: 1}).sort({size: -1}).limit(5)",
        soft_wrap=True,
        highlight=False,
    )


# -- lookups ------------------------------------------------------------------------------


ARTICLE_ID = re.compile(r"^[0-9a-f]{40}$")  # urls.article_id: sha1 of the url_key
ARTICLE_HELP = "the article: any URL variant of it, or its article_id (as --json prints)"


def find_article(db: Any, url: str) -> Doc:
    """The article a URL (any variant: tracking parameters, AMP, http/https) or an
    `article_id` names."""
    text = url.strip()
    if ARTICLE_ID.match(text):
        article: Doc | None = db.articles.find_one({"_id": text})
        if article is not None:
            return article
    article = ArticleStore(db).find_by_url_key(urls.url_key(text))
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
                "agency": story.get("agency") or "unknown",
                "agency_from": _agency_from(story),
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
                            "agency",
                            "photo_agency",
                            "joined_at",
                            "changes",
                        )
                    }
                    for m in first_members(db, story, members)
                ],
            }
        )
    return rows


def _agency_from(story: Doc) -> str | None:
    """The kind of evidence that named the story ("text", "photo credits"); a story named
    before photo credits were read (no `agency_from`) was named from text."""
    if (story.get("agency") or "unknown") == "unknown":
        return None
    return story.get("agency_from") or "text"


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
        from crawler.store.session import store_session

        with store_session(quiet=True, create=False):  # reading never makes an empty store
            try:
                return int(func(args, _db()))
            except NotFound as exc:
                print(f"newscrawl: {exc}", file=sys.stderr)
                return 1

    return run


def cmd_history(args: argparse.Namespace, db: Any) -> int:
    rows = history_rows(db, args.article)
    if args.json:
        _json(rows)
        return 0
    columns = (
        Column("version"),
        Column("fetched at (UTC)"),
        Column("change", 2),
        Column("words", 3, "right"),
        Column("title"),
    )
    cells = [
        (
            f"{row['version']}{' (current)' if row['current'] else ''}",
            _when(row["fetched_at"]),
            ", ".join(row["kinds"]),
            str(row["word_count"]),
            row["title"],
        )
        for row in rows
    ]
    print_table(f"history of {args.article}", columns, cells)
    return 0


def cmd_show(args: argparse.Namespace, db: Any) -> int:
    version = get_version(db, args.article, args.version)
    if args.json:
        _json(version)
        return 0
    console().print(f"[bold]{escape(version['title'])}[/bold]")
    console().print(
        f"version {version['version']} · fetched {_when(version['fetched_at'])} · {version['url']}",
        markup=False,
    )
    console().print(
        f"authors: {', '.join(version.get('authors') or []) or '-'} · published {version.get('published') or '-'} · modified {version.get('modified') or '-'}",
        markup=False,
    )
    console().print(f"change: {', '.join(version.get('change', {}).get('kinds', []))}\n")
    for paragraph in version["text"].split("\n"):
        console().print(paragraph + "\n", markup=False)
    return 0


def cmd_diff(args: argparse.Namespace, db: Any) -> int:
    old = get_version(db, args.article, args.a)
    new = get_version(db, args.article, args.b)
    title_ops, body_ops = version_diff(old, new)
    if args.json:
        _json(
            {
                "url": args.article,
                "article_id": new["article_id"],
                "from": args.a,
                "to": args.b,
                "title": title_ops,
                "text": body_ops,
            }
        )
        return 0
    console().print(f"[bold]diff of {escape(args.article)}: version {args.a} → {args.b}[/bold]")
    print_diff(title_ops, body_ops)
    return 0


def version_diff(old: Doc, new: Doc) -> tuple[list[Any], list[Any]]:
    """Word-level diffs of the title and of the text (paragraph breaks shown as ¶)."""
    title_ops = word_diff(old["title"], new["title"])
    body_ops = word_diff(old["text"].replace("\n", " ¶ "), new["text"].replace("\n", " ¶ "))
    return title_ops, body_ops


def print_diff(title_ops: list[Any], body_ops: list[Any]) -> None:
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


def _elide(chunk: str, keep: int = 12) -> str:
    words = chunk.split(" ")
    if len(words) <= 2 * keep:
        return chunk
    return " ".join(words[:keep]) + " … " + " ".join(words[-keep:])


COPIES_IN_TABLE = 5  # members listed per story in the table (--json lists --members)


def cmd_stories(args: argparse.Namespace, db: Any) -> int:
    check_site(db, args.site, args.config)
    since = parse_since(args.since, utcnow()) if args.since else None
    rows = story_rows(db, args.site, since, args.limit, args.members)
    if args.json:
        _json(rows)
        return 0
    columns = (
        Column("size", 1, "right"),
        Column("agency", 2),
        Column("title and copies (site: URL)", 1, fold=True),
        Column("originating copy", 3),
        Column("last joined (UTC)", 2),
    )
    cells = []
    for row in rows:
        origin = row.get("origin") or {}
        cells.append(
            (
                str(row["size"]),
                _agency_cell(row),
                _story_cell(row),
                origin.get("site") or "-",
                _when(row.get("last_joined")),
            )
        )
    print_table("stories (biggest, then newest)", columns, cells)
    return 0


def _agency_cell(row: Doc) -> str:
    """The agency, marked when only photo credits named it (weaker evidence)."""
    agency = row.get("agency") or "unknown"
    return f"{agency} (photos)" if row.get("agency_from") == "photo credits" else agency


def _story_cell(row: Doc) -> str:
    lines = [row.get("title") or "-"]
    members = row.get("members") or []
    for member in members[:COPIES_IN_TABLE]:
        lines.append(f"  {member.get('site')}: {member.get('url')}")
    more = row["size"] - min(len(members), COPIES_IN_TABLE)
    if more > 0:
        lines.append(f"  and {more} more (newscrawl stories --json --members N)")
    return "\n".join(lines)


def runs_json(rows: list[Doc]) -> list[Doc]:
    """Run records as `--json` prints them: `run_id` (as `crawl --json`), not `_id`."""
    return [{"run_id": run["_id"], **{k: v for k, v in run.items() if k != "_id"}} for run in rows]


def cmd_runs(args: argparse.Namespace, db: Any) -> int:
    check_site(db, args.site, args.config)
    rows = run_rows(db, args.site, args.limit)
    if args.json:
        _json(runs_json(rows))
        return 0
    columns = (
        Column("run", 1, fold=True),
        Column("site", 4),
        Column("trigger", 6),
        Column("started (UTC)"),
        Column("duration", 5, "right"),
        Column("outcome"),
        *figure_columns(RUNS_COLUMNS),
    )
    cells = []
    for run in rows:
        shown = figures.table_cells(run.get("summary"), run.get("counters"))
        cells.append(
            (
                run["_id"],
                run.get("site", "-"),
                run.get("trigger", "-"),
                _when(run.get("started_at")),
                f"{run.get('duration_s', '-')}s",
                run.get("outcome", "-"),
                *(str(shown[h]) for h in RUNS_COLUMNS),
            )
        )
    print_table("crawl runs (newest first)", columns, cells)
    console().print(legend(RUNS_COLUMNS) + ".")
    return 0


def status_rows(db: Any, config: Any) -> list[Doc]:
    from crawler.store.leases import running_crawls

    schedules = {doc["_id"]: doc for doc in db.schedules.find()}
    leases = running_crawls(db)
    rows = []
    for site in config.sites:
        last = last_run(db, site.name, utcnow())
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
                        "trigger",
                        "started_at",
                        "finished_at",
                        "outcome",
                        "reason",
                        "error",
                        "consecutive_failures",
                        "summary",
                        "extraction",
                        "warnings",
                    )
                }
                | {"run_id": last.get("_id")}
                if last
                else None,
            }
        )
    return rows


def cmd_status(args: argparse.Namespace, db: Any) -> int:
    from crawler.config import load_config

    rows = status_rows(db, load_config(args.config))
    if args.json:
        _json(rows)
        return 0
    columns = (
        Column("site"),
        Column("schedule", 3),
        Column("running", 2),
        Column("next run (UTC)", 2),
        Column("last run (UTC)", 3),
        Column("outcome"),
        Column("failed in a row", 2, "right"),
        *(Column(figures.label(key), 2, "right") for key in STATUS_FIGURES),
    )
    cells = []
    for row in rows:
        last = row["last_run"] or {}
        s = last.get("summary") or {}
        outcome = str(last.get("outcome", "-"))
        if last.get("reason"):
            outcome += f" ({last['reason']})"
        cells.append(
            (
                row["site"],
                row["schedule"],
                "yes" if row["running"] else "no",
                _when(row["next_run_at"]),
                _when(last.get("started_at")),
                outcome,
                str(last.get("consecutive_failures") or 0),
                *(str(s.get(k, "-")) for k in STATUS_FIGURES),
            )
        )
    print_table("sites", columns, cells)
    _print_journal()
    for (
        row
    ) in rows:  # extraction drift (crawler.pipeline.drift): the layout changed, text went missing
        for warning in (row["last_run"] or {}).get("warnings") or []:
            console().print(f"[yellow]warning[/yellow] {row['site']}: extraction drift: {warning}")
    return 0


def _print_journal() -> None:
    """The local journal still to be replayed (crawler.pipeline.journal.backlog), if any."""
    from crawler.pipeline.journal import backlog

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
    status.add_argument(
        "--config", help="config file (default $NEWSCRAWL_CONFIG or config/sites.yaml)"
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=_with_store(cmd_status))

    history = sub.add_parser("history", help="all versions of an article")
    history.add_argument("article", metavar="URL|ID", help=ARTICLE_HELP)
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(func=_with_store(cmd_history))

    show = sub.add_parser("show", help="text and metadata of a version")
    show.add_argument("article", metavar="URL|ID", help=ARTICLE_HELP)
    show.add_argument("--version", type=positive_int, help="version number (default: current)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=_with_store(cmd_show))

    diff = sub.add_parser("diff", help="word-level diff between two versions")
    diff.add_argument("article", metavar="URL|ID", help=ARTICLE_HELP)
    diff.add_argument("a", type=positive_int, help="the older version's number")
    diff.add_argument("b", type=positive_int, help="the newer version's number")
    diff.add_argument("--json", action="store_true", help="print JSON instead of text")
    diff.set_defaults(func=_with_store(cmd_diff))

    stories = sub.add_parser("stories", help="the biggest and newest stories, with their copies")
    add_site(stories, "only stories this site carries")
    stories.add_argument("--since", help=f"only stories joined since: {SINCE_FORMS}")
    stories.add_argument(
        "--limit", type=positive_int, default=20, help="stories listed (default 20)"
    )
    stories.add_argument(
        "--members",
        type=positive_int,
        default=MEMBERS_SHOWN,
        help=f"members listed per story with --json (default {MEMBERS_SHOWN})",
    )
    stories.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stories.set_defaults(func=_with_store(cmd_stories))

    runs = sub.add_parser("runs", help="recent crawl runs with their counters")
    add_site(runs, "only this site's runs")
    runs.add_argument("--limit", type=positive_int, default=20, help="runs listed (default 20)")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    runs.set_defaults(func=_with_store(cmd_runs))
