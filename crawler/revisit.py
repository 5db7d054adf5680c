"""When to look at a known article again: often while it is fresh, rarely once it is old.

News articles are edited mostly in their first hours; a story untouched for a
week is almost never touched again. The interval grows with the time since the
article last changed (a quarter of it), bounded between MIN and MAX. Feed
entries and sitemap lastmod dates that announce an update bypass this schedule.
Time is passed in, never read here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MIN_INTERVAL = timedelta(minutes=15)
MAX_INTERVAL = timedelta(days=7)
AGE_SHARE = 0.25


def interval_for(age: timedelta) -> timedelta:
    """The revisit interval for an article that last changed `age` ago."""
    return min(MAX_INTERVAL, max(MIN_INTERVAL, age * AGE_SHARE))


def next_check(now: datetime, last_changed: datetime, changed: bool) -> datetime:
    """The next time a revisit is due, given that we fetched it `now`."""
    if changed:
        return now + MIN_INTERVAL
    return now + interval_for(now - last_changed)
