"""crawler.text.dates: the one reading of the dates feeds, sitemaps and stored records spell."""

from __future__ import annotations

from datetime import datetime, timezone

from crawler.text.dates import parse_date


def test_sitemap_feed_and_rss_dates_read_as_aware_utc():
    utc = timezone.utc
    assert parse_date("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=utc)
    assert parse_date(" 2026-03-01 ") == datetime(2026, 3, 1, tzinfo=utc)  # a bare date is UTC
    assert parse_date("2026-03-01T10:00:00+02:00") == datetime(2026, 3, 1, 8, tzinfo=utc)
    assert parse_date("Sun, 01 Mar 2026 10:00:00 +0100") == datetime(2026, 3, 1, 9, tzinfo=utc)


def test_no_date_and_a_date_nobody_can_read_are_none():
    assert parse_date(None) is None and parse_date("") is None
    assert parse_date("last Tuesday") is None
