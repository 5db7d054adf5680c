"""Where newscrawl keeps its local files, resolved once so every process agrees.

`$CRAWLER_DATA` (default `data/` in the directory the command was started
from) holds the embedded store (`mongo/`) and, unless `$CRAWLER_JOURNAL` says
otherwise, the journal of pages that could not reach MongoDB (`journal/`).
Relative paths are made absolute and exported to the environment the first
time they are asked for, so the service's child crawls, the demo's rounds and
a replay started later from elsewhere in the same shell all use the same
folders, not one per working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "data"


def data_dir() -> Path:
    """The data folder, absolute ($CRAWLER_DATA, else ./data)."""
    return _resolved("CRAWLER_DATA", Path(DEFAULT_DATA_DIR))


def journal_dir() -> Path:
    """The journal folder, absolute ($CRAWLER_JOURNAL, else <data folder>/journal)."""
    return _resolved("CRAWLER_JOURNAL", data_dir() / "journal")


def embedded_store_dir() -> Path:
    return data_dir() / "mongo"


def _resolved(variable: str, default: Path) -> Path:
    path = Path(os.environ.get(variable) or default).expanduser().resolve()
    os.environ[variable] = str(path)
    return path
