"""The site list (config/sites.yaml): schema, validation and loading.

Validation is strict on purpose: a typo in a key of a service that runs for
months must fail loudly at start-up, naming the file, the line, the site and
the field, instead of silently falling back to a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crawler import env

DEFAULT_CONFIG_PATH = "config/sites.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SITE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# upper bounds of the numbers a site sets: a typo such as `max_articles: 1e23` is an
# error at load time, not an OverflowError (or a crawl without end) at run time
MAX_ARTICLES = 100_000
MAX_SITEMAPS = 10_000
MAX_ENTRIES = 1_000_000
MAX_DURATION_S = 3650 * 86400  # ten years: longer is a typo, and overflows datetime arithmetic
MAX_SECONDS = 3600.0  # a politeness delay or a download timeout


class ConfigError(Exception):
    """A config file that cannot be used; the message names file, line, site and field."""


def parse_duration(text: str | int | float) -> timedelta:
    """'15m', '2h', '30s', '1d' or a number of seconds; positive and at most 10 years."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not seconds > 0:  # also NaN
        raise ValueError(f"duration must be positive: {text!r}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration too long: {text!r} (at most {MAX_DURATION_S // 86400}d)")
    return timedelta(seconds=seconds)


def duration_text(value: timedelta) -> str:
    """A duration as the config spells it: the largest unit that divides it ('90m', '2h', '45s')."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _to_duration(value: Any) -> timedelta:
    """Read once, when the config loads: every stage gets a timedelta, none parses text."""
    if isinstance(value, timedelta):
        return parse_duration(value.total_seconds())
    if not isinstance(value, str):  # as before: a bare number is not taken for seconds
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h, 1d)")
    return parse_duration(value)


def _to_jitter(value: Any) -> timedelta:
    """A schedule's jitter: a duration, or 0 for none."""
    if value in ("0", "0s") or value == timedelta(0):
        return timedelta(0)
    return _to_duration(value)


def _checked_http_urls(value: Any) -> Any:
    """A URL, or a list of them, each http(s) with a host, without credentials, at most
    MAX_URL_LENGTH characters.

    A `user:password@` URL is refused without being repeated in the message: the
    password must not reach a log, and every request to such a URL would count as
    offsite (the host check sees `user:password@host`)."""
    from urllib.parse import urlsplit

    from crawler.urls import MAX_URL_LENGTH

    for url in [value] if isinstance(value, str) else value:
        if "@" in url.split("?", 1)[0].split("#", 1)[0] and _has_credentials(url, urlsplit):
            raise ValueError(
                "credentials (user:password@) in a URL are refused: they would be sent "
                "with every request and written to logs; give the URL without them"
            )
        if len(url) > MAX_URL_LENGTH:
            raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters: {url[:80]!r}...")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"not an http(s) URL: {url!r}")
    return value


def _has_credentials(url: str, urlsplit: Any) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return True  # unparseable with an @ before the path: refuse, say nothing of it
    return parts.username is not None or parts.password is not None


# '15m', '2h', '30s', '1d' in the file; a timedelta once loaded; written back as text
Duration = Annotated[
    timedelta, BeforeValidator(_to_duration), PlainSerializer(duration_text, return_type=str)
]
Jitter = Annotated[
    timedelta, BeforeValidator(_to_jitter), PlainSerializer(duration_text, return_type=str)
]


def _check_cron(expression: str, now: datetime) -> None:
    """A crontab line APScheduler reads and that fires at least once after `now`
    (`0 0 31 2 *`, February 31st, never does: the site would never be crawled)."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(expression, timezone=timezone.utc)
    if trigger.get_next_fire_time(None, now) is None:
        raise ValueError(f"cron expression {expression!r} never fires")


def _now(info: ValidationInfo) -> datetime:
    """The validation's `now` (parse_config passes it), else the time of the call."""
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now")
    return now if isinstance(now, datetime) else datetime.now(timezone.utc)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Strict):
    every: Duration | None = None
    cron: str | None = None
    jitter: Jitter = timedelta(seconds=30)

    @model_validator(mode="after")
    def _one_kind(self, info: ValidationInfo) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        if self.cron is not None:
            _check_cron(self.cron, _now(info))
        return self

    @property
    def interval(self) -> timedelta | None:
        return self.every

    @property
    def jitter_seconds(self) -> int:
        return int(self.jitter.total_seconds())

    def describe(self) -> str:
        return f"every {duration_text(self.every)}" if self.every else f"cron {self.cron}"


