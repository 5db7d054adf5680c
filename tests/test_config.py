"""Config validation: clear errors naming file, line, site and field; exit status 2."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from crawler.config import ConfigError, load_config, parse_config
from tests.helpers import REPO, newscrawl

GOOD = """
sites:
  - name: valley-gazette
    url: https://valley.example/
    feeds: [https://valley.example/feed]
    schedule: {every: 15m}
"""


def test_starter_config_is_valid_and_real():
    config = load_config(REPO / "config" / "sites.yaml")
    assert len(config.sites) >= 10
    regions = {site.region.rsplit(",", 1)[-1].strip() for site in config.sites}
    assert len(regions) >= 4
    assert all(site.feeds or site.sitemaps for site in config.sites)
    assert not any(site.allow_private_addresses for site in config.sites)


def test_durations_are_read_once_when_the_config_loads_and_written_back_as_text():
    """Every stage gets a timedelta; the text a child crawl or a Scrapyd job is given reads
    back to the same config."""
    text = GOOD.replace("{every: 15m}", "{every: 90m, jitter: '0'}\n    max_age: 1.5h")
    site = parse_config(text).site("valley-gazette")
    assert site.schedule.every == timedelta(minutes=90) and site.schedule.jitter == timedelta(0)
    assert site.max_age == timedelta(hours=1.5) and site.crawl_timeout == timedelta(minutes=20)
    assert site.schedule.describe() == "every 90m"
    dumped = site.model_dump(mode="json", exclude_unset=True)
    assert dumped["max_age"] == "90m" and dumped["schedule"] == {"every": "90m", "jitter": "0s"}
    again = parse_config(yaml.safe_dump({"sites": [dumped]})).site("valley-gazette")
    assert again == site


def test_good_config_loads_with_defaults():
    site = parse_config(GOOD).site("valley-gazette")
    assert site.schedule.interval.total_seconds() == 900
    assert site.politeness.autothrottle is True
    assert site.domains == ["valley.example"]


@pytest.mark.parametrize(
    "change, expected",
    [
        (("every: 15m", "every: soon"), ["line 6", "valley-gazette", "schedule", "not a duration"]),
        (("feeds:", "feedz:"), ["line 5", "valley-gazette", "feedz", "unknown key"]),
        (("name: valley-gazette", "name: Valley Gazette"), ["line 3", "name", "lowercase"]),
        (
            ("https://valley.example/feed", "ftp://valley.example/feed"),
            ["valley-gazette", "feeds", "not an http"],
        ),
        (("{every: 15m}", "{every: 15m, cron: '* * * * *'}"), ["schedule", "exactly one"]),
    ],
)
def test_bad_values_name_file_line_site_and_field(change, expected):
    text = GOOD.replace(*change)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "sites.yaml")
    message = str(info.value).replace("sites.yaml:", "line ")
    for part in expected:
        assert part in message, message


def test_credentials_in_config_are_refused():
    with pytest.raises(ConfigError, match="MONGODB_URI"):
        parse_config(GOOD + "mongodb_uri: mongodb://user:pw@host/\n")


def test_duplicate_site_names_are_refused():
    text = GOOD + textwrap.indent(GOOD.split("sites:\n", 1)[1], "")
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(text)


def test_a_duplicate_site_name_is_reported_at_its_second_line(tmp_path, crawl_env):
    """Not at line 1 (the model's check knows no lines): the file and the second `name`
    line, with the first one's, as the command prints it."""
    second = GOOD.split("sites:\n", 1)[1].replace("valley.example", "other.example")
    path = tmp_path / "sites.yaml"
    path.write_text(GOOD + second)  # names at lines 3 and 7
    result = newscrawl("crawl", "--all", "--config", str(path), env=crawl_env, check=False)
    assert result.returncode == 2, result.stderr
    assert f"{path}:7: site 'valley-gazette'" in result.stderr, result.stderr
    assert "first at line 3" in result.stderr


def test_cli_exits_2_with_the_message(tmp_path, crawl_env):
    path = tmp_path / "sites.yaml"
    path.write_text(GOOD.replace("every: 15m", "every: -5m"))
    result = newscrawl("crawl", "--all", "--config", str(path), env=crawl_env, check=False)
    assert result.returncode == 2
    assert (
        str(path) in result.stderr
        and "valley-gazette" in result.stderr
        and "schedule" in result.stderr
    )


def test_unknown_site_is_a_usage_error(tmp_path, crawl_env):
    path = tmp_path / "sites.yaml"
    path.write_text(GOOD)
    result = newscrawl("crawl", "no-such-site", "--config", str(path), env=crawl_env, check=False)
    assert result.returncode == 2 and "no site named 'no-such-site'" in result.stderr


WITH_DEFAULTS = """
user_agent: "Regional-Archive/2.0 (+https://archive.example/bot)"
defaults:
  politeness: {delay: 5.0, concurrency: 1}
  schedule: {every: 45m}
  language: fr
sites:
  - name: valley-gazette
    url: https://valley.example/
    feeds: [https://valley.example/feed]
    politeness: {concurrency: 3}
  - name: harbour-times
    url: https://harbour.example/
    feeds: [https://harbour.example/feed]
    schedule: {every: 10m}
    language: en
    user_agent: "HarbourTimesArchive/1.0"
"""


def test_defaults_apply_to_every_site_and_a_site_s_own_keys_win():
    config = parse_config(WITH_DEFAULTS)
    valley, harbour = config.site("valley-gazette"), config.site("harbour-times")
    assert valley.politeness.delay == 5.0 and valley.politeness.concurrency == 3
    assert valley.schedule.interval.total_seconds() == 45 * 60
    assert harbour.schedule.interval.total_seconds() == 10 * 60
    assert (valley.language, harbour.language) == ("fr", "en")
    assert config.user_agent_of(valley) == "Regional-Archive/2.0 (+https://archive.example/bot)"
    assert config.user_agent_of(harbour) == "HarbourTimesArchive/1.0"


@pytest.mark.parametrize(
    "change, expected",
    [
        (("  language: fr\n", "  langauge: fr\n"), ["line 6", "defaults.langauge", "not a key"]),
        (("  language: fr\n", "  url: https://x.example/\n"), ["defaults.url", "each site's own"]),
        (("    language: en\n", "    language: English\n"), ["harbour-times", "language"]),
    ],
)
def test_bad_defaults_and_languages_name_the_line(change, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(WITH_DEFAULTS.replace(*change), "sites.yaml")
    message = str(info.value).replace("sites.yaml:", "line ")
    for part in expected:
        assert part in message, message


def test_the_service_section_names_the_dispatcher_and_refuses_what_it_cannot_use():
    assert parse_config(GOOD).service.dispatcher == "local"
    scrapyd = parse_config(
        GOOD
        + "service:\n  dispatcher: scrapyd\n  scrapyd:\n"
        + "    nodes: [http://crawl1.internal:6800, http://crawl2.internal:6800]\n"
    ).service
    assert scrapyd.dispatcher == "scrapyd" and len(scrapyd.scrapyd.nodes) == 2
    for bad, words in [
        ("service:\n  dispatcher: scrapyd\n", ["sites.yaml:7:", "needs a 'scrapyd' section"]),
        ("service:\n  dispatcher: celery\n", ["sites.yaml:8:", "service.dispatcher"]),
        (
            "service:\n  dispatcher: scrapyd\n  scrapyd: {nodes: [crawl1:6800]}\n",
            ["sites.yaml:9:", "not an http(s) URL"],
        ),
        (
            "service:\n  dispatcher: scrapyd\n  scrapyd: {nodes: [http://a:6800], poll: often}\n",
            ["sites.yaml:9:", "not a duration"],
        ),
    ]:
        with pytest.raises(ConfigError) as info:
            parse_config(GOOD + bad, "sites.yaml")
        for word in words:
            assert word in str(info.value), (bad, str(info.value))


@pytest.mark.parametrize(
    "change, expected",
    [
        # numbers bounded at load time, not an OverflowError (or an endless crawl) later
        (("schedule:", "max_articles: 1.0e+23\n    schedule:"), ["line 6", "max_articles"]),
        (("schedule:", "max_articles: 100001\n    schedule:"), ["max_articles", "100000"]),
        (("schedule:", "max_articles: 1e23\n    schedule:"), ["line 6", "max_articles"]),
        (("schedule:", "max_entries: 0\n    schedule:"), ["line 6", "max_entries"]),
        (("schedule:", "max_age: 99999999999999999999d\n    schedule:"), ["max_age", "too long"]),
        (("schedule:", "politeness: {delay: .inf}\n    schedule:"), ["politeness.delay", "finite"]),
        # an empty domain would match no site (or any)
        (
            ("schedule:", "allowed_domains: ['']\n    schedule:"),
            ["line 6", "allowed_domains", "empty"],
        ),
        (("schedule:", "allowed_domains: [a.example, ' ']\n    schedule:"), ["allowed_domains"]),
        # February 31st never comes: the site would never be crawled
        (("{every: 15m}", "{cron: '0 0 31 2 *'}"), ["line 6", "schedule", "never fires"]),
        (
            ("https://valley.example/feed", "https://valley.example/" + "a" * 3000),
            ["line 5", "feeds", "longer than 2083"],
        ),
    ],
)
def test_values_that_would_fail_later_are_refused_at_load(change, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD.replace(*change), "sites.yaml")
    message = str(info.value).replace("sites.yaml:", "line ")
    assert "valley-gazette" in message
    for part in expected:
        assert part in message, message


def test_a_duplicate_key_names_both_lines_site_and_field():
    text = GOOD.replace("schedule:", "feeds: [https://other.example/feed]\n    schedule:")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "sites.yaml")
    message = str(info.value)
    assert "sites.yaml:6" in message and "line 5" in message, message
    assert "valley-gazette" in message and "'feeds'" in message
    # a nested mapping too, and a top-level key
    nested = GOOD.replace("{every: 15m}", "{every: 15m, every: 30m}")
    with pytest.raises(ConfigError, match="duplicate key 'every'"):
        parse_config(nested)
    with pytest.raises(ConfigError, match="duplicate key 'sites'"):
        parse_config(GOOD + "sites: []\n")


@pytest.mark.parametrize("field", ["url", "feeds"])
def test_credentials_in_a_site_url_are_refused_and_never_repeated(field):
    secret = "hunter2-secret"
    text = GOOD.replace("https://valley.example/feed", f"https://bob:{secret}@valley.example/feed")
    if field == "url":
        text = GOOD.replace(
            "url: https://valley.example/", f"url: https://bob:{secret}@valley.example/"
        )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "sites.yaml")
    message = str(info.value)
    assert "credentials" in message and field in message and "valley-gazette" in message
    assert secret not in message and "bob" not in message


def test_a_cron_expression_is_judged_at_the_time_given():
    text = GOOD.replace("{every: 15m}", "{cron: '0 9 * * 1'}")
    site = parse_config(text, now=datetime(2026, 12, 6, tzinfo=timezone.utc)).site("valley-gazette")
    assert site.schedule.cron == "0 9 * * 1"


def test_a_config_error_of_the_new_kinds_exits_2_naming_file_and_site(tmp_path, crawl_env):
    path = tmp_path / "sites.yaml"
    path.write_text(GOOD.replace("{every: 15m}", "{cron: '0 0 31 2 *'}"))
    result = newscrawl("crawl", "--all", "--config", str(path), env=crawl_env, check=False)
    assert result.returncode == 2
    assert str(path) in result.stderr and "valley-gazette" in result.stderr
    assert "never fires" in result.stderr
