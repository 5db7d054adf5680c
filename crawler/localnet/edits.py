"""The edits a test makes to a served article: what the versioning tests count on.

Shared by the sites that serve real or generated articles (crawler.localnet.zyte,
crawler.localnet.oldcms): each page keeps a list of (kind, argument) edits that its
rendering applies, so an edit shows on every later fetch and on no earlier one.
"""

from __future__ import annotations

from typing import Any

SENTENCE, NUMBER, HEADLINE = "sentence", "number", "headline"


class EditablePages:
    """Mixin: `self.pages` maps a page id to an object with an `edits` list."""

    pages: dict[str, Any]

    def add_sentence(self, page_id: str, sentence: str) -> None:
        self.pages[page_id].edits.append((SENTENCE, sentence))

    def correct_number(self, page_id: str) -> None:
        self.pages[page_id].edits.append((NUMBER, ""))

    def change_headline(self, page_id: str, headline: str) -> None:
        self.pages[page_id].edits.append((HEADLINE, headline))
