"""Change alerts: a real crawl of the local network, a real webhook receiver on
127.0.0.1 that is down and then up, Apprise's json:// in between."""

from __future__ import annotations

import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from crawler.clock import utcnow
from crawler.localnet import LocalNetwork
from crawler.store import connect
from tests.helpers import free_port, newscrawl, wait_until


class Receiver:
    """A webhook on 127.0.0.1:port that keeps every JSON body posted to it."""

    def __init__(self, port: int):
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alerting(mongo_uri, tmp_path):
    name = f"t_notify_{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ, MONGODB_URI=mongo_uri, NEWSCRAWL_DB=name, NEWSCRAWL_JOURNAL=str(tmp_path / "j")
    )
    port = free_port()
    with LocalNetwork(seed=9, hostile=False) as net:
        config = net.write_config(tmp_path / "sites.yaml")
        data = yaml.safe_load(config.read_text())
        data["notify"] = {
            "targets": [f"json://127.0.0.1:{port}/hook"],
            "sites": ["harbour-times"],
            "kinds": ["body_added"],
            "story_sites": 2,
            "backoff": "1s",
        }
        config.write_text(yaml.safe_dump(data))
        db = connect(mongo_uri, name)
        yield {"env": env, "net": net, "config": config, "port": port, "db": db}
        db.client.drop_database(name)


@pytest.mark.slow
def test_alerts_wait_for_a_receiver_that_is_down_and_go_once_each(alerting):
    env, net, db, config = alerting["env"], alerting["net"], alerting["db"], alerting["config"]
    crawl = ("crawl", "harbour-times", "valley-gazette", "--config", str(config))
    first = newscrawl(*crawl, env=env)
    assert first.returncode == 0, first.stderr[-2000:]  # the receiver is down: no failure
    net.clock.advance(hours=1, minutes=5)
    second = newscrawl(*crawl, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "to retry" in second.stderr
    waiting = list(db.notifications.find())
    assert waiting and all(n["status"] == "pending" and n["attempts"] >= 1 for n in waiting)
    assert all(n["last_error"] for n in waiting)

    # the next crawl comes after the alerts' back-off (1 s, then 2 s): a crawl that comes
    # sooner leaves them pending for the one after, which is what back-off is for
    latest = max(n["next_attempt_at"] for n in waiting)
    wait_until(lambda: utcnow() > latest, timeout=30)
    receiver = Receiver(alerting["port"])
    try:
        third = newscrawl("crawl", "valley-gazette", "--config", str(config), env=env)
        assert third.returncode == 0, third.stderr[-2000:]
    finally:
        receiver.stop()

    edited = {
        f"version {v['version']} of {v['article_id']}"
        for v in db.versions.find({"site": "harbour-times", "change.kinds": "body_added"})
    }
    assert edited  # the network edits one harbour-times article after an hour
    stories = {
        f"story {s['_id']}"
        for s in db.stories.find({"sites": "harbour-times"})
        if len(s["sites"]) >= 2
    }
    assert stories
    messages = [body["message"] for body in receiver.bodies]
    about = [
        line for m in messages for line in m.splitlines() if line.startswith(("version ", "story "))
    ]
    assert sorted(about) == sorted(edited | stories)  # one each, nothing else
    assert {n["status"] for n in db.notifications.find()} == {"sent"}
    assert not any("valley-gazette" in m.split("\n", 1)[0] for m in messages if "version " in m)


def test_a_target_apprise_cannot_send_to_is_a_config_error():
    from crawler.config import ConfigError, parse_config

    text = "sites: [{name: a, url: 'http://127.0.0.1:1/', feeds: ['http://127.0.0.1:1/f']}]\nnotify: {targets: ['nonsense']}\n"
    with pytest.raises(ConfigError, match="notify"):
        parse_config(text, "sites.yaml")
    good = text.replace("nonsense", "json://127.0.0.1:9/hook")
    assert parse_config(good, "sites.yaml").notify.targets == ["json://127.0.0.1:9/hook"]


def test_a_story_of_a_wanted_site_grown_by_another_site_s_copy_makes_its_alert(db):
    """`sites` filters whose edits are announced, not which copies make a story grow: a
    harbour-times story that reaches two sites when a valley-gazette copy is stored (and
    no harbour-times version is in that scan) still gets its one story alert."""
    from datetime import datetime, timedelta, timezone

    from crawler.config import NotifySettings
    from crawler.service.notify import Notifier

    settings = NotifySettings(
        targets=["json://127.0.0.1:9/hook"], sites=["harbour-times"], story_sites=2
    )
    t0 = datetime(2026, 12, 6, 8, 0, tzinfo=timezone.utc)

    def stored(article: str, site: str, at: datetime) -> None:
        db.articles.insert_one({"_id": article, "site": site, "story_id": "s1"})
        db.versions.insert_one(
            {"_id": f"{article}:1", "article_id": article, "version": 1, "site": site,
             "fetched_at": at, "title": "Wire story", "change": {"kinds": ["first"]}}
        )  # fmt: skip

    notifier = Notifier(db, settings)
    db.stories.insert_one({"_id": "s1", "sites": ["harbour-times"], "title": "Wire story"})
    stored("a-harbour", "harbour-times", t0)
    notifier.scan(t0 + timedelta(minutes=1))
    assert db.notifications.count_documents({"kind": "story"}) == 0  # one site yet
    notifier.scan(t0 + timedelta(hours=1))  # nothing new: the harbour copy is behind the scan
    db.stories.update_one({"_id": "s1"}, {"$set": {"sites": ["harbour-times", "valley-gazette"]}})
    stored("a-valley", "valley-gazette", t0 + timedelta(hours=2))
    notifier.scan(t0 + timedelta(hours=2, minutes=1))
    assert db.notifications.count_documents({"kind": "story"}) == 1
    assert db.notifications.count_documents({"kind": "version"}) == 0  # not wanted
    db.stories.insert_one({"_id": "s2", "sites": ["valley-gazette", "prairie-post"]})
    db.articles.update_one({"_id": "a-valley"}, {"$set": {"story_id": "s2"}})
    db.versions.update_one({"_id": "a-valley:1"}, {"$set": {"fetched_at": t0 + timedelta(hours=3)}})
    notifier.scan(t0 + timedelta(hours=3, minutes=1))
    assert db.notifications.count_documents({"kind": "story"}) == 1  # no unwanted story
