"""Where crawls run is chosen by name from one map (crawler.service.dispatch.DISPATCHERS)."""

from __future__ import annotations

from typing import get_args

from crawler.clock import utcnow
from crawler.config import ScrapydSettings, ServiceSettings
from crawler.service.dispatch import (
    DISPATCHERS,
    LocalDispatcher,
    ScrapydDispatcher,
    ServiceContext,
)


def test_every_name_the_config_accepts_has_a_dispatcher_and_no_other():
    names = get_args(ServiceSettings.model_fields["dispatcher"].annotation)
    assert set(names) == set(DISPATCHERS) == {"local", "scrapyd"}


def test_the_named_dispatcher_is_made_from_the_service_s_settings():
    local = DISPATCHERS["local"](
        ServiceContext(
            ServiceSettings(), None, utcnow, "/usr/bin/python3", "/tmp/snapshot.yaml", {"A": "1"}
        )
    )
    assert isinstance(local, LocalDispatcher)
    assert (local.python, local.config_path) == ("/usr/bin/python3", "/tmp/snapshot.yaml")
    assert local.environment == {"A": "1"}  # the environment its children get
    nodes = ScrapydSettings(nodes=["http://127.0.0.1:6800"], poll="2s")
    settings = ServiceSettings(dispatcher="scrapyd", scrapyd=nodes)
    scrapyd = DISPATCHERS["scrapyd"](ServiceContext(settings, None, utcnow, "python3", "x", {}))
    assert isinstance(scrapyd, ScrapydDispatcher) and scrapyd.poll_s == 2.0
    scrapyd.stop_all(0.1)  # its jobs' followers stop them: nothing to wait for here
