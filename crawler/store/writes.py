"""Writes that a retry or a race cannot double: inserts refused by a unique index are
"someone else did it", never an error."""

from __future__ import annotations

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from crawler.types import Doc

DUPLICATE_KEY = 11000


def insert_new(collection: Collection[Doc], docs: list[Doc]) -> list[int]:
    """Insert what is new; the positions a unique index refused (already there, or a race lost).

    Any other write error is raised: only a duplicate key means "someone else did it".
    """
    if not docs:
        return []
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        return duplicate_key_positions(exc)
    return []


def duplicate_key_positions(exc: BulkWriteError) -> list[int]:
    """The positions a unique index refused; re-raised when anything else went wrong."""
    errors = exc.details.get("writeErrors", [])
    if any(error.get("code") != DUPLICATE_KEY for error in errors):
        raise exc
    return [error["index"] for error in errors]


def bulk_ignoring_races(collection: Collection[Doc], updates: list[UpdateOne]) -> None:
    """Apply guarded article updates; a duplicate-key refusal means a newer version won the race.

    The guard ({version_count < n}) does not match an article already moved on,
    so the upsert tries to insert its _id again and the unique _id says no: our
    version stays in history, the article keeps the newer one.
    """
    if not updates:
        return
    try:
        collection.bulk_write(updates, ordered=False)
    except BulkWriteError as exc:
        duplicate_key_positions(exc)
