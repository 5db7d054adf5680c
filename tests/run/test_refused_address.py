"""A site refused by the address policy is reported as refused, not as unreachable.

The crawler refuses private, loopback and link-local addresses unless the site sets
allow_private_addresses (crawler.crawl.middleware). A crawl whose every source is
refused so ends `failed` with the reason `refused-address`, and each refused source's
fetch row is a `private-address` skip: a setting to change, not a site that is down.
"""

from __future__ import annotations

import json

import yaml

from crawler.run.outcomes import CrawlFacts, judge
from tests.helpers import newscrawl
from tests.run.test_lifecycle import _site, loopback_site  # noqa: F401 - the fixture


def test_a_site_on_a_refused_address_fails_as_refused_address(
    loopback_site,  # noqa: F811 - the fixture imported above
    db,
    crawl_env,
    tmp_path,
):
    site = dict(_site("on-loopback", loopback_site({})), allow_private_addresses=False)
    config = tmp_path / "sites.yaml"
    config.write_text(yaml.safe_dump({"sites": [site]}))
    env = dict(crawl_env, NEWSCRAWL_JOURNAL=str(tmp_path / "journal"))
    result = newscrawl("crawl", "on-loopback", "--config", str(config), "--json", env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    [reported] = json.loads(result.stdout)
    assert (reported["outcome"], reported["reason"]) == ("failed", "refused-address")
    assert "allow_private_addresses" in reported["error"]
    run = db.crawl_runs.find_one({"site": "on-loopback"})
    assert (run["outcome"], run["reason"]) == ("failed", "refused-address")
    [row] = db.fetches.find({"site": "on-loopback"})
    assert (row["reason"], row["outcome"], row["source_kind"]) == (
        "private-address",
        "skipped",
        "feed",
    )
    status = newscrawl("status", "--config", str(config), "--json", env=env)
    [last] = [row["last_run"] for row in json.loads(status.stdout)]
    assert (last["outcome"], last["reason"]) == ("failed", "refused-address")


def test_a_refusal_among_network_failures_is_still_unreachable():
    refused = "f: PrivateAddressRefused: f: 10.0.0.1 is a private address"
    facts = CrawlFacts(
        "finished",
        download_errors=2,
        sources={"a": ("skipped", refused), "b": ("error", "b: TimeoutError: took longer")},
    )
    assert judge(facts).reason == "unreachable"
    every = CrawlFacts("finished", download_errors=2, sources={"a": ("skipped", refused)})
    assert (judge(every).outcome, judge(every).reason) == ("failed", "refused-address")
