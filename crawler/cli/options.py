"""Options shared by the inspection commands: one reading of `--since`, `--limit`, `--site`.

Every command takes the same forms, so a user who learned one knows them all:
`--since` is a duration back from now (`90m`, `1h`, `2d`, as the config's
schedules) or a date or time (`2026-11-25`, `2026-11-25T08:00Z`, RFC 822);
`--limit` is a positive number; `--site` is a site of the config (or one the
store has runs of), and a misspelt name is an error listing the known ones,
as `newscrawl crawl` does, instead of an empty table.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from crawler.store.session import UsageError

SINCE_FORMS = "a duration back from now (1h, 2d) or a date/time (2026-11-25)"


def parse_since(text: str, now: datetime, option: str = "--since") -> datetime:
    """A duration back from `now` or an absolute date/time (UTC when no zone is given)."""
    from crawler.config import parse_duration
    from crawler.text.dates import parse_date

    value = text.strip()
    if value and value[0].isdigit() and value[-1] in "smhd" and "-" not in value:
        try:
            return now - parse_duration(value)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    parsed = parse_date(value)
    if parsed is None:
        raise UsageError(
            f"{option}: not a duration or a date: {text!r} (use e.g. 1h, 2d or 2026-11-25)"
        )
    return parsed


def positive_int(text: str) -> int:
    """argparse type of `--limit`: 0 or less would print an empty table and exit 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def add_site(parser: argparse.ArgumentParser, what: str = "only this site") -> None:
    parser.add_argument("--site", help=f"{what} (a site name of the config)")
    parser.add_argument(
        "--config",
        help="config file naming the sites (default $NEWSCRAWL_CONFIG or config/sites.yaml)",
    )


def check_site(db: Any, name: str | None, config_file: str | None = None) -> None:
    """A site the config names, or one the store has crawl runs of; otherwise a usage error
    listing the known sites (a typo must not print an empty table with exit status 0)."""
    if not name:
        return
    known = known_sites(config_file)
    if name in known or db.crawl_runs.find_one({"site": name}, {"_id": 1}) is not None:
        return
    # the store's sites too: from a folder without the config (after the demo, say) the
    # config knows none, and "none" read as if the store were empty
    stored = [str(site) for site in db.crawl_runs.distinct("site")]
    listed = ", ".join(sorted({*known, *stored})) or "none in the config or the store"
    raise UsageError(f"unknown site {name!r}; known sites: {listed}")


def known_sites(config_file: str | None = None) -> list[str]:
    """The config's site names; none when there is no readable config (the store may still
    know the site)."""
    from crawler.config import ConfigError, config_path, load_config

    try:
        return load_config(config_path(config_file)).names
    except (ConfigError, OSError):
        return []
