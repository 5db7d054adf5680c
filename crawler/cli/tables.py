"""Tables that stay readable in any terminal, 80 columns included.

rich shrinks every column to fit and, for a cell it cannot wrap, cuts it to an
ellipsis: at 80 columns an eleven-column table became a row of `…`. Here each
column has a priority; columns are dropped from the least important until every
kept column can show its longest word, and the kept ones wrap (a long URL or run id
folds onto the next line) instead of being cut. Hand-written because rich has no
notion of which columns matter: it only squeezes all of them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from crawler import env

PIPED_WIDTH = 140  # output piped without $COLUMNS: wide enough for every column
FOLD_MIN = 30  # a column of long URLs/ids is kept at least this wide (it folds below its length)
CELL_OVERHEAD = 3  # a column's padding and its border


def console() -> Console:
    """The terminal: its own width; `$COLUMNS` when set (also when piped); else 140 piped.
    Made when first printed to, so importing prints and opens nothing."""
    wide = sys.stdout.isatty() or (env.get("COLUMNS") or "").isdigit()
    return Console(width=None if wide else PIPED_WIDTH)


@dataclass(frozen=True)
class Column:
    """`priority` 1 is never dropped; higher numbers go first when the terminal is narrow."""

    header: str
    priority: int = 1
    justify: str = "left"
    fold: bool = False  # long unbreakable values (URLs, ids): fold instead of widening


def fit(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> Table:
    """A table of the columns that fit in `width`, most important kept."""
    kept = list(range(len(columns)))
    while len(kept) > 1 and _needed(columns, rows, kept) > width:
        drop = max(kept, key=lambda i: (columns[i].priority, i))
        if columns[drop].priority <= 1:
            break
        kept.remove(drop)
    table = Table(title=title)
    for i in kept:
        column = columns[i]
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            overflow="fold",
            no_wrap=_single_words(column, rows, i),
        )
    for row in rows:
        # cells are data (titles, URLs, errors), never markup: "[updated]" in a title vanished
        table.add_row(*(Text(row[i]) for i in kept))
    return table


def print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    out = console()
    out.print(fit(title, columns, rows, out.width))


def _needed(columns: Sequence[Column], rows: Sequence[Sequence[str]], kept: list[int]) -> int:
    return 1 + sum(_min_width(columns[i], rows, i) + CELL_OVERHEAD for i in kept)


def _single_words(column: Column, rows: Sequence[Sequence[str]], index: int) -> bool:
    """Short one-word cells (a site name, an outcome, a number) are never broken: rich
    would fold the widest of them before wrapping a title."""
    cells = [str(row[index]) for row in rows]
    cells.append(column.header)
    return not column.fold and all(len(c) <= 20 and " " not in c.strip() for c in cells)


def _min_width(column: Column, rows: Sequence[Sequence[str]], index: int) -> int:
    words = column.header.split() + [w for row in rows for w in str(row[index]).split()]
    longest = max((len(w) for w in words), default=1)
    return min(longest, FOLD_MIN) if column.fold else longest
