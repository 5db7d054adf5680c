"""`newscrawl demo --serve`: the live tour runs the service on the local network until
Ctrl-C, and articles edited meanwhile become new versions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from crawler.store import connect
from tests.helpers import wait_until


@pytest.mark.slow
def test_the_live_tour_makes_new_versions_and_stops_cleanly_on_ctrl_c(mongo_uri, tmp_path):
    name = f"t_tour_{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ,
        MONGODB_URI=mongo_uri,
        NEWSCRAWL_DB=name,
        NEWSCRAWL_JOURNAL=str(tmp_path / "journal"),
        COLUMNS="200",
    )
    db = connect(mongo_uri, name)
    tour = subprocess.Popen(
        [sys.executable, "-m", "crawler", "demo", "--serve", "--every", "3s", "--edit-every", "2s"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        edited = wait_until(
            lambda: db.versions.find_one({"version": {"$gt": 1}}, {"_id": 1}) is not None,
            timeout=240,
        )
        assert tour.poll() is None, tour.communicate()[1][-3000:]
        assert edited, "no second version within 4 minutes"
        tour.send_signal(signal.SIGINT)
        out, err = tour.communicate(timeout=150)
    finally:
        if tour.poll() is None:
            tour.kill()
            tour.communicate()
        db.client.drop_database(name)
    assert tour.returncode == 0, err[-3000:]
    assert "live tour" in out and "edited http://127.0.0.1:" in out
    assert "tour stopped" in out


def test_the_tour_prints_each_alert_with_its_site(capsys):
    """The alert's title starts with "[site]"; printed as rich markup the site vanished."""
    import json
    import urllib.request

    from crawler.cli.tour import AlertPrinter

    printer = AlertPrinter()
    try:
        url = printer.url.replace("json://", "http://")
        body = json.dumps({"title": "[valley-gazette] headline: Mayor resigns"}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
    finally:
        printer.stop()
    assert "alert [valley-gazette] headline: Mayor resigns" in capsys.readouterr().out
