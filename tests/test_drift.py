"""Extraction drift judged against a site's recent runs (crawler.drift)."""

from __future__ import annotations

from crawler.drift import MIN_PAGES, ExtractionCoverage, baseline, warnings


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
