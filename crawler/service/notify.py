"""Change alerts: a new version (or a story reaching N sites) told to Apprise targets.

Two steps, both outside any crawl's event loop, and neither can fail a crawl:

1. `Notifier.scan(now)` reads the versions stored since its last scan (the
   `fetched_at` index; the cursor is `meta: {_id: "notify"}`, read back a quarter of
   an hour for versions written a little after they were fetched) and records one
   `notifications` document per matching version and target, status `pending`. The
   document's `_id` is fixed by what it is about (`<article_id>:<version>@<target>`),
   so a scan repeated, or run by two processes, records it once.
2. `Notifier.deliver(now)` sends the pending ones that are due through Apprise. A
   delivery is claimed first (one process sends it), then marked `sent`, or `pending`
   again with its next try after the back-off (`backoff`, doubling), or `failed` after
   `attempts` tries. A receiver that is down loses nothing: the alert waits in the
   collection for the next `newscrawl crawl` or the service's next pass.

`newscrawl crawl` runs both once its crawls are over, for a few seconds at most; the
service every 30 seconds in a thread of its own (crawler.service.app).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from crawler.config import NotifySettings
from crawler.store.reads import in_batches
from crawler.store.writes import insert_new
from crawler.types import Doc
from crawler.version.summaries import one_line

log = logging.getLogger(__name__)


CURSOR = "notify"  # meta document: the fetched_at the last scan read up to
LOOK_BACK = timedelta(minutes=15)  # versions written a little after they were fetched
FIRST_SCAN = timedelta(hours=1)  # a store's first scan alerts on the last hour only
CLAIM = timedelta(minutes=2)  # a claimed delivery whose sender died is due again after this
BODY_CHARS = 3000
EDITS = ("headline", "lede", "body_added", "body_removed", "correction", "body_edited")


def target_key(url: str) -> str:
    """A target's short id: the URL itself may hold a token or password, so the
    collection stores this and the Apprise URL with its secrets masked."""
    return hashlib.sha1(url.encode()).hexdigest()[:12]


class Notifier:
    def __init__(self, db: Any, settings: NotifySettings):
        self.db = db
        self.settings = settings
        self.targets = {target_key(url): url for url in settings.targets}

    @property
    def enabled(self) -> bool:
        return bool(self.targets)

    # -- recording ------------------------------------------------------------------

    def scan(self, now: datetime) -> int:
        """Record a pending alert for every version stored since the last scan that matches
        the filters; returns how many were new."""
        if not self.enabled:
            return 0
        mark = self.db.meta.find_one({"_id": CURSOR}) or {}
        since = (mark.get("scanned_to") or now - FIRST_SCAN + LOOK_BACK) - LOOK_BACK
        versions = list(self._versions(since, now))  # every site's: a story grows by any
        docs = [
            doc
            for version in versions
            if self._wanted_site(version.get("site"))
            for doc in self._version_alerts(version, now)
        ]
        docs += self._story_alerts(versions, now)
        recorded = len(docs) - len(insert_new(self.db.notifications, docs)) if docs else 0
        self.db.meta.update_one({"_id": CURSOR}, {"$set": {"scanned_to": now}}, upsert=True)
        return recorded

    def _versions(self, since: datetime, now: datetime) -> Iterator[Doc]:
        projection = {"raw": 0, "text": 0}
        query = {"fetched_at": {"$gte": since, "$lte": now}}  # sites are tested by the caller
        yield from self.db.versions.find(query, projection)

    def _wanted_site(self, site: str | None) -> bool:
        return not self.settings.sites or site in self.settings.sites

    def _version_alerts(self, version: Doc, now: datetime) -> list[Doc]:
        change = version.get("change") or {}
        kinds = change.get("kinds") or ["first"]
        wanted = set(self.settings.kinds or EDITS)
        if not wanted.intersection(kinds):
            return []
        title = f"[{version.get('site')}] {', '.join(kinds)}: {version.get('title')}"
        body = "\n".join(
            [
                one_line(change),
                str(version.get("url")),
                f"version {version['version']} of {version['article_id']}",
                "",
                (change.get("diff") or "")[:BODY_CHARS],
            ]
        )
        about = {
            "kind": "version",
            "version_id": version["_id"],
            "article_id": version["article_id"],
            "version": version["version"],
            "site": version.get("site"),
            "url": version.get("url"),
            "kinds": kinds,
        }
        return [
            self._pending(f"{version['_id']}@{key}", key, title, body, about, now)
            for key in self.targets
        ]

    def _story_alerts(self, versions: list[Doc], now: datetime) -> list[Doc]:
        """A story that reached `story_sites` sites, once per story (by the articles of this
        scan's versions: a story grows only when one of its copies is stored)."""
        threshold = self.settings.story_sites
        if not threshold or not versions:
            return []
        ids = sorted({v["article_id"] for v in versions})
        story_ids: set[str] = set()
        for batch in in_batches(ids):
            found = self.db.articles.find({"_id": {"$in": list(batch)}}, {"story_id": 1})
            story_ids.update(a["story_id"] for a in found if a.get("story_id"))
        alerts = []
        for batch in in_batches(sorted(story_ids)):
            for story in self.db.stories.find({"_id": {"$in": list(batch)}}):
                sites = story.get("sites") or []
                if len(sites) < threshold or story.get("merged_into"):
                    continue
                if self.settings.sites and not set(self.settings.sites).intersection(sites):
                    continue  # a story of the wanted sites, grown by a copy of any site
                title = f"story on {len(sites)} sites: {story.get('title')}"
                body = "\n".join(
                    [f"{len(sites)} sites carry it: {', '.join(sites)}", f"story {story['_id']}"]
                )
                about = {"kind": "story", "story_id": story["_id"], "sites": sites}
                alerts += [
                    self._pending(
                        f"story:{story['_id']}:{threshold}@{key}", key, title, body, about, now
                    )
                    for key in self.targets
                ]
        return alerts

    def _pending(self, _id: str, key: str, title: str, body: str, about: Doc, now: datetime) -> Doc:
        import apprise

        target = apprise.Apprise.instantiate(self.targets[key])
        return {
            "_id": _id,
            **about,
            "target": key,
            "target_url": target.url(privacy=True) if target else "?",
            "title": title,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }

    # -- delivery -------------------------------------------------------------------

    def deliver(self, now: datetime, limit: int = 100, within_s: float = 60) -> dict[str, int]:
        """Send the due alerts (at most `limit`, none started after `within_s` seconds: a slow
        receiver must not hold a command); returns how many ended sent / pending / failed."""
        counts = {"sent": 0, "pending": 0, "failed": 0}
        if not self.enabled:
            return counts
        # Apprise loads every plugin on its first import (seconds on a busy machine): that
        # is not the receiver being slow, so it must not spend the pass's time budget
        import apprise  # noqa: F401

        deadline = time.monotonic() + within_s
        for _ in range(limit):
            if time.monotonic() > deadline:
                break
            claimed = self.db.notifications.find_one_and_update(
                {"next_attempt_at": {"$lte": now}},
                {
                    "$set": {"status": "sending", "next_attempt_at": now + CLAIM},
                    "$inc": {"attempts": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
            if claimed is None:
                break
            counts[self._send(claimed, now)] += 1
        return counts

    def _send(self, alert: Doc, now: datetime) -> str:
        url = self.targets.get(alert["target"])
        error = None
        if url is None:
            error = "the target is no longer in the config"
        else:
            try:
                error = None if _notify(url, alert["title"], alert["body"]) else "not accepted"
            except Exception as exc:  # an Apprise plugin's bug must not stop the others
                error = repr(exc)[:300]
        if error is None:
            self._finish(alert, {"status": "sent", "sent_at": now})
            return "sent"
        attempts = int(alert.get("attempts", 1))
        if url is None or attempts >= self.settings.attempts:
            self._finish(alert, {"status": "failed", "failed_at": now, "last_error": error})
            log.warning("alert %s failed for good: %s", alert["_id"], error)
            return "failed"
        wait = self.settings.backoff * 2 ** (attempts - 1)
        self.db.notifications.update_one(
            {"_id": alert["_id"]},
            {"$set": {"status": "pending", "next_attempt_at": now + wait, "last_error": error}},
        )
        log.info("alert %s: %s; next try in %s", alert["_id"], error, wait)
        return "pending"

    def _finish(self, alert: Doc, fields: Doc) -> None:
        self.db.notifications.update_one(
            {"_id": alert["_id"]}, {"$set": fields, "$unset": {"next_attempt_at": ""}}
        )


def _notify(url: str, title: str, body: str) -> bool:
    import apprise

    sender = apprise.Apprise()
    sender.add(url)
    return bool(sender.notify(title=title, body=body))


def run_once(
    db: Any, settings: NotifySettings, now: datetime, within_s: float = 60
) -> dict[str, int]:
    """Record and deliver: what `newscrawl crawl` and the service call. Never raises: an
    alert that cannot be recorded or sent now is tried at the next pass."""
    notifier = Notifier(db, settings)
    if not notifier.enabled:
        return {}
    try:
        recorded = notifier.scan(now)
        return {"recorded": recorded, **notifier.deliver(now, within_s=within_s)}
    except PyMongoError as exc:
        log.warning("change alerts wait for MongoDB: %s", exc)
        return {}
