"""The one parser of the dates feeds, sitemaps, stored records and the command line spell.

W3C datetimes (ISO 8601, `Z` included), bare dates and RFC 822 dates (RSS): the standard
library reads all three (`datetime.fromisoformat`, `email.utils.parsedate_to_datetime`), so
no date library is needed; dates inside HTML are htmldate's (crawler.text.extract).
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


def parse_date(text: str | None) -> datetime | None:
    """W3C datetime, a bare date, or an RFC 822 date, as an aware UTC datetime."""
    if not text:
        return None
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
