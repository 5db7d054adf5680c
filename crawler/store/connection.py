"""Where the store is: the server named by MONGODB_URI, the database named by NEWSCRAWL_DB."""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from crawler import env
from crawler.types import Doc


def connect(uri: str, db_name: str, timeout_ms: int = 5000) -> Database[Doc]:
    """A database handle with short timeouts, so an outage is noticed and retried, not hung on.

    MONGODB_USERNAME and MONGODB_PASSWORD, when set, are the credentials (pymongo takes
    them beside the URI, so they need no escaping: a password such as `a/b+c=` from
    `openssl rand -base64` breaks a URI it is pasted into)."""
    credentials: dict[str, Any] = {
        key: value
        for key, value in (
            ("username", env.get("MONGODB_USERNAME")),
            ("password", env.get("MONGODB_PASSWORD")),
        )
        if value
    }
    client: MongoClient[Doc] = MongoClient(
        uri,
        **credentials,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 6, 30000),
        tz_aware=True,
        appname="newscrawl",
    )
    return client[db_name]


def database_name() -> str:
    return env.get("NEWSCRAWL_DB") or "news"


def open_database(uri: str | None = None) -> Database[Doc]:
    """The database named by NEWSCRAWL_DB on the server named by MONGODB_URI."""
    target = uri or env.get("MONGODB_URI")
    if not target:
        raise RuntimeError(
            "MONGODB_URI is not set (the newscrawl command starts an embedded server for you)"
        )
    timeout_ms = int(env.get("NEWSCRAWL_MONGO_TIMEOUT_MS") or "5000")
    return connect(target, database_name(), timeout_ms=timeout_ms)
