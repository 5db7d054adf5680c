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
# an article that answers 404/410 is retired only after GONE_ANSWERS such answers spread
# over at least GONE_SPAN: a CMS hiccup of a minute must not take it out of the queue
GONE_ANSWERS = 3
GONE_SPAN = timedelta(days=2)
MISSING_RETRY = timedelta(hours=12)  # the first look after a 404; then 3x longer each time
MAX_MISSING_RETRY = timedelta(days=2)
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


def missing_retry(answers: int) -> timedelta:
    """How long to wait before looking again at an article that answered 404/410 `answers`
    times in a row: 12 h, then 36 h, then every 2 days. With GONE_ANSWERS = 3 and
    GONE_SPAN = 2 days, an article missing for good is retired at its third look, two
    days after the first."""
    return min(MAX_MISSING_RETRY, MISSING_RETRY * 3 ** max(0, answers - 1))


def retired(answers: int, since: datetime, now: datetime) -> bool:
    """Enough 404/410 answers, far enough apart, to stop looking at the article."""
    return answers >= GONE_ANSWERS and now - since >= GONE_SPAN


def degraded_retry(fetches: int, age: timedelta) -> timedelta:
    """When to look again at an article whose last `fetches` fetches in a row were not
    the article (a wall, an error page, a cut body): MIN_INTERVAL, doubling with each
    such fetch, never later than its regular interval (`age`: since it last changed)."""
    return min(max(MIN_INTERVAL, interval_for(age)), MIN_INTERVAL * 2 ** max(0, fetches - 1))
