"""The private-address guard refuses every spelling of a non-public address before any
connection (crawler.urls.private_host_literal, crawler.crawl.middleware.SiteGuardMiddleware).

Resolvers and browsers read far more than dotted quads as IPv4 (inet_aton: decimal,
hex, octal, shortened), and IPv6 can carry an IPv4 address (mapped, NAT64, 6to4): a
guard that only knows `127.0.0.1` lets a feed point the crawler at the machine's own
services. Unit tests per form, one real crawl whose sources are such spellings of the
local network's own loopback server, and a real Scrapy crawl whose feed links to them:
not one request may reach the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from html import escape
from http.server import ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import yaml
from scrapy import Request

from crawler import urls
from crawler.config import Site
from crawler.crawl.middleware import OffsiteRefused, PrivateAddressRefused, SiteGuardMiddleware
from crawler.localnet import LocalNetwork
from crawler.service.httpd import QuietHandler
from tests.helpers import REPO, newscrawl

NON_PUBLIC = [
    ("127.0.0.1", "loopback"),
    ("2130706433", "decimal"),
    ("0x7f000001", "hex"),
    ("0X7F000001", "hex, capitals"),
    ("0177.0.0.1", "octal"),
    ("017700000001", "octal, one number"),
    ("127.1", "shortened"),
    ("0x7f.1", "shortened, hex"),
    ("127.0.0.1.", "trailing dot"),
    ("１２７．０．０．１", "full-width digits"),
    ("0.0.0.0", "unspecified"),
    ("0", "unspecified, one number"),
    ("10.0.0.1", "private"),
    ("192.168.1.1", "private"),
    ("172.16.0.1", "private"),
    ("100.64.0.1", "shared address space"),
    ("100.100.100.200", "metadata (Alibaba), shared address space"),
    ("169.254.169.254", "metadata, link-local"),
    ("192.0.2.1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("[::1]", "IPv6 loopback"),
    ("[::]", "IPv6 unspecified"),
    ("[::ffff:127.0.0.1]", "IPv4-mapped"),
    ("[::ffff:7f00:1]", "IPv4-mapped, hex"),
    ("[::ffff:169.254.169.254]", "IPv4-mapped metadata"),
    ("[64:ff9b::7f00:1]", "NAT64 of loopback"),
    ("[64:ff9b::a9fe:a9fe]", "NAT64 of metadata"),
    ("[64:ff9b:1::1]", "local-use NAT64"),
    ("[2002:7f00:1::1]", "6to4 of loopback"),
    ("[::127.0.0.1]", "IPv4-compatible"),
    ("[fd00:ec2::254]", "metadata (AWS), unique-local"),
    ("[fc00::1]", "unique-local"),
    ("[fe80::1]", "link-local"),
    ("[fe80::1%25eth0]", "link-local with a zone"),
    ("[fec0::1]", "site-local"),
    ("[ff02::1]", "IPv6 multicast"),
    ("[2001:db8::1]", "IPv6 documentation"),
    ("localhost", "loopback name"),
    ("news.localhost", "loopback name"),
    ("localhost.", "loopback name, trailing dot"),
]

PUBLIC = [
    ("93.184.216.34", "public IPv4"),
    ("1.2.3", "public IPv4, shortened (1.2.0.3)"),
    ("[2606:2800:220:1::1]", "public IPv6"),
    ("[::ffff:93.184.216.34]", "IPv4-mapped public"),
    ("[64:ff9b::5db8:d822]", "NAT64 of a public address (a DNS64 network)"),
]

NAMES = ["calgaryherald.com", "news.1a.example", "0x7f.example", "127.0.0.1.nip.io"]

NOT_ADDRESSES = ["1.2.3.4.5", "08.1.1.1", "256.0.0.1.", "news.99", "0x1g.1"]


@pytest.mark.parametrize(("host", "form"), NON_PUBLIC, ids=[f for _, f in NON_PUBLIC])
def test_every_spelling_of_a_non_public_address_is_refused(host, form):
    refusal = urls.private_host_literal(host)
    assert refusal is not None and host in refusal


@pytest.mark.parametrize(("host", "form"), PUBLIC, ids=[f for _, f in PUBLIC])
def test_public_addresses_pass(host, form):
    assert urls.private_host_literal(host) is None


@pytest.mark.parametrize("host", NAMES)
def test_host_names_are_left_to_the_address_connected_to(host):
    """A DNS name is judged by the peer address of the response (the response guard)."""
    assert urls.host_address(host) is None
    assert urls.private_host_literal(host) is None


@pytest.mark.parametrize("host", NOT_ADDRESSES)
def test_a_host_ending_in_a_number_that_is_no_address_is_refused(host):
    """The URL standard fails such hosts; a resolver might try them as names."""
    with pytest.raises(urls.NotAnAddress):
        urls.host_address(host)
    assert "not an IPv4 address" in (urls.private_host_literal(host) or "")


def test_spellings_name_the_address_they_reach():
    assert str(urls.host_address("2130706433")) == "127.0.0.1"
    assert str(urls.host_address("0177.0.0.1")) == "127.0.0.1"
    assert str(urls.host_address("1.2.3")) == "1.2.0.3"
    assert "(127.0.0.1)" in (urls.private_host_literal("0x7f000001") or "")


def _site(allow: bool = False) -> Site:
    return Site(
        name="example",
        url="https://example.test/",
        feeds=["https://example.test/feed"],
        allowed_domains=["example.test", *[h.strip("[]") for h, _ in NON_PUBLIC[:12]]],
        allow_private_addresses=allow,
    )


@pytest.mark.parametrize(("host", "form"), NON_PUBLIC[:12], ids=[f for _, f in NON_PUBLIC[:12]])
def test_the_site_guard_refuses_the_request_scrapy_would_send(host, form):
    """Through Scrapy's own Request (which re-encodes the URL: full-width digits become
    ASCII), refused unless the site allows private addresses."""
    request = Request(f"http://{host}/feed.xml")
    crawler = SimpleNamespace(spider=SimpleNamespace(site=_site()))
    guard = SiteGuardMiddleware(crawler)
    with pytest.raises(PrivateAddressRefused, match="allow_private_addresses"):
        guard.process_request(request)
    crawler.spider.site = _site(allow=True)
    assert guard.process_request(request) is None


def test_the_site_guard_still_refuses_offsite_before_private():
    guard = SiteGuardMiddleware(SimpleNamespace(spider=SimpleNamespace(site=_site())))
    with pytest.raises(OffsiteRefused):
        guard.process_request(Request("http://3232235777/feed.xml"))  # 192.168.1.1


# -- one real crawl ----------------------------------------------------------------------

# spellings that reach the loopback server the test runs (never an address off 127/8)
LOOPBACK_SPELLINGS = [
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "0x7f.0.0.1",
    "127.0.0.1.",
    "0.0.0.0",
    "[::ffff:127.0.0.1]",
    "127.0.0.1",
]


def test_a_crawl_whose_sources_spell_loopback_every_way_connects_to_none(tmp_path, db, crawl_env):
    with LocalNetwork(seed=5) as net:
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        data = net.config()
        site = next(s for s in data["sites"] if s["name"] == "valley-gazette")
        port = urlsplit(net.base("valley-gazette")).port
        sources = [f"http://{host}:{port}/feed.xml" for host in LOOPBACK_SPELLINGS]
        site.update(
            feeds=sources,
            sitemaps=[],
            listings=[],
            allowed_domains=[f"{h.strip('[]')}:{port}" for h in LOOPBACK_SPELLINGS],
            allow_private_addresses=False,
        )
        data["sites"] = [site]
        config = tmp_path / "spellings.yaml"
        config.write_text(yaml.safe_dump(data))
        net.traffic.reset()
        newscrawl("crawl", "valley-gazette", "--config", str(config), env=crawl_env)
        assert net.traffic.totals()[0] == 0  # not even robots.txt reached the server
    fetches = {f["url"]: f for f in db.fetches.find({"site": "valley-gazette"})}
    refused = {url for url, f in fetches.items() if "private" in f.get("detail", "")}
    expected = {Request(url).url for url in sources}
    assert refused == expected, {u: f.get("detail") for u, f in fetches.items()}


class _FeedServer:
    """A loopback site with a feed (set `feed`); it counts every request it answers."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.feed = b""
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.paths.append(self.path)
                if self.path == "/feed.xml":
                    self.send_body(200, "application/rss+xml", outer.feed)
                else:
                    self.send_body(200, "text/html", b"<html><body>reached</body></html>")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _rss(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{i}</title><link>{escape(link)}</link></item>"
        for i, link in enumerate(links)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()


def test_a_feed_linking_to_every_spelling_of_loopback_gets_none_of_them_fetched():
    """A real Scrapy crawl with crawler.settings' middlewares: the feed (fetched exempt from
    the guard, as only this probe does) links to loopback spelled every way, each host in
    allowed_domains; not one link reaches the server, each is refused as a private address."""
    server = _FeedServer()
    port = server.port
    server.feed = _rss([f"http://{h}:{port}/article-{i}" for i, h in enumerate(LOOPBACK_SPELLINGS)])
    try:
        result = subprocess.run(
            [
                sys.executable,
                str(REPO / "tests" / "data" / "guard_probe.py"),
                f"http://127.0.0.1:{port}/feed.xml",
                *[f"{h.strip('[]')}:{port}" for h in LOOPBACK_SPELLINGS],
            ],
            cwd=REPO,
            env=dict(os.environ, SCRAPY_SETTINGS_MODULE="crawler.settings"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.close()
    ends = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert server.paths == ["/feed.xml"], server.paths  # no article, no robots.txt
    assert len(ends) == len(LOOPBACK_SPELLINGS), result.stderr[-3000:]
    assert {e["outcome"] for e in ends} == {"PrivateAddressRefused"}, ends
    assert all("allow_private_addresses" in e["detail"] for e in ends)
