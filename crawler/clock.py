"""Time, passed in: every decision about when takes a clock instead of reading one.

As APScheduler 3's triggers are given `now`, the spider, the pipeline, the
lease, the service and the story index are given a `Clock` (a callable that
returns an aware UTC datetime). Production passes `utcnow`; tests pass a
`SteppedClock` and advance it, so a test of a revisit, a lease expiry or a
refresh period runs in no time and gives the same answer every run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SteppedClock:
    """A clock that moves only when told to (thread-safe: leases read it from their thread)."""

    def __init__(self, start: datetime | None = None):
        self.start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._now = self.start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def now(self) -> datetime:
        return self()

    def advance(self, delta: timedelta | float = 0, **parts: float) -> datetime:
        """Move on by `delta` (a timedelta or seconds) and/or `parts` (`hours=2`)."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        step += timedelta(**parts)
        with self._lock:
            self._now += step
            return self._now
