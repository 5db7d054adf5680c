"""Where newscrawl keeps its local files, resolved once so every process agrees.

`$NEWSCRAWL_DATA` holds the embedded store (`mongo/`) and, unless
`$NEWSCRAWL_JOURNAL` says otherwise, the journal of pages that could not reach
MongoDB (`journal/`). Its default is the user's data directory as platformdirs
gives it (`~/.local/share/newscrawl` on Linux, `~/Library/Application
Support/newscrawl` on macOS), not the folder a command starts in: a command
run from any folder then finds the store the service uses, instead of making
an empty one of its own (docs/design/embedded-store.md). Relative paths are made
absolute; the processes a command starts (the service's crawls, the demo's rounds) are
given them, absolute, in the environment their parent builds for them
(crawler.store.session.StoreSession.child_env), so they use the same folders.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from crawler import env

APP_NAME = "newscrawl"
LEGACY_DATA_DIR = "data"  # the default before the per-user folder: ./data


def default_data_dir() -> Path:
    """The per-user data folder ($XDG_DATA_HOME/newscrawl on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The data folder, absolute ($NEWSCRAWL_DATA, else the per-user data folder)."""
    return _resolved("NEWSCRAWL_DATA", default_data_dir())


def journal_dir() -> Path:
    """The journal folder, absolute ($NEWSCRAWL_JOURNAL, else <data folder>/journal)."""
    return _resolved("NEWSCRAWL_JOURNAL", data_dir() / "journal")


def embedded_store_dir() -> Path:
    return data_dir() / "mongo"


def legacy_store_here() -> Path | None:
    """A store left in ./data/mongo by an older version, when it is not the one in use:
    commands mention it once, so its data is not taken for lost."""
    legacy = (Path.cwd() / LEGACY_DATA_DIR / "mongo").resolve()
    if (legacy / "db").is_dir() and legacy != embedded_store_dir():
        return legacy
    return None


def _resolved(variable: str, default: Path) -> Path:
    return Path(env.get(variable) or default).expanduser().resolve()
