"""`newscrawl demo --serve`: the live tour.

The local news network (crawler.localnet) keeps running, and the service crawls it
on a fast schedule while its articles are edited as time passes on the network's
clock: every few seconds the clock moves on twenty minutes and one site's newest
article gets a sentence more. Versions, changes and alerts appear as they would
over a day; the store stays open for mongosh and for the inspection commands in
another terminal. Ctrl-C stops the service (running crawls finish or stop as
`shutdown`), the network and the store.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from rich.markup import escape

from crawler.cli.inspect import console, newscrawl_command
from crawler.config import parse_duration

UPDATES = (
    "Officials later revised the figure in a statement to the council.",
    "A spokesperson said further details would follow on Monday.",
    "Correction: an earlier version of this article misstated the date of the meeting.",
    "Residents are invited to a public briefing at the community hall.",
)


def serve(args: argparse.Namespace) -> int:
    from crawler.clock import utcnow
    from crawler.localnet import LocalNetwork
    from crawler.service.app import Service
    from crawler.store.session import UsageError, store_session

    try:  # usage errors before anything starts
        parse_duration(args.every)
        edit_every = parse_duration(args.edit_every)
    except ValueError as exc:
        raise UsageError(f"demo --serve: {exc}") from None
    with LocalNetwork(seed=args.seed) as net, tempfile.TemporaryDirectory() as tmp:
        receiver = AlertPrinter()
        path = _config(net, Path(tmp) / "sites.yaml", args.every, receiver.url)
        with store_session() as session:
            uri = session.uri
            service = Service(str(path), utcnow, session.child_env())
            service.alerts_every_s = min(service.alerts_every_s, edit_every.total_seconds())
            _introduce(net, uri, args.every, service.config.names)
            editor = Editor(net, edit_every.total_seconds(), service.stopping)
            editor.start()
            try:
                code = service.run_forever()  # until Ctrl-C / SIGTERM
            finally:
                service.stopping.set()
                receiver.stop()
    console().print("[bold]tour stopped[/bold]: the network, the service and the store are down.")
    return code


def _config(net: Any, path: Path, every: str, alerts: str) -> Path:
    data = net.config()
    for site in data["sites"]:
        site["schedule"] = {"every": every, "jitter": "0s"}
    data["notify"] = {"targets": [alerts], "story_sites": 3, "backoff": "5s"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _introduce(net: Any, uri: str, every: str, names: list[str]) -> None:
    run = newscrawl_command()
    out = console()
    out.print(f"[bold]live tour[/bold]: {len(names)} sites on 127.0.0.1, crawled every {every}:")
    for name in names:
        out.print(f"  {name}  {net.base(name)}/", soft_wrap=True, highlight=False)
    out.print("Articles are edited as the network's clock runs; alerts are printed as they come.")
    out.print("Meanwhile, in another terminal (from this folder):")
    for command in ("changes --since 10m", "changes --since 10m --diff", "stories", "runs"):
        out.print(f"  {run} {command}", soft_wrap=True, highlight=False)
    out.print(f"  npx mongosh {shlex.quote(uri + 'news')}", soft_wrap=True, highlight=False)
    out.print("Ctrl-C stops the tour.\n")


class Editor(threading.Thread):
    """Moves the network's clock on and edits one site's newest article, every `seconds`."""

    def __init__(self, net: Any, seconds: float, stopping: threading.Event):
        super().__init__(name="newscrawl-tour-editor", daemon=True)
        self.net, self.seconds, self.stopping = net, seconds, stopping
        self.rng = random.Random(net.world.seed)

    def run(self) -> None:
        names = list(self.net.world.sites)
        turn = 0
        while not self.stopping.wait(self.seconds):
            self.net.clock.advance(minutes=20)
            site = names[turn % len(names)]
            turn += 1
            post = self.net.world.edit_sentence(site, 0, self.rng.choice(UPDATES))
            console().print(
                f"[dim]{self.net.clock.now():%H:%M} on the network: {site} edited "
                f"{self.net.base(site)}{post.path}[/dim]",
                soft_wrap=True,
                highlight=False,
            )


class AlertPrinter:
    """A webhook on 127.0.0.1 that prints each change alert it receives (Apprise json://)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                try:
                    alert = json.loads(self.rfile.read(length))
                    console().print(
                        # escaped: the title starts with "[site]", which rich took for markup
                        f"[bold yellow]alert[/bold yellow] {escape(str(alert.get('title')))}",
                        soft_wrap=True,
                        highlight=False,
                    )
                finally:
                    self.send_response(200)
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.url = f"json://127.0.0.1:{port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
