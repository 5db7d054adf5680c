"""What a Scrapyd job may ask of a crawl node: nothing that widens a site's permissions.

Anyone who can reach a node's `schedule.json` chooses a job's arguments. The node
therefore checks them itself, whatever the caller:

- only the arguments the dispatcher sends (crawler.service.dispatch) are accepted; Scrapy
  would otherwise set any other one as an attribute of the spider;
- `config=` names a file in the node's own config folder (NEWSCRAWL_CONFIG_DIR,
  else the folder of NEWSCRAWL_CONFIG, else the folder Scrapyd runs in: `config/`);
- a site that allows private addresses, sent in the job's `config_text`, needs the
  node's own opt-in (NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES=1): a caller could otherwise
  point the node's crawls at its own network;
- Scrapy settings (Scrapyd's `setting=`) are refused but for the few the dispatcher
  sends and those Scrapyd sets itself (checked by crawler.run.scrapyd_runner before
  Scrapy starts: LOG_FILE, FEEDS or JOBDIR would write files where the caller says).

A crawl started by hand (`newscrawl crawl`, `scrapy crawl`) is its user's own: the
checks apply to Scrapyd jobs, which Scrapyd always gives a `_job` argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from crawler import env
from crawler.config import Config, load_config, parse_config

# what crawler.service.dispatch sends, and what Scrapyd adds (_job always, _version when asked)
JOB_ARGUMENTS = frozenset({"site", "config", "config_text", "recheck", "trigger", "run_id"})
SCRAPYD_ARGUMENTS = frozenset({"_job", "_version"})
# arguments only code in the spider's own process passes (crawler.run.runner): never from a job
IN_PROCESS_ARGUMENTS: dict[str, Any] = {"clock": None, "extraction_pool": None}
JOB_SETTINGS = frozenset({"CLOSESPIDER_TIMEOUT"})
# settings Scrapyd sets itself when the option is configured (its value replaces the caller's)
SCRAPYD_OWN_SETTINGS = {"LOG_FILE": "logs_dir", "FEEDS": "items_dir", "JOBDIR": "jobs_dir"}
ALLOW_PRIVATE_ENV = "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES"
CONFIG_DIR_ENV = "NEWSCRAWL_CONFIG_DIR"


class JobRefused(ValueError):
    """A Scrapyd job asked for something the node does not allow; the message says what."""


def is_job(arguments: Mapping[str, Any]) -> bool:
    return "_job" in arguments


def job_config(
    site: str,
    config: str | None,
    config_text: str | None,
    extra: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The configuration a spider runs with, read from the job's text or a file, once the
    job's arguments passed the node's checks. `extra` holds the spider's arguments other
    than these (Scrapyd's `_job` among them, and IN_PROCESS_ARGUMENTS)."""
    if not is_job(extra):
        if config_text:
            return parse_config(config_text, f"<config of the job for {site}>")
        return load_config(config)
    check_arguments(extra)
    if config_text:
        settings = parse_config(config_text, f"<config of the job for {site}>")
        check_private_addresses(settings, site, environ)
        return settings
    return load_config(check_config_path(config, node_config_dir(environ)) if config else None)


def check_arguments(extra: Mapping[str, Any]) -> None:
    unknown = sorted(
        name
        for name, value in extra.items()
        if name not in SCRAPYD_ARGUMENTS
        and not (name in IN_PROCESS_ARGUMENTS and value == IN_PROCESS_ARGUMENTS[name])
    )
    if unknown:
        accepted = ", ".join(sorted(JOB_ARGUMENTS))
        raise JobRefused(f"job argument(s) {', '.join(unknown)} not accepted (only {accepted})")


def node_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    folder = env.get(CONFIG_DIR_ENV, environ)
    if folder:
        return Path(folder)
    config = env.get("NEWSCRAWL_CONFIG", environ)
    if config:
        return Path(config).parent
    return Path.cwd()


def check_config_path(config: str, folder: Path) -> Path:
    """The file a job's `config=` names, which must be inside the node's config folder
    (after resolving `..` and symbolic links; a relative path is taken from the folder),
    so a caller cannot make the node read any YAML file."""
    path = Path(config)
    resolved = (path if path.is_absolute() else folder / path).resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise JobRefused(
            f"config={config!r} is outside this node's config folder {folder} "
            f"(set {CONFIG_DIR_ENV} to change the folder)"
        )
    return resolved


def check_private_addresses(
    settings: Config, site: str, environ: Mapping[str, str] | None = None
) -> None:
    if not settings.site(site).allow_private_addresses:
        return
    if env.flag(ALLOW_PRIVATE_ENV, environ):
        return
    raise JobRefused(
        f"site {site}: the job sets allow_private_addresses, which this node does not "
        f"allow for jobs (set {ALLOW_PRIVATE_ENV}=1 on a node that crawls a local network)"
    )


# -- settings, checked by crawler.run.scrapyd_runner before Scrapy starts -------------------


def settings_in(argv: Iterable[str]) -> list[str]:
    """The names of the settings on a Scrapy command line: `-s NAME=VALUE`, `-sNAME=VALUE`,
    `--set NAME=VALUE`, `--set=NAME=VALUE`."""
    names: list[str] = []
    args = list(argv)
    for i, arg in enumerate(args):
        if arg in ("-s", "--set"):
            pair = args[i + 1] if i + 1 < len(args) else ""
        elif arg.startswith("--set="):
            pair = arg[len("--set=") :]
        elif arg.startswith("-s") and not arg.startswith("--"):
            pair = arg[2:]
        else:
            continue
        names.append(pair.split("=", 1)[0])
    return names


def refused_settings(names: Iterable[str], scrapyd_options: Mapping[str, str]) -> list[str]:
    """The settings a job may not set: all but JOB_SETTINGS and those Scrapyd sets itself
    (LOG_FILE when its logs_dir is configured, and so on: Scrapyd's value replaces the
    caller's, so the caller's never reaches Scrapy)."""
    own = {name for name, option in SCRAPYD_OWN_SETTINGS.items() if scrapyd_options.get(option)}
    return sorted({name for name in names if name not in JOB_SETTINGS | own})
