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
import socket
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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 (RFC 6052's well-known prefix): the last 32 bits are the IPv4 address reached
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215's local-use NAT64 prefix: whatever it translates to is a local choice
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
# the characters of the IPv4 spellings a resolver accepts (inet_aton): decimal, 0x hex, octal
_IPV4_SPELLING = re.compile(r"^[0-9a-fx.]+$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def is_private_address(address: str | IPAddress) -> bool:
    """True for every address that is not a public unicast one: private, loopback,
    link-local (169.254.169.254, the cloud metadata address), shared address space
    (100.64.0.0/10, 100.100.100.200), unique-local IPv6 (fd00:ec2::254), reserved,
    multicast, unspecified (0.0.0.0), and whatever else `ipaddress` does not call
    global. An IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64's
    64:ff9b::/96, 6to4) is judged by the IPv4 address it reaches.

    Refusing these stops a hostile feed from pointing the crawler at the
    machine's own services or the local network (SSRF).
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:  # fe80::1%eth0: the zone does not change what the address is
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _not_public(embedded)
        if ip in _NAT64_LOCAL:
            return True
    return _not_public(ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _not_public(ip: IPAddress) -> bool:
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return bool(
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or site_local
    )


class NotAnAddress(ValueError):
    """A host that ends in a number, so no resolver treats it as a DNS name, yet is no
    IPv4 address either (e.g. 1.2.3.4.5, 08.1.1.1)."""


def host_address(host: str) -> IPAddress | None:
    """The address a URL's host names without DNS, or None for a DNS name.

    Spelled as resolvers and browsers read it: besides dotted quads, IPv4 in decimal
    (2130706433), hex (0x7f000001), octal (0177.0.0.1), shortened (127.1) or mixed,
    with a trailing dot, in full-width digits, and IPv6 in brackets with a zone.
    The rule for which hosts are addresses is the URL standard's (WHATWG, "ends in
    a number"): a host whose last label is numeric is an IPv4 address, since no DNS
    name ends in one (top-level domains are not numeric), so `1.2.3` is 1.2.0.3 while
    `news.1a.example` stays a name. Hand-written around `socket.inet_aton` (the C
    library's parser, which getaddrinfo uses) because no library installed here
    exposes the WHATWG host parser.
    """
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # what Scrapy sends: １２７．０．０．１
        except UnicodeError:
            return None
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as exc:
            raise NotAnAddress(f"{host!r} is not an IPv6 address") from exc
    name = host[:-1] if host.endswith(".") else host
    if not _NUMERIC_LABEL.match(name.rpartition(".")[2]):
        return None
    try:
        if not _IPV4_SPELLING.match(name):
            raise OSError(name)
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError as exc:
        raise NotAnAddress(f"{host!r} ends in a number but is not an IPv4 address") from exc


def private_host_literal(host: str) -> str | None:
    """Why the host is refused before any connection, or None when it is a DNS name (judged
    later by the address actually connected to) or a public address."""
    bare = host.strip().strip("[]").lower().rstrip(".")
    if bare == "localhost" or bare.endswith(".localhost"):
        return f"{host} is a loopback name"
    try:
        address = host_address(host)
    except NotAnAddress as exc:
        return str(exc)
    if address is None or not is_private_address(address):
        return None
    spelled = host.strip("[]").lower()
    named = "" if spelled == str(address) else f" ({address})"
    return f"{host}{named} is a private, loopback or other non-public address"


_TRAILING_ID = re.compile(r"(?:^|[-_.])(\d+)$")


def stable_key(url: str) -> str | None:
    """Host, directory and the trailing number of the last path segment, if it has one:
    what a CMS keeps when it rewrites an article's slug (crawler.pipeline.identity)."""
    path = urlsplit(url).path.rstrip("/")
    directory, _, last = path.rpartition("/")
    found = _TRAILING_ID.search(last)
    if not found:
        return None
    return f"{host_port(url)}{directory}/#{found.group(1)}"
