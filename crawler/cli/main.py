"""The `newscrawl` command (also `python -m crawler`).

Exit status: 0 success, 2 usage or config error, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from crawler.config import ConfigError, config_path, load_config
from crawler.store.embedded import NoStore
from crawler.store.session import UsageError, store_session

log = logging.getLogger("newscrawl")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
NO_STORE_HINT = (
    "crawl first, start one with `newscrawl store`, or point NEWSCRAWL_DATA or MONGODB_URI "
    "at the store (docs/design/embedded-store.md)"
)


def _print_progress(site: str, summary: dict[str, int]) -> None:
    parts = " ".join(f"{k}={v}" for k, v in summary.items() if v)
    print(f"[{site}] {parts or 'starting'}", file=sys.stderr, flush=True)


def cmd_crawl(args: argparse.Namespace) -> int:
    from crawler.clock import utcnow
    from crawler.run.runner import crawl_sites

    path = config_path(args.config)
    config = load_config(path)
    sites = config.names if args.all else args.sites
    if not sites:
        raise UsageError("name one or more sites, or --all")
    for name in sites:
        config.site(name)
    with store_session():
        results = crawl_sites(
            config,
            str(path),
            sites,
            trigger=args.trigger,
            recheck=args.recheck,
            progress=_print_progress,
            log_level=args.log_level,
            clock=utcnow,  # the command line: the one place a crawl reads the wall clock
        )
        counters = _run_counters([r.run_id for r in results]) if not args.json else {}
        _send_alerts(config)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], default=str, indent=2))
    else:
        from crawler.cli.inspect import print_crawl_summary

        print_crawl_summary(results, counters)
    missing = sorted(set(sites) - {r.site for r in results})
    for name in missing:  # a crawl that ended without a result is not a success
        print(f"{name}: the crawl ended without recording a result (see the log)", file=sys.stderr)
    ok = not missing and all(r.outcome.startswith("ok") for r in results)
    return EXIT_OK if ok else EXIT_FAILURE


ALERTS_WITHIN_S = 10.0  # what `newscrawl crawl` spends on alerts once its crawls are over


def _send_alerts(config: Any) -> None:
    """Record and send the change alerts of what was just stored, and the ones still pending
    (crawler.service.notify): after the crawls, for a few seconds at most; what is not sent
    waits in `notifications` for the next crawl or the service."""
    if not config.notify.targets:
        return
    from crawler.clock import utcnow
    from crawler.service.notify import run_once
    from crawler.store import open_database

    try:
        done = run_once(open_database(), config.notify, utcnow(), within_s=ALERTS_WITHIN_S)
    except Exception:  # the crawls are stored: an alert's trouble must not fail the command
        log.warning(
            "change alerts: not sent now; the next crawl or the service tries again", exc_info=True
        )
        return
    if done.get("pending") or done.get("failed"):
        print(
            f"change alerts: {done.get('sent', 0)} sent, {done['pending']} to retry, "
            f"{done['failed']} failed (see the notifications collection)",
            file=sys.stderr,
        )


def _run_counters(run_ids: list[str]) -> dict[str, dict[str, int]]:
    """The counters of the runs just made (the summary table splits their skips); none when
    the store cannot be read now (the table then shows the skips undivided)."""
    from pymongo.errors import PyMongoError

    from crawler.store import open_database

    try:
        runs = open_database().crawl_runs.find({"_id": {"$in": run_ids}}, {"counters": 1})
        return {run["_id"]: run.get("counters") or {} for run in runs}
    except PyMongoError:
        return {}


def cmd_extract(args: argparse.Namespace) -> int:
    from crawler.text.extract import ExtractionError, extract

    source = args.source
    if source.startswith(("http://", "https://")):
        import urllib.request

        request = urllib.request.Request(source, headers={"User-Agent": "newscrawl/0.1 (extract)"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the user's URL
            body = response.read(10 * 1024 * 1024)
        url = args.url or source
    else:
        try:
            body = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"{source}: {exc.strerror}") from exc
        url = args.url or Path(source).resolve().as_uri()
    try:
        result = extract(body, url)
    except ExtractionError as exc:
        print(f"{source}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        from crawler.cli.inspect import print_extracted

        print_extracted(result)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Crawl the local news network, let an hour pass on its clock, crawl again.

    Each round is a child `newscrawl crawl --all`, as the service runs them (a Twisted
    reactor cannot be restarted within one process).
    """
    import subprocess

    if args.serve:
        from crawler.cli.tour import serve

        return serve(args)
    from crawler.cli.inspect import print_demo_tour
    from crawler.localnet import LocalNetwork

    started = time.monotonic()
    with LocalNetwork(seed=args.seed) as net, tempfile.TemporaryDirectory() as tmp:
        path = net.write_config(Path(tmp) / "sites.yaml")
        names = load_config(path).names
        print(
            f"local news network: {len(names)} sites on 127.0.0.1 ({', '.join(names)})", flush=True
        )
        with store_session() as session:
            crawl = [sys.executable, "-m", "crawler", "crawl", "--all", "--config", str(path)]
            rounds = session.child_env()  # each round uses this command's store and folders
            print("\n== first crawl ==", flush=True)
            subprocess.run(crawl, check=False, env=rounds)
            net.clock.advance(hours=1, minutes=5)
            edited = [
                net.base(p.site) + p.path
                for s in net.world.sites.values()
                for p in s.posts
                if p.edits
            ]
            print(
                "\n== an hour later on the network's clock: edited articles, crawled again ==",
                flush=True,
            )
            subprocess.run(crawl, check=False, env=rounds)
            print_demo_tour(time.monotonic() - started, edited[:1])
    return EXIT_OK


