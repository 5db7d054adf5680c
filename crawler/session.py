"""Where a command's data lives for the length of one command: the store session.

Shared by the command line, its inspection commands and the service (which
import this, never each other): MONGODB_URI when it is set, otherwise the
embedded server under $CRAWLER_DATA.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


class UsageError(Exception):
    """A command used wrongly (exit status 2)."""


@contextlib.contextmanager
def store_session(quiet: bool = False) -> Iterator[str]:
    """MONGODB_URI if set; otherwise the embedded server under $CRAWLER_DATA (default ./data)."""
    from crawler.paths import journal_dir

    journal_dir()  # resolved now, so child processes started from here use the same folder
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    from crawler.embedded import EmbeddedServer
    from crawler.paths import embedded_store_dir

    data_dir = embedded_store_dir()
    server = EmbeddedServer(data_dir)
    uri = server.start()
    os.environ["MONGODB_URI"] = uri
    if not quiet:
        how = "started" if server.owned else "joined running"
        print(
            f'embedded MongoDB {how} at {uri} (data in {data_dir}); open it with: mongosh "{uri}"',
            file=sys.stderr,
        )
    try:
        yield uri
    finally:
        os.environ.pop("MONGODB_URI", None)
        server.stop()
