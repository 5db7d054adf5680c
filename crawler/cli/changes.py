"""`newscrawl changes` and `newscrawl articles`: the archivist's first questions.

"Which articles were edited today, and how?" is a read of `versions` by
`fetched_at` (indexed), newest first, one time window at a time
(`reads.newest_first`): the embedded store sorts in memory, so only the windows a
listing comes from are read. Conditions on fields without an index (site, kind)
are applied here, as `crawler.store.reads` explains.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from typing import Any

from rich.markup import escape
from rich.text import Text

from crawler.cli.inspect import (
    _json,
    _when,
    _with_store,
    console,
)
from crawler.cli.options import SINCE_FORMS, add_site, check_site, parse_since, positive_int
from crawler.cli.tables import Column, print_table
from crawler.clock import utcnow
from crawler.store.reads import newest_first
from crawler.store.session import UsageError
from crawler.types import Doc
from crawler.version.summaries import one_line

KINDS = ("first", "headline", "lede", "body_added", "body_removed", "correction", "body_edited")
EDITS = tuple(k for k in KINDS if k != "first")
VERSION_FIELDS = {"raw": 0, "text": 0}


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """`--kind headline,correction`: the kinds asked for (default: every edit, not `first`)."""
    if not text:
        return EDITS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(
            f"--kind: unknown {', '.join(unknown) or text!r}; kinds: {', '.join(KINDS)}"
        )
    return kinds


def change_rows(
    db: Any,
    since: Any,
    now: Any,
    site: str | None = None,
    kinds: tuple[str, ...] = EDITS,
    limit: int = 50,
    until: Any = None,
) -> list[Doc]:
    """The versions fetched in [since, until) of `kinds` (any of them), newest first."""
    rows = []
    for version in _matching(db, since, now, until, site, set(kinds)):
        change = version.get("change") or {}
        rows.append(
            {
                "article_id": version["article_id"],
                "version": version["version"],
                "site": version.get("site"),
                "url": version.get("url"),
                "title": version.get("title"),
                "fetched_at": version.get("fetched_at"),
                "run_id": version.get("run_id"),
                "kinds": change.get("kinds", []),
                "summary": one_line(change),
                "diff": change.get("diff"),
            }
        )
        if len(rows) >= limit:
            break
    return rows


def _matching(
    db: Any, since: Any, now: Any, until: Any, site: str | None, kinds: set[str]
) -> Iterator[Doc]:
    for version in newest_first(
        db.versions, {}, "fetched_at", now, since, until, projection=VERSION_FIELDS
    ):
        if site and version.get("site") != site:
            continue
        if kinds.intersection((version.get("change") or {}).get("kinds") or ["first"]):
            yield version


def cmd_changes(args: argparse.Namespace, db: Any) -> int:
    check_site(db, args.site, args.config)
    now = utcnow()
    since = parse_since(args.since, now)
    kinds = parse_kinds(args.kind)
    rows = change_rows(db, since, now, args.site, kinds, args.limit)
    if args.json:
        _json([row if args.diff else {k: v for k, v in row.items() if k != "diff"} for row in rows])
        return 0
    if args.diff:
        _print_diffs(rows)
        return 0
    columns = (
        Column("fetched (UTC)", 2),
        Column("site", 3),
        Column("title / URL", 1, fold=True),
        Column("v", 4, "right"),
        Column("change"),
        Column("what changed", 1),
    )
    cells = [
        (
            _when(row["fetched_at"]),
            row["site"] or "-",
            f"{row['title']}\n{row['url']}",
            str(row["version"]),
            ", ".join(row["kinds"]),
            row["summary"],
        )
        for row in rows
    ]
    print_table(f"changes since {_when(since)} UTC (newest first)", columns, cells)
    if not rows:
        console().print("no version matched (--since 7d looks further back)")
    return 0


def _print_diffs(rows: list[Doc]) -> None:
    out = console()
    for row in rows:
        out.print(
            f"[bold]{escape(row['title'])}[/bold]  {row['site']} · version {row['version']} · "
            f"{_when(row['fetched_at'])} · {', '.join(row['kinds'])}"
        )
        out.print(row["url"], soft_wrap=True, markup=False)
        for line in (row.get("diff") or "(first version: nothing to compare)").splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            out.print(Text(line, style=style))
        out.print()


def article_rows(
    db: Any,
    now: Any,
    site: str | None = None,
    since: Any = None,
    words: list[str] | None = None,
    limit: int = 50,
) -> list[Doc]:
    """Stored articles, last changed first; with `words`, those whose title or text holds
    every word (case-insensitive, whole words)."""
    patterns = [re.compile(rf"(?<!\w){re.escape(w)}(?!\w)", re.IGNORECASE) for w in words or []]
    projection = None if patterns else {"text": 0}
    query = {"site": site} if site else {}
    rows = []
    for article in newest_first(db.articles, query, "last_changed", now, since, None, projection):
        haystack = f"{article.get('title', '')}\n{article.get('text', '')}"
        if not all(p.search(haystack) for p in patterns):
            continue
        rows.append(
            {
                "article_id": article["_id"],
                "site": article.get("site"),
                "url": article.get("url"),
                "title": article.get("title"),
                "versions": article.get("version_count"),
                "first_seen": article.get("first_seen"),
                "last_changed": article.get("last_changed"),
                "story_id": article.get("story_id"),
                "status": article.get("status"),
            }
        )
        if len(rows) >= limit:
            break
    return rows


def cmd_articles(args: argparse.Namespace, db: Any) -> int:
    check_site(db, args.site, args.config)
    now = utcnow()
    since = parse_since(args.since, now) if args.since else None
    rows = article_rows(db, now, args.site, since, args.grep, args.limit)
    if args.json:
        _json(rows)
        return 0
    columns = (
        Column("last changed (UTC)", 2),
        Column("site", 3),
        Column("title / URL", 1, fold=True),
        Column("versions", 4, "right"),
        Column("article_id", 5, fold=True),
    )
    cells = [
        (
            _when(row["last_changed"]),
            row["site"] or "-",
            f"{row['title']}\n{row['url']}",
            str(row["versions"]),
            row["article_id"],
        )
        for row in rows
    ]
    print_table("articles (last changed first)", columns, cells)
    if not rows:
        print(f"newscrawl articles: {_no_article_hint(args)}", file=sys.stderr)
    return 0


def _no_article_hint(args: argparse.Namespace) -> str:
    """Why an empty listing is empty and how to widen it (an empty table alone read as
    "the command did nothing"); on stderr, exit 0: finding nothing is no failure."""
    if not (args.grep or args.since or args.site):
        return "no article is stored yet (newscrawl crawl SITE stores some)"
    filters = []
    if args.grep:
        filters.append(f"--grep {' '.join(args.grep)}")
    if args.site:
        filters.append(f"--site {args.site}")
    if args.since:
        filters.append(f"--since {args.since}")
    hint = "no article matched " + " ".join(filters)
    if args.grep:
        hint += " (every word must be in the title or text, as a whole word, any case)"
    return hint


def add_commands(sub: Any) -> None:
    changes = sub.add_parser(
        "changes", help="versions made in a time window, newest first, with what changed"
    )
    add_site(changes, "only this site's articles")
    changes.add_argument(
        "--since", default="1d", help=f"versions fetched since: {SINCE_FORMS} (default 1d)"
    )
    changes.add_argument(
        "--kind",
        help=f"comma-separated change kinds to list (default every edit, not first): {', '.join(KINDS)}",
    )
    changes.add_argument(
        "--limit", type=positive_int, default=50, help="versions listed (default 50)"
    )
    changes.add_argument("--diff", action="store_true", help="print each version's diff")
    changes.add_argument("--json", action="store_true", help="print JSON instead of a table")
    changes.set_defaults(func=_with_store(cmd_changes))

    articles = sub.add_parser("articles", help="find stored articles (last changed first)")
    add_site(articles, "only this site's articles")
    articles.add_argument("--since", help=f"only articles changed since: {SINCE_FORMS}")
    articles.add_argument(
        "--grep", nargs="+", metavar="WORD", help="only articles whose title or text has every word"
    )
    articles.add_argument(
        "--limit", type=positive_int, default=50, help="articles listed (default 50)"
    )
    articles.add_argument("--json", action="store_true", help="print JSON instead of a table")
    articles.set_defaults(func=_with_store(cmd_articles))
