"""Every environment variable newscrawl reads, read through this module and nowhere else.

Our own variables share one prefix, NEWSCRAWL_. The older CRAWLER_ spellings
(CRAWLER_CONFIG, CRAWLER_DB, CRAWLER_DATA, CRAWLER_JOURNAL, CRAWLER_MONGO_TIMEOUT_MS) are
still read when the new name is unset, with a DeprecationWarning (and a log line, since
Python hides DeprecationWarnings outside __main__), so a deployment's .env keeps working.
Variables other tools define keep their spelling: MONGODB_URI, MONGODB_USERNAME and
MONGODB_PASSWORD (MongoDB's convention), SCRAPYD_USERNAME and SCRAPYD_PASSWORD, COLUMNS.

`env` parameters take a mapping (a test's, or a job's) instead of the process's own.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, MutableMapping

log = logging.getLogger(__name__)

RENAMED = {  # new name -> the name it had before
    "NEWSCRAWL_CONFIG": "CRAWLER_CONFIG",
    "NEWSCRAWL_DB": "CRAWLER_DB",
    "NEWSCRAWL_DATA": "CRAWLER_DATA",
    "NEWSCRAWL_JOURNAL": "CRAWLER_JOURNAL",
    "NEWSCRAWL_MONGO_TIMEOUT_MS": "CRAWLER_MONGO_TIMEOUT_MS",
}
_warned: set[str] = set()


def get(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The variable's value (an empty one counts as unset), or its old name's, with a
    DeprecationWarning; None when neither is set."""
    env = os.environ if env is None else env
    value = env.get(name)
    if value:
        return value
    old = RENAMED.get(name)
    if old and env.get(old):
        if old not in _warned:
            _warned.add(old)
            log.warning("%s is deprecated: set %s instead", old, name)
        warnings.warn(f"{old} is deprecated: set {name} instead", DeprecationWarning, stacklevel=2)
        return env[old]
    return None


def flag(name: str, env: Mapping[str, str] | None = None) -> bool:
    """A yes/no variable: 1, true, yes or on (any case) is yes."""
    return (get(name, env) or "").strip().lower() in ("1", "true", "yes", "on")


def export(name: str, value: str | None, env: MutableMapping[str, str] | None = None) -> None:
    """Set (or, with None, remove) a variable for this process and the children it starts."""
    env = os.environ if env is None else env
    if value is None:
        env.pop(name, None)
    else:
        env[name] = value


def child_environment(
    decided: Mapping[str, str | None], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a child process newscrawl starts (a crawl of the service, a round
    of the demo): this process's environment, with the values the parent decided for the
    child (`decided`; None removes the variable) set over it.

    Why this process's environment and not an allow-list of a few names: the child is a
    Python process running Scrapy, pymongo and the rest, which read variables newscrawl
    does not know (a proxy, a CA bundle, PYTHONPATH of an installed copy, the locale,
    TMPDIR, MONGODB_USERNAME and MONGODB_PASSWORD, SCRAPY_*): an allow-list would drop
    a deployment's settings without a word. Why the decided values on top: they are what
    the parent resolved and uses itself (the store it started or attached to, the data
    and journal folders made absolute), so the child does the same whatever the inherited
    environment says; the parent passes them here rather than exporting them into its
    own environment.
    """
    child = dict(os.environ if base is None else base)
    for name, value in decided.items():
        if value is None:
            child.pop(name, None)
            child.pop(RENAMED.get(name, ""), None)
        else:
            child[name] = value
    return child


def mongodb_uses_tls(env: Mapping[str, str] | None = None) -> bool:
    """Whether MONGODB_URI asks for TLS: a `mongodb+srv://` URI (TLS unless turned off) or
    any `tls...`/`ssl...` option (tlsCAFile and the like imply TLS; even `tls=false`
    counts, to be safe). No URI is the embedded store, on loopback without TLS."""
    uri = get("MONGODB_URI", env) or ""
    scheme, _, rest = uri.partition("://")
    if scheme.strip().lower() == "mongodb+srv":
        return True
    options = rest.partition("?")[2].replace(";", "&").split("&")
    return any(option.strip().lower().startswith(("tls", "ssl")) for option in options)


PYMONGO_PYOPENSSL = "pymongo.pyopenssl_context"


def skip_unused_mongodb_tls(env: Mapping[str, str] | None = None) -> None:
    """Keep pymongo from loading pyOpenSSL when MONGODB_URI asks for no TLS.

    Why: pymongo imports its pyOpenSSL context whenever pyOpenSSL is installed (Scrapy
    requires it), and with it cryptography's x509, service_identity and requests, for OCSP
    on TLS connections: about 0.1 CPU-s in every newscrawl process (each crawl, each
    command), for connections that use no TLS. Marking the module absent before pymongo
    loads makes pymongo take its documented path for a machine without pyOpenSSL (the
    standard library's ssl, which a TLS connection would still use, without OCSP). With a
    TLS URI nothing changes. Called by `crawler/__init__.py`, before anything imports
    pymongo; it does nothing once pymongo is loaded.
    """
    import sys

    if "pymongo" not in sys.modules and not mongodb_uses_tls(env):
        sys.modules.setdefault(PYMONGO_PYOPENSSL, None)  # type: ignore[arg-type]