def cmd_cluster(args: argparse.Namespace) -> int:
    from crawler.cli.cluster import InputError, run

    with store_session(quiet=True) as session:
        try:
            return run(args.file, session.uri)
        except InputError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"{args.file}: {exc.strerror}") from None


def cmd_verify(args: argparse.Namespace) -> int:
    """Check the store's invariants (crawler.maintenance.verify); exit 1 with the list when one is broken."""
    from crawler.clock import utcnow
    from crawler.maintenance.verify import verify
    from crawler.store import ensure_indexes, open_database

    with store_session(quiet=args.json, create=False):
        db = open_database()
        ensure_indexes(db)
        violations = verify(db, utcnow())
        counts = {
            name: db[name].estimated_document_count()
            for name in ("articles", "versions", "stories", "crawl_runs")
        }
    if args.json:
        print(json.dumps({"checked": counts, "violations": [v.__dict__ for v in violations]}))
    elif violations:
        print(f"{len(violations)} invariant violations:")
        for violation in violations:
            print(f"  {violation}")
    else:
        checked = ", ".join(f"{n} {name}" for name, n in counts.items())
        print(f"store is consistent ({checked})")
    return EXIT_FAILURE if violations else EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring an existing database to the current schema (crawler.maintenance.migrate); idempotent."""
    from crawler.clock import utcnow
    from crawler.maintenance.migrate import SCHEMA_VERSION, migrate
    from crawler.store import ensure_indexes, open_database

    with store_session(quiet=args.json, create=False):
        db = open_database()
        ensure_indexes(db)
        done = migrate(db, utcnow())
    if args.json:
        print(json.dumps({"schema": SCHEMA_VERSION, **done.__dict__}))
    elif done.stories:
        print(
            f"migrated {done.stories} stories ({done.members} members moved to story_members); "
            f"schema {SCHEMA_VERSION}"
        )
    else:
        print(f"nothing to migrate; schema {SCHEMA_VERSION}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscrawl", description="Regional news crawler with versioned snapshots in MongoDB."
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="Scrapy/pipeline log level (default WARNING)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    crawl = sub.add_parser("crawl", help="one-off crawl of sites from the config")
    crawl.add_argument("sites", nargs="*", help="site names of the config")
    crawl.add_argument("--all", action="store_true", help="every site in the config")
    crawl.add_argument(
        "--config", help="config file (default $NEWSCRAWL_CONFIG or config/sites.yaml)"
    )
    crawl.add_argument("--recheck", action="store_true", help="re-fetch every known article now")
    crawl.add_argument(
        "--trigger", default="manual", choices=["manual", "schedule"], help=argparse.SUPPRESS
    )
    crawl.add_argument("--json", action="store_true", help="print the results as JSON")
    crawl.set_defaults(func=cmd_crawl)

    extract = sub.add_parser("extract", help="show the extraction of one page (file or URL)")
    extract.add_argument("source", help="a saved HTML file, or an http(s) URL to fetch")
    extract.add_argument("--url", help="the page's URL, for a saved file")
    extract.add_argument("--json", action="store_true", help="print JSON instead of text")
    extract.set_defaults(func=cmd_extract)

    cluster = sub.add_parser("cluster", help='group {"id","text"} JSON lines into stories')
    cluster.add_argument("file", help="JSON lines file, or - for standard input")
    cluster.set_defaults(func=cmd_cluster)

    demo = sub.add_parser(
        "demo", help="crawl a local news network into the embedded store (offline)"
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="the local network's articles (default 7)"
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep the network and the service running, editing articles as time passes "
        "(Ctrl-C stops)",
    )
    demo.add_argument(
        "--every", default="20s", help="with --serve: how often each site is crawled (default 20s)"
    )
    demo.add_argument(
        "--edit-every",
        default="10s",
        help="with --serve: how often an article is edited (default 10s; 20 minutes pass on "
        "the network's clock)",
    )
    demo.set_defaults(func=cmd_demo)

    verify = sub.add_parser("verify", help="check the store's invariants; exit 1 if one is broken")
    verify.add_argument("--json", action="store_true", help="print JSON instead of text")
    verify.set_defaults(func=cmd_verify)

    migrate = sub.add_parser("migrate", help="bring an existing database to the current schema")
    migrate.add_argument("--json", action="store_true", help="print JSON instead of text")
    migrate.set_defaults(func=cmd_migrate)

    from crawler.cli import inspect as inspect_commands

    inspect_commands.add_commands(sub)
    from crawler.cli import store as store_command

    store_command.add_command(sub)
    from crawler.cli import changes as change_commands

    change_commands.add_commands(sub)
    from crawler.cli import export as export_commands

    export_commands.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    level = getattr(logging, str(args.log_level).upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # Scrapy lowers the root logger's level; the handler keeps ours
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NoStore as exc:
        print(f"newscrawl: {exc}; {NO_STORE_HINT}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as exc:
        log.debug("failure", exc_info=True)
        print(f"newscrawl: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
