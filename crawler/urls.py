"""URL identity: one key per article however it is linked.

Tracking parameters, AMP and mobile variants, fragments, http/https and a
leading www. all map to the same key, so history survives the ways a story is
shared. w3lib does the RFC work (percent-encoding, query sorting); the news-
specific rules are ours because no library knows them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|"
    r"_ga|_gl|ref|ref_src|ref_url|cmpid|ito|itm_\w+|ns_\w+|share|smid|sh|icid|ocid|"
    r"outputtype|amp|amp_js_v|usqp|_amp|mobile|m|src|source|at_medium|at_campaign|tpcc)$",
    re.IGNORECASE,
)
# Scrapy's URLLENGTH_LIMIT (and the longest URL old browsers take): a longer URL is
# skipped and recorded with this reason, not dropped by Scrapy's middleware in silence
MAX_URL_LENGTH = 2083
TOO_LONG = "url-too-long"
_AMP_PATH = re.compile(r"(/amp/?$|\.amp(?=\.html?$|$)|/amp(?=/))", re.IGNORECASE)
_MOBILE_HOST = re.compile(r"^(m|mobile|amp|www)\.", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """The preferred https URL: tracking parameters, fragment and AMP/mobile markers removed."""
    parts = urlsplit(url.strip())
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    host = (parts.hostname or "").lower()
    host = _MOBILE_HOST.sub("", host) if host.count(".") >= 2 else host
    if parts.port and not _default_port(parts.scheme, parts.port):
        host = f"{host}:{parts.port}"
    path = _AMP_PATH.sub("", parts.path) or "/"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not TRACKING_PARAMS.match(k)
        ]
    )
    return canonicalize_url(urlunsplit((scheme, host, path, query, "")))


def url_key(url: str) -> str:
    """Scheme-less identity of a URL: canonical host + path + query."""
    parts = urlsplit(canonical_url(url))
    path = parts.path.rstrip("/") or "/"
    return parts.netloc + path + (f"?{parts.query}" if parts.query else "")


def article_id(url: str) -> str:
    return hashlib.sha1(url_key(url).encode("utf-8")).hexdigest()


def _default_port(scheme: str, port: int) -> bool:
    return (scheme, port) in (("http", 80), ("https", 443))


def host_port(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def in_allowed_domains(url: str, domains: list[str]) -> bool:
    """Whether the URL's host is one of `domains` or a subdomain; an entry with a port
    (as for local test sites) must match host and port exactly."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for domain in domains:
        domain = domain.lower().strip()
        if ":" in domain:
            if f"{host}:{parts.port}" == domain:
                return True
        elif host == domain or host.endswith("." + domain):
            return True
    return False


def is_private_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for private, loopback, link-local, reserved, multicast or unspecified addresses.

    Refusing these stops a hostile feed from pointing the crawler at the
    machine's own services or the local network (SSRF).
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def is_private_host_literal(host: str) -> bool:
    """A host that names a private address without DNS: an IP literal, or localhost."""
    host = host.strip("[]").lower()
    return host == "localhost" or host.endswith(".localhost") or is_private_address(host)


_TRAILING_ID = re.compile(r"(?:^|[-_.])(\d+)$")


def stable_key(url: str) -> str | None:
    """Host, directory and the trailing number of the last path segment, if it has one:
    what a CMS keeps when it rewrites an article's slug (crawler.identity)."""
    path = urlsplit(url).path.rstrip("/")
    directory, _, last = path.rpartition("/")
    found = _TRAILING_ID.search(last)
    if not found:
        return None
    return f"{host_port(url)}{directory}/#{found.group(1)}"
