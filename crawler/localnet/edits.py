"""The edits a test makes to a served article: what the versioning tests count on.

Shared by the sites that serve real or generated articles (crawler.localnet.zyte,
crawler.localnet.oldcms): each page keeps a list of (kind, argument) edits that its
rendering applies, so an edit shows on every later fetch and on no earlier one.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import Any

SENTENCE, NUMBER, HEADLINE = "sentence", "number", "headline"


class EditablePages:
    """Mixin: `self.pages` maps a page id to an object with an `edits` list; `seed`,
    `start`, `requests` and `_lock` give each request its own chrome (`next_request`)."""

    pages: dict[str, Any]
    seed: int
    start: datetime
    requests: int
    _lock: threading.Lock

    def next_request(self) -> tuple[random.Random, datetime]:
        """This request's random source and the moment its chrome shows: the page chrome
        changes on every request, the article only when a test edits it."""
        with self._lock:
            self.requests += 1
            n = self.requests
        rng = random.Random(self.seed * 1_000_003 + n)
        return rng, self.start + timedelta(minutes=7 * n, seconds=n % 60)

    def add_sentence(self, page_id: str, sentence: str) -> None:
        self.pages[page_id].edits.append((SENTENCE, sentence))

    def correct_number(self, page_id: str) -> None:
        self.pages[page_id].edits.append((NUMBER, ""))

    def change_headline(self, page_id: str, headline: str) -> None:
        self.pages[page_id].edits.append((HEADLINE, headline))
