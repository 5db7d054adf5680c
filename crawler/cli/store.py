"""`newscrawl store`: start the embedded store and keep it open for mongosh, Compass and
the other commands, until Ctrl-C or SIGTERM.

It holds the store as any command does (crawler.store.embedded.SharedStore), for as long
as it runs: commands started meanwhile attach to it, and ending it stops the server
only when no other process (the service, a crawl) still uses it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from crawler import env
from crawler.store.session import UsageError, redact, store_session


def cmd_store(args: argparse.Namespace) -> int:
    if env.get("MONGODB_URI"):
        raise UsageError(
            "MONGODB_URI is set "
            f"({redact(env.get('MONGODB_URI') or '')}): that server is not the embedded store; "
            "unset it to run the embedded one"
        )
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    label = f"newscrawl store (pid {os.getpid()})"
    with store_session(quiet=True, label=label, keep=True) as session:
        print_uri(session.uri)
        while not stop.wait(1.0):
            pass
    print("newscrawl store: ended (the server stops with the last process using it)", flush=True)
    return 0


def print_uri(uri: str) -> None:
    """The URI as mongosh and Compass take it, on stdout (scripts read the first line)."""
    base = uri.rstrip("/")
    print(uri, flush=True)
    database = env.get("NEWSCRAWL_DB") or "news"
    print(f'  mongosh:  npx mongosh "{base}/{database}"', flush=True)
    print(f"  Compass:  {base}/?directConnection=true", flush=True)
    print(
        "Ctrl-C or SIGTERM stops it; a command or the service still using it keeps it running "
        "until the last of them ends.",
        flush=True,
    )
    sys.stdout.flush()


def add_command(sub: Any) -> None:
    store = sub.add_parser(
        "store",
        help="start the embedded store and keep it running (prints its URI for mongosh, Compass)",
    )
    store.set_defaults(func=cmd_store)
