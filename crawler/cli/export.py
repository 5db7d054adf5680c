"""`newscrawl export`: the archive as WARC 1.1 or JSON lines (crawler.store.export)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler.cli.inspect import _when, _with_store
from crawler.cli.options import SINCE_FORMS, add_site, check_site, parse_since
from crawler.clock import utcnow
from crawler.store.session import UsageError


def cmd_export(args: argparse.Namespace, db: Any) -> int:
    from crawler.store import export

    check_site(db, args.site, args.config)
    now = utcnow()
    window = export.Window(
        since=parse_since(args.since, now) if args.since else None,
        until=parse_since(args.until, now, "--until") if args.until else None,
        site=args.site,
    )
    if window.since and window.until and window.until <= window.since:
        raise UsageError("--until must be later than --since")
    if args.output == "-":  # a pipe (`| jq`): the file's lines alone on stdout
        return _export_to_stdout(args, db, window, now)
    path = Path(args.output)
    if path.exists() and not args.force:
        raise UsageError(
            f"{path} exists (--force to overwrite; resume into a new file with --since)"
        )
    done = export.Exported()

    def note(progress: export.Exported) -> None:
        done.versions, done.last_fetched_at = progress.versions, progress.last_fetched_at

    try:
        if args.format == "warc":
            with path.open("wb") as binary:
                done = export.write_warc(db, binary, window, now, note)
        else:
            with path.open("w", encoding="utf-8") as text:
                done = export.write_jsonl(db, text, window, now, args.raw, note)
    except KeyboardInterrupt:
        _resume_hint(done, "interrupted")
        raise
    print(
        f"{path}: {done.versions} versions"
        + (f", {done.articles} articles, {done.stories} stories" if args.format == "jsonl" else "")
    )
    _resume_hint(done, "done")
    return 0


def _export_to_stdout(args: argparse.Namespace, db: Any, window: Any, now: Any) -> int:
    """`-o -` wrote a file named '-' in the working folder; it means stdout, as for most
    tools. The counts then go to stderr, so the piped stream is the export alone."""
    from crawler.store import export

    if args.format == "warc":
        done = export.write_warc(db, sys.stdout.buffer, window, now)
    else:
        done = export.write_jsonl(db, sys.stdout, window, now, args.raw)
    sys.stdout.flush()
    print(f"stdout: {done.versions} versions", file=sys.stderr)
    _resume_hint(done, "done")
    return 0


def _resume_hint(done: Any, how: str) -> None:
    if done.last_fetched_at is None:
        return
    last = done.last_fetched_at.isoformat().replace("+00:00", "Z")
    print(
        f"{how}: last version fetched at {_when(done.last_fetched_at)} UTC; "
        f"continue into a new file with --since {last} (versions of that instant come again)",
        file=sys.stderr,
    )


def add_commands(sub: Any) -> None:
    export = sub.add_parser(
        "export", help="write the archive as WARC 1.1 (raw pages) or JSON lines (for analysis)"
    )
    export.add_argument(
        "--format",
        choices=["warc", "jsonl"],
        required=True,
        help="warc: a response and a metadata record per version, gzip per record; "
        "jsonl: versions, articles and stories, one JSON object a line with its type",
    )
    export.add_argument(
        "-o", "--output", required=True, help="the file to write ('-': standard output)"
    )
    add_site(export, "only this site's versions")
    export.add_argument("--since", help=f"versions fetched since: {SINCE_FORMS}")
    export.add_argument("--until", help=f"versions fetched before: {SINCE_FORMS}")
    export.add_argument(
        "--raw", action="store_true", help="jsonl: include each version's raw page (base64)"
    )
    export.add_argument("--force", action="store_true", help="overwrite the output file")
    export.set_defaults(func=_with_store(cmd_export))
