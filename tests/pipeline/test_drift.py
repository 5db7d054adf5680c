"""Extraction drift judged against a site's recent runs (crawler.pipeline.drift)."""

from __future__ import annotations

from crawler.pipeline.drift import MIN_PAGES, ExtractionCoverage, baseline, warnings


def coverage(pages: int, words: int, dated: int, authored: int) -> dict:
    found = ExtractionCoverage()
    for i in range(pages):
        found.add(
            "A title",
            "2026-12-01" if i < dated else None,
            ["A. Writer"] if i < authored else [],
            words,
        )
    return found.summary()


def test_dates_that_vanish_and_a_body_cut_in_half_are_warnings():
    week = baseline([{"extraction": coverage(20, 400, 19, 18)} for _ in range(5)])
    assert warnings(coverage(20, 390, 18, 18), week) == []
    dates_gone = warnings(coverage(20, 390, 2, 18), week)
    assert len(dates_gone) == 1 and dates_gone[0].startswith("dates on 10% of pages")
    assert any("median body length 150" in w for w in warnings(coverage(20, 150, 19, 18), week))


def test_too_few_pages_or_no_history_say_nothing():
    week = baseline([{"extraction": coverage(20, 400, 19, 18)}])
    assert warnings(coverage(MIN_PAGES - 1, 10, 0, 0), week) == []
    assert warnings(coverage(20, 10, 0, 0), None) == []
    # a site that never had bylines is not warned about bylines
    no_bylines = baseline([{"extraction": coverage(20, 400, 19, 0)}])
    assert warnings(coverage(20, 400, 19, 0), no_bylines) == []


def test_a_run_is_judged_against_its_own_site_s_runs_of_the_week(db):
    """Other sites, runs older than the week, runs of too few pages and the run itself
    (already recorded) are not the baseline: counted, they would hide the drop here."""
    from datetime import datetime, timedelta, timezone

    from crawler.pipeline.drift import BASELINE_DAYS, judge

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    runs = []
    for i in range(50):
        at = now - timedelta(hours=i + 1)
        short = {"extraction": coverage(20, 100, 19, 18)}
        runs.append({"_id": f"other{i}", "site": "other", "started_at": at, **short})
        runs.append(
            {"_id": f"old{i}", "site": "gazette", **short}
            | {"started_at": now - timedelta(days=BASELINE_DAYS, hours=i + 1)}
        )
    for i in range(250):  # more than the baseline's newest runs
        at = now - timedelta(minutes=10 * (i + 1))
        few = {"extraction": coverage(MIN_PAGES - 1, 100, 0, 0)}
        runs.append({"_id": f"few{i}", "site": "gazette", "started_at": at, **few})
    for i in range(5):
        runs.append(
            {"_id": f"week{i}", "site": "gazette", "started_at": now - timedelta(days=i + 2)}
            | {"extraction": coverage(20, 400, 19, 18)}
        )
    runs.append(
        {
            "_id": "this",
            "site": "gazette",
            "started_at": now,
            "extraction": coverage(20, 150, 19, 18),
        }
    )
    db.crawl_runs.insert_many(runs)
    found = ExtractionCoverage()
    for _ in range(20):
        found.add("A title", "2026-12-01", ["A. Writer"], 150)
    judged = judge(db, "gazette", "this", found, now)
    assert any("median body length 150" in w for w in judged["warnings"]), judged
    db.crawl_runs.delete_many({"_id": {"$regex": "^week"}})
    assert judge(db, "gazette", "this", found, now)["warnings"] == []  # no baseline: no word
