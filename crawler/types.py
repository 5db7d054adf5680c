"""Types every stage shares: `Doc`, a MongoDB document as pymongo reads and writes it."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]