DEFAULT_USER_AGENT = "newscrawl/0.1 (+https://github.com/newscrawl; regional news archive bot)"


class Politeness(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    delay: float = Field(default=1.0, ge=0, le=MAX_SECONDS)
    concurrency: int = Field(default=2, ge=1, le=64)
    autothrottle: bool = True
    timeout: float = Field(default=30.0, gt=0, le=MAX_SECONDS)


class Site(_Strict):
    name: str
    region: str = ""
    url: str
    feeds: list[str] = []
    sitemaps: list[str] = []
    listings: list[str] = []
    allowed_domains: list[str] = []
    article_pattern: str | None = None
    schedule: Schedule = Schedule(every=timedelta(minutes=30))
    politeness: Politeness = Politeness()
    allow_private_addresses: bool = False
    max_age: Duration = timedelta(days=3)
    max_articles: int = Field(default=500, ge=1, le=MAX_ARTICLES)
    # bounded discovery per crawl (crawler.crawl.frontier.SourceBudget): child sitemaps fetched,
    # and feed/sitemap entries read; what is left over is counted and read by a later crawl
    max_sitemaps: int = Field(default=50, ge=0, le=MAX_SITEMAPS)
    max_entries: int = Field(default=10_000, ge=1, le=MAX_ENTRIES)
    crawl_timeout: Duration = timedelta(minutes=20)
    # the language the site publishes in (ISO 639-1, "en", "fr"): an article whose page
    # states none is stored with this one
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    user_agent: str | None = None  # this site's User-Agent; the top-level one otherwise

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not _SITE_NAME.match(value):
            raise ValueError("must be lowercase letters, digits and dashes, e.g. calgary-herald")
        return value

    @field_validator("url", "feeds", "sitemaps", "listings")
    @classmethod
    def _http_urls(cls, value: Any) -> Any:
        return _checked_http_urls(value)

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if not domain.strip():
                raise ValueError("an empty domain is refused (it would allow no site, or any)")
            if any(c in domain for c in "/@ \t") or "://" in domain:
                raise ValueError(f"not a domain: {domain!r} (give a host, e.g. example.com)")
        return value

    @field_validator("article_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @model_validator(mode="after")
    def _has_sources(self) -> Site:
        if not (self.feeds or self.sitemaps or self.listings):
            raise ValueError("a site needs at least one of feeds, sitemaps or listings")
        return self

    @property
    def domains(self) -> list[str]:
        """allowed_domains, or the host of `url` when none are given."""
        if self.allowed_domains:
            return list(self.allowed_domains)
        from urllib.parse import urlsplit

        return [urlsplit(self.url).netloc.lower()]


class ScrapydSettings(_Strict):
    """The Scrapyd nodes the service sends crawls to (credentials: SCRAPYD_USERNAME and
    SCRAPYD_PASSWORD in the environment, never in this file)."""

    nodes: list[str] = Field(min_length=1)
    project: str = "newscrawl"
    poll: Duration = timedelta(seconds=5)  # how often a running job is looked at (listjobs.json)
    node_down_after: Duration = timedelta(
        seconds=30
    )  # a node silent this long mid-job: its run is interrupted
    discover: bool = False  # one node per address of each host name (docker compose --scale)

    @field_validator("nodes")
    @classmethod
    def _node_urls(cls, value: list[str]) -> list[str]:
        return list(_checked_http_urls(value))


class ServiceSettings(_Strict):
    """How the background service runs each crawl: `local` child processes (the default) or
    jobs on Scrapyd nodes (crawler.service.dispatch)."""

    dispatcher: Literal["local", "scrapyd"] = "local"
    scrapyd: ScrapydSettings | None = None

    @model_validator(mode="after")
    def _nodes_for_scrapyd(self) -> ServiceSettings:
        if self.dispatcher == "scrapyd" and self.scrapyd is None:
            raise ValueError("dispatcher 'scrapyd' needs a 'scrapyd' section with its nodes")
        return self


class NotifySettings(_Strict):
    """Change alerts (crawler.service.notify): where they go and which changes make one.

    `targets` are Apprise URLs (`json://host:port/path` posts JSON to a webhook;
    `mailto://`, `slack://`, `matrix://`, ...). An alert is sent for each new version of
    an article of `sites` (all when empty) whose change has one of `kinds` (every edit
    when empty; `first` for new articles), and once when a story reaches
    `story_sites` sites. A delivery that fails is tried again `attempts` times, waiting
    `backoff`, then twice as long each time."""

    targets: list[str] = []
    sites: list[str] = []
    kinds: list[
        Literal[
            "first", "headline", "lede", "body_added", "body_removed", "correction", "body_edited"
        ]
    ] = []
    story_sites: int | None = Field(default=None, ge=2)
    attempts: int = Field(default=8, ge=1)
    backoff: Duration = timedelta(seconds=30)

    @field_validator("targets")
    @classmethod
    def _apprise_urls(cls, value: list[str]) -> list[str]:
        if value:
            import apprise

            for url in value:
                if apprise.Apprise.instantiate(url) is None:
                    raise ValueError(f"not an Apprise URL it can send to: {url!r}")
        return value


class Config(_Strict):
    sites: list[Site]
    service: ServiceSettings = ServiceSettings()
    notify: NotifySettings = NotifySettings()  # change alerts (crawler.service.notify)
    user_agent: str = DEFAULT_USER_AGENT
    # keys every site gets unless it sets its own (merged into each site entry, nested
    # mappings such as politeness key by key); see parse_config
    defaults: dict[str, Any] = {}

    def user_agent_of(self, site: Site) -> str:
        return site.user_agent or self.user_agent

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for site in self.sites:
            if site.name in seen:
                raise ValueError(f"site name {site.name!r} is used twice")
            seen.add(site.name)
        return self

    def site(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        raise ConfigError(f"no site named {name!r} (known: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [site.name for site in self.sites]


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config, else $NEWSCRAWL_CONFIG, else config/sites.yaml."""
    return Path(explicit or env.get("NEWSCRAWL_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file; raise ConfigError with file:line, site and field."""
    file = config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config: {exc.strerror or exc}") from exc
    return parse_config(text, str(file))


def parse_config(text: str, source: str = "<config>", now: datetime | None = None) -> Config:
    """Validate a config's text; `now` is when cron schedules must still fire after."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    _refuse_duplicate_keys(root, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'sites' list at the top")
    _refuse_duplicate_names(root, source)
    if "mongodb_uri" in data or any(
        isinstance(s, dict) and "mongodb_uri" in s for s in data.get("sites") or []
    ):
        raise ConfigError(
            f"{source}: MongoDB credentials do not belong in the config file; "
            "set the MONGODB_URI environment variable"
        )
    data = _with_defaults(data, source, root)
    try:
        return Config.model_validate(data, context={"now": now or datetime.now(timezone.utc)})
    except ValidationError as exc:
        raise ConfigError(_describe_errors(exc, data, root, source)) from None


def _refuse_duplicate_keys(
    node: Any, source: str, path: tuple[str, ...] = (), site: str = ""
) -> None:
    """A key given twice in one mapping is an error naming both lines (and the site and
    field): YAML loaders keep the last one silently, so the other would be ignored."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, source, path, site or _entry_name(item, path))
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[str, int] = {}
    for key, value in node.value:
        name, line = getattr(key, "value", None), key.start_mark.line + 1
        if not isinstance(name, str):
            continue
        if name in first:
            inner = path[1:] if site else path  # within a site: its own keys
            field = ".".join((*inner, name))
            where = f"site {site!r}, field {field!r}" if site else f"field {field!r}"
            raise ConfigError(
                f"{source}:{line}: {where}: duplicate key {name!r}, first given at line "
                f"{first[name]} (YAML would keep only the last); give each key once"
            )
        first[name] = line
        _refuse_duplicate_keys(value, source, (*path, name), site)


def _refuse_duplicate_names(root: Any, source: str) -> None:
    """Two sites of one name are an error at the second one's `name` line, naming the
    first's. Config's own check (_unique_names) sees only the values, not the lines; it
    stays for configs made in code."""
    sites = next(
        (v for k, v in getattr(root, "value", []) if getattr(k, "value", None) == "sites"), None
    )
    if not isinstance(sites, yaml.SequenceNode):
        return
    first: dict[str, int] = {}
    for item in sites.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        for key, value in item.value:
            if getattr(key, "value", None) != "name" or not isinstance(value, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if value.value in first:
                raise ConfigError(
                    f"{source}:{line}: site {value.value!r}: the site name is used twice, "
                    f"first at line {first[value.value]}; give each site its own name"
                )
            first[value.value] = line


def _entry_name(item: Any, path: tuple[str, ...]) -> str:
    """The `name` of an entry of the top-level `sites` list, or ''."""
    if path != ("sites",) or not isinstance(item, yaml.MappingNode):
        return ""
    for key, value in item.value:
        if getattr(key, "value", None) == "name" and isinstance(value, yaml.ScalarNode):
            return str(value.value)
    return "?"


def _with_defaults(data: dict[str, Any], source: str, root: Any) -> dict[str, Any]:
    """Each site entry with the top-level `defaults` under it: a site's own keys win, and
    a nested mapping (politeness, schedule) is merged key by key."""
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        line = _line_of(root, ["defaults"])
        raise ConfigError(f"{source}:{line}: field 'defaults': expected a mapping of site keys")
    unknown = sorted(set(defaults) - set(Site.model_fields) | ({"name", "url"} & set(defaults)))
    if unknown:
        line = _line_of(root, ["defaults", unknown[0]])
        raise ConfigError(
            f"{source}:{line}: field 'defaults.{unknown[0]}': not a key a site can inherit "
            "(name and url are each site's own; see config/sites.yaml for the keys)"
        )
    sites = data.get("sites")
    if not defaults or not isinstance(sites, list):
        return data
    merged = [_merge(defaults, site) if isinstance(site, dict) else site for site in sites]
    return {**data, "sites": merged}


def _merge(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
    return out


def _describe_errors(exc: ValidationError, data: dict[str, Any], root: Any, source: str) -> str:
    lines = []
    for error in exc.errors():
        loc: Sequence[Any] = error["loc"]
        where = _site_label(data, loc)
        field = ".".join(str(part) for part in loc[2:] if not str(part).startswith("function-"))
        line = _line_of(root, loc)
        position = f"{source}:{line}" if line else source
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see config/sites.yaml for the keys)"
        subject = f"site {where}, field {field!r}" if where and field else where or "top level"
        if not where and loc:
            subject = f"field {'.'.join(str(p) for p in loc)!r}"
        lines.append(f"{position}: {subject}: {message}")
    return "invalid config:\n  " + "\n  ".join(lines)


def _site_label(data: dict[str, Any], loc: Sequence[Any]) -> str:
    if len(loc) >= 2 and loc[0] == "sites" and isinstance(loc[1], int):
        sites = data.get("sites") or []
        entry = sites[loc[1]] if loc[1] < len(sites) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        return repr(name) if name else f"#{loc[1] + 1}"
    return ""


def _line_of(node: Any, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the deepest YAML node on the error's path."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == part), None)
            if match is None:
                break
            best = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
    return best
