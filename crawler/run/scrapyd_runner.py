"""Scrapyd's runner on a newscrawl node (`runner = crawler.run.scrapyd_runner` in
config/scrapyd.conf): every job and every spider listing of Scrapyd starts here.

Scrapyd's own runner (scrapyd.runner) finds a project's code and settings in the
egg deployed for it. A node set up as shipped has no egg: the package is installed
(the Docker image, or `pip install newscrawl[node]`), and Scrapyd 1.6 does not hand
its `[settings]` section to `scrapy list`, so `schedule.json` answered "spider 'news'
not found". And a node that once received an egg would list and announce that egg
long after the installed package was upgraded. So this runner:

- refuses Scrapy settings a job may not set (crawler.run.jobargs.refused_settings),
  before Scrapy starts, since LOG_FILE or FEEDS take effect as it starts;
- runs the installed package with crawler.settings, ignoring deployed eggs, unless
  the node takes eggs on purpose (NEWSCRAWL_NODE_EGGS=1); a node that does not
  refuses an egg when it is deployed (`addversion.json` answers with the reason);
- on a node that takes eggs, runs the egg ahead of the installed package (Scrapyd's
  runner only appends an egg to sys.path, behind an installed package of the same
  name, so the egg's code would not run at all).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from crawler import env
from crawler.run import jobargs

EGGS_ENV = "NEWSCRAWL_NODE_EGGS"
SETTINGS_MODULE = "crawler.settings"
OWN_PACKAGES = ("crawler", "spiders")


def eggs_allowed(environ: Mapping[str, str] | None = None) -> bool:
    return env.flag(EGGS_ENV, environ)


def refusal(argv: list[str], environ: Mapping[str, str] | None = None) -> str | None:
    """Why this node will not run the command Scrapyd asks for, or None."""
    from scrapyd.config import Config

    options = Config()
    # a job is `crawl SPIDER -s ... -a ...`; Scrapyd's own `list -s LOG_STDOUT=0` is no job
    names = jobargs.settings_in(argv) if argv[:1] == ["crawl"] else []
    scrapyd_options = {
        option: options.get(option, "") for option in jobargs.SCRAPYD_OWN_SETTINGS.values()
    }
    refused = jobargs.refused_settings(names, scrapyd_options)
    if refused:
        allowed = ", ".join(sorted(jobargs.JOB_SETTINGS))
        return f"job setting(s) {', '.join(refused)} not accepted by this node (only {allowed})"
    egg = env.get("SCRAPYD_EGG_VERSION", environ)
    if egg and not eggs_allowed(environ):
        return (
            f"this node runs the installed newscrawl package, not eggs (version "
            f"{egg} was asked for); set {EGGS_ENV}=1 on a node "
            "that should run deployed eggs"
        )
    return None


def run_installed() -> None:
    env.export("SCRAPY_SETTINGS_MODULE", SETTINGS_MODULE)
    from scrapy.cmdline import execute

    execute()


def run_egg() -> None:
    """Scrapyd's runner, with the egg (if one is deployed) ahead of the installed package."""
    from scrapyd.runner import project_environment

    env.export("SCRAPY_SETTINGS_MODULE", env.get("SCRAPY_SETTINGS_MODULE") or SETTINGS_MODULE)
    before = list(sys.path)
    with project_environment(env.get("SCRAPY_PROJECT") or ""):
        added = [entry for entry in sys.path if entry not in before]
        if added:
            sys.path[:] = added + before
            for name in list(sys.modules):  # this module's package was imported from the install
                if name.split(".", 1)[0] in OWN_PACKAGES:
                    del sys.modules[name]
        from scrapy.cmdline import execute

        execute()


def main() -> None:
    refused = refusal(sys.argv[1:])
    if refused:
        sys.stderr.write(f"newscrawl node: {refused}\n")
        sys.exit(2)
    if eggs_allowed():
        run_egg()
    else:
        run_installed()


if __name__ == "__main__":
    main()
