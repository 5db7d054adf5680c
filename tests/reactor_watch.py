"""Run `newscrawl ARGS` and note every MongoDB command sent from Scrapy's event loop.

    python tests/reactor_watch.py OUT.json ARGS...

A pymongo command listener is called on the thread that sends the command. One
sent from the main thread while the Twisted reactor runs there blocked every
fetch of the crawl until MongoDB answered (seconds, in an outage). The
commands so sent are written to OUT.json; the exit status is newscrawl's.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from pymongo import monitoring


class OnTheLoop(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        reactor: Any = sys.modules.get("twisted.internet.reactor")  # never installs one
        running = reactor is not None and getattr(reactor, "running", False)
        if running and threading.current_thread() is threading.main_thread():
            self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def main() -> int:
    out, args = sys.argv[1], sys.argv[2:]
    listener = OnTheLoop()
    monitoring.register(listener)
    from crawler.cli.main import main as newscrawl

    try:
        return newscrawl(args)
    finally:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(listener.commands, handle)


if __name__ == "__main__":
    sys.exit(main())
