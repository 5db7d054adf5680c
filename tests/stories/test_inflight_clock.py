"""Batches in flight expire by the placing crawl's clock, not this machine's wall clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from crawler.clock import SteppedClock
from crawler.stories.inflight import InFlight, Text
from crawler.stories.placement import Member

START = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)


def text(article_id: str) -> Text:
    member = Member(
        article_id, "site", f"https://example.test/{article_id}", "Title", [], None, START
    )
    member.hashes = {1, 2, 3}
    return Text(member, anchors=[1], body_hash="same-wire-copy")


def test_a_batch_waits_for_one_in_flight_by_the_crawls_stepped_clock(db):
    """A crawl on a stepped clock (long before the wall clock) registered a copy of the same
    story: it is live by that clock, so a second batch waits for it to leave."""
    clock = SteppedClock(START)
    first = InFlight(db, [text("a-1")], clock()).__enter__()
    clock.advance(seconds=30)  # well within its expiry, by the crawls' clock
    threading.Timer(0.5, first.__exit__).start()  # it finishes its placement half a second on
    with InFlight(db, [text("b-1")], clock()) as second:
        pass
    assert second.waited_s >= 0.4
    assert db.placements.count_documents({}) == 0


def test_a_registration_expired_by_the_crawls_clock_holds_nobody_up(db):
    """The clock of the crawls that share the store ran on past a registration's expiry
    (a crawl that died mid-batch on another machine): the next batch does not wait."""
    clock = SteppedClock(datetime.now(timezone.utc) + timedelta(days=1))
    stale = InFlight(db, [text("a-1")], clock() - timedelta(hours=1)).__enter__()
    with InFlight(db, [text("b-1")], clock()) as second:
        pass
    assert second.waited_s == 0.0
    stale.__exit__()
