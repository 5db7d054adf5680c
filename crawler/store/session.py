"""Where a command's data lives for the length of one command: the store session.

Shared by the command line, its inspection commands and the service (which
import this, never each other): MONGODB_URI when it is set, otherwise the
embedded server under $NEWSCRAWL_DATA, held for as long as the command runs and
shared with every other command and the service (crawler.store.embedded.SharedStore).
Every session says on stderr, in one line, which store it uses.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from crawler import env

# Set for the processes a session starts (the service's crawls, the demo's rounds): they
# use the parent's store through MONGODB_URI, and say so.
EMBEDDED_VARIABLE = "NEWSCRAWL_EMBEDDED_STORE"


@dataclass(frozen=True)
class StoreSession:
    """The store a command uses, and what the processes it starts need to use it too."""

    uri: str
    embedded: Path | None = None  # the embedded store's data folder, when it is one

    def child_values(self) -> dict[str, str | None]:
        """The variables a child of this command is given (crawler.env.child_environment):
        this store, its database, and the data and journal folders, absolute."""
        from crawler.paths import data_dir, journal_dir
        from crawler.store.connection import database_name

        return {
            "MONGODB_URI": self.uri,
            "NEWSCRAWL_DB": database_name(),
            EMBEDDED_VARIABLE: str(self.embedded) if self.embedded else env.get(EMBEDDED_VARIABLE),
            "NEWSCRAWL_DATA": str(data_dir()),
            "NEWSCRAWL_JOURNAL": str(journal_dir()),
        }

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment of a child of this command."""
        return env.child_environment(self.child_values(), base)


class UsageError(Exception):
    """A command used wrongly (exit status 2)."""


def redact(uri: str) -> str:
    """The URI without its password, for messages."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", uri)


@contextlib.contextmanager
def store_session(
    quiet: bool = False, create: bool = True, label: str = "", keep: bool = False
) -> Iterator[StoreSession]:
    """MONGODB_URI if set; otherwise the embedded store under $NEWSCRAWL_DATA.

    An embedded store's address is set as MONGODB_URI for this process's own clients while
    the session lasts (crawler.store.connection.open_database); the processes the command
    starts are given it, with the folders, by `StoreSession.child_env`.

    `create` False (commands that only read) raises crawler.store.embedded.NoStore when the
    data folder holds no store and none is running, instead of making an empty one.
    `label` names the command in server.json, for the others' messages. `keep` (the
    service, `newscrawl store`: the store's owners) starts the server again if it dies
    while the session lasts. `quiet` leaves the mongosh hint out of the line on stderr.
    """
    uri = env.get("MONGODB_URI")
    if uri:
        _say(_external_line(uri))
        yield StoreSession(uri)
        return
    from crawler.paths import embedded_store_dir, legacy_store_here
    from crawler.store.embedded import SharedStore

    data_dir = embedded_store_dir()
    legacy = legacy_store_here()
    if legacy is not None:
        _say(legacy_store_advice(legacy, data_dir))
    store = SharedStore(data_dir, label=label or _command_label())
    uri = store.attach(create=create)
    if keep:
        store.keep()
    _say(_embedded_line(store, quiet))
    env.export("MONGODB_URI", uri)
    try:
        yield StoreSession(uri, data_dir)
    finally:
        env.export("MONGODB_URI", None)
        store.detach()


def legacy_store_advice(legacy: Path, current: Path) -> str:
    """What to do with a store an older version made in ./data/mongo.

    It is not moved for the user: its server may still be running (an older service),
    a move across file systems is a copy that a full disk can stop half-way, and the
    user may keep it there on purpose. When this version's folder has no store yet, the
    command that moves it (the WiredTiger files, and the journal's unreplayed pages,
    which would otherwise never be stored) is printed, ready to paste; with a store in
    both, only where the old one is."""
    from crawler.paths import journal_dir
    from crawler.store.embedded import pid_alive, read_state, store_exists

    keep = f"NEWSCRAWL_DATA={shlex.quote(str(legacy.parent))} uses it"
    if store_exists(current):
        return (
            f"note: {legacy} holds a store from an older version (the default was ./data); {keep}"
        )
    pid = read_state(legacy).get("pid")
    if pid_alive(pid):
        return (
            f"warning: {legacy} holds the store of an older version, and its server (pid {pid}) "
            f"is running; this version's store is {current}, which is still empty. Stop that "
            f"server, then run this command again for how to move the store; or {keep}"
        )
    steps = [f"mkdir -p {shlex.quote(str(current))}"]
    if (current / "db").exists():  # an empty one, made by a command meanwhile
        steps.append(f"rmdir {shlex.quote(str(current / 'db'))}")
    steps.append(f"mv {shlex.quote(str(legacy / 'db'))} {shlex.quote(str(current / 'db'))}")
    old_journal = legacy.parent / "journal"
    if old_journal.is_dir() and any(old_journal.glob("journal-*")):
        target = shlex.quote(str(journal_dir()))
        steps.append(f"mkdir -p {target}")
        steps.append(f"mv {shlex.quote(str(old_journal))}/journal-* {target}/")
    return (
        f"warning: {legacy} holds the store of an older version (its default was ./data); "
        f"this version's store is {current}, which is still empty. Move the old one there "
        f"(nothing may run on it meanwhile):\n  {' && '.join(steps)}\nor keep using it: {keep}"
    )


def _external_line(uri: str) -> str:
    embedded = env.get(EMBEDDED_VARIABLE)
    if embedded:
        return f"store: embedded MongoDB at {uri} (data in {embedded}), held by the parent process"
    return f"store: {redact(uri)} (from MONGODB_URI)"


def _embedded_line(store: object, quiet: bool) -> str:
    from crawler.store.embedded import SharedStore

    assert isinstance(store, SharedStore)
    where = f"{store.uri} (data in {store.data_dir})"
    if store.started:
        line = f"store: embedded MongoDB started at {where}"
    else:
        by = store.state.get("started_by") or "another process"
        line = f"store: embedded MongoDB at {where}, attached (started by {by})"
    return line if quiet else f'{line}; open it with: mongosh "{store.uri}"'


def _command_label() -> str:
    argv = sys.argv or ["newscrawl"]
    name = os.path.basename(argv[0])
    if name in ("__main__.py", "-m", "-c") or name.startswith("python"):
        name = "newscrawl"
    words, skip = [], False
    for arg in argv[1:]:  # the subcommand: the first word that is no option or its value
        if skip or arg.startswith("-"):
            skip = arg == "--log-level"
            continue
        words.append(arg)
        break
    return " ".join([name, *words]) + f" (pid {os.getpid()})"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
