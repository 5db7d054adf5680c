"""HTTP servers for the local news network: one per site on 127.0.0.1, plus a hostile one.

Pages carry the chrome real sites have (a clock and a temperature in the
header, ads, a "most read" box, a comment count) which changes on every
request. Feeds, sitemaps and listings answer conditional GETs like a CDN does;
one feed lies about its validators. The hostile site serves every failure a
crawler meets in the wild.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler.localnet.faults import DECLARED_LENGTH, SHORT, apply_fault
from crawler.localnet.text import GLUE_PAIRS
from crawler.localnet.world import HOSTILE_SITE, Post, SiteContent, World

Response = tuple[int, dict[str, str], bytes]

LYING_FEED_SITE = "lakeside-herald"
HUGE_BODY_BYTES = 30 * 1024 * 1024
SLOW_SECONDS = 4.0


class Traffic:
    """Requests and bytes served, per site: what the re-crawl benchmark measures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.paths: list[tuple[str, str, int]] = []
        self.user_agents: Counter[tuple[str, str]] = Counter()  # (site, User-Agent) -> requests

    def record(self, site: str, path: str, status: int, size: int) -> None:
        with self.lock:
            self.requests[site] += 1
            self.bytes[site] += size
            self.statuses[status] += 1
            self.paths.append((site, path, status))

    def totals(self) -> tuple[int, int]:
        with self.lock:
            return sum(self.requests.values()), sum(self.bytes.values())

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes.clear()
            self.statuses.clear()
            self.paths.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (timeouts, size limits) are part of the test


class SiteServer:
    """Serves one site of the world; `handle(path, headers)` is plain and testable."""

    def __init__(self, world: World, content: SiteContent, traffic: Traffic):
        self.world = world
        self.content = content
        self.traffic = traffic
        self.base = ""
        self.requests = 0
        self._lock = threading.Lock()
        # a redesign: the body after the lede is rendered by a script, so an extractor finds
        # only the lede (what crawler.pipeline.drift must notice)
        self.redesigned = False
        # a round of non-article answers for every article (crawler.localnet.faults):
        # "wall", "error" or "cut"; None serves the articles
        self.fault: str | None = None

    # -- rendering ---------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str]) -> Response:
        now = self.world.clock.now()
        route = urlsplit(path).path
        if route == "/robots.txt":
            body = f"User-agent: *\nDisallow: /search\nSitemap: {self.base}/sitemap.xml\n"
            return 200, {"Content-Type": "text/plain"}, body.encode()
        if route in (
            "/feed.xml",
            "/atom.xml",
            "/sitemap.xml",
            "/sitemap-news.xml",
            "/sitemap-archive.xml.gz",
        ):
            return self._document(route, headers, now)
        if route in ("/news/", "/local/", "/"):
            return self._listing(route, headers, now)
        amp = route.endswith("/amp/")
        post = self.world.post(self.content.name, route[: -len("amp/")] if amp else route)
        moved = self.world.moved(self.content.name, route) if post is None else None
        if moved is not None:  # a rewritten slug: the old address redirects to the new one
            return 301, {"Location": self.base + moved.path, "Content-Type": "text/html"}, b""
        if post is None or post.published > now:
            return (
                404,
                {"Content-Type": "text/html"},
                b"<html><body><h1>Not found</h1></body></html>",
            )
        if self.fault:  # served whole whatever the request's validators say, as a wall is
            status, out, page = self._article(post, {}, now)
            if self.fault == SHORT:
                out[DECLARED_LENGTH] = str(len(page))
            return status, out, apply_fault(self.fault, page)
        return self._article(post, headers, now)

    def _document(self, route: str, headers: dict[str, str], now: datetime) -> Response:
        posts = [p for p in self.content.live_posts(now) if not p.old]
        newest = max((p.state(now)[2] for p in posts), default=self.world.clock.start)
        renderers: dict[str, Callable[[], tuple[str, bytes]]] = {
            "/feed.xml": lambda: ("application/rss+xml", self._rss(posts, now)),
            "/atom.xml": lambda: ("application/atom+xml", self._atom(posts, now)),
            "/sitemap.xml": lambda: ("application/xml", self._sitemap_index(newest)),
            "/sitemap-news.xml": lambda: ("application/xml", self._news_sitemap(posts, now)),
            "/sitemap-archive.xml.gz": lambda: ("application/gzip", self._archive_sitemap(now)),
        }
        content_type, body = renderers[route]()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        out = {"Content-Type": content_type}
        if route == "/feed.xml" and self.content.name == LYING_FEED_SITE:
            etag = '"static-v1"'  # a broken CDN: the ETag never changes
            out["ETag"] = etag
            if headers.get("if-none-match") == etag:
                return 304, out, b""
            return 200, out, body
        out.update({"ETag": etag, "Last-Modified": format_datetime(newest, usegmt=True)})
        if _not_modified(headers, etag, newest):
            return 304, out, b""
        return 200, out, body

    def _rss(self, posts: list[Post], now: datetime) -> bytes:
        items = []
        for post in posts[:30]:
            title, paras, modified = post.state(now)
            link = self._link(post, feed=True)
            items.append(
                f"<item><title>{_x(title)}</title><link>{_x(link)}</link>"
                f'<guid isPermaLink="false">{self.content.name}-{post.slug}</guid>'
                f"<pubDate>{format_datetime(post.published, usegmt=True)}</pubDate>"
                f"<atom:updated>{modified.isoformat()}</atom:updated>"
                f"<description>{_x(paras[0][:200])}</description>"
                f"<dc:creator>{_x(post.article.author)}</dc:creator></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>{_x(self.content.title)}</title><link>{self.base}/</link>"
            f"<description>News from {_x(self.content.region)}</description>"
            + "".join(items)
            + "</channel></rss>"
        ).encode("utf-8")

    def _atom(self, posts: list[Post], now: datetime) -> bytes:
        entries = []
        for post in posts[:30]:
            title, paras, modified = post.state(now)
            entries.append(
                f'<entry><title>{_x(title)}</title><link href="{_x(self._link(post))}"/>'
                f"<id>tag:{self.content.name},2026:{post.slug}</id>"
                f"<published>{post.published.isoformat()}</published>"
                f"<updated>{modified.isoformat()}</updated>"
                f"<author><name>{_x(post.article.author)}</name></author>"
                f"<summary>{_x(paras[0][:200])}</summary></entry>"
            )
        updated = max((p.state(now)[2] for p in posts), default=now)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{_x(self.content.title)}</title><id>{self.base}/</id>"
            f"<updated>{updated.isoformat()}</updated>" + "".join(entries) + "</feed>"
        ).encode("utf-8")

    def _sitemap_index(self, newest: datetime) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.base}/sitemap-news.xml</loc><lastmod>{newest.isoformat()}</lastmod></sitemap>"
            f"<sitemap><loc>{self.base}/sitemap-archive.xml.gz</loc>"
            f"<lastmod>{self.world.clock.start.isoformat()}</lastmod></sitemap>"
            "</sitemapindex>"
        ).encode()

    def _news_sitemap(self, posts: list[Post], now: datetime) -> bytes:
        urls = []
        for post in posts:
            title, _paras, modified = post.state(now)
            urls.append(
                f"<url><loc>{_x(self.base + post.path)}</loc><lastmod>{modified.isoformat()}</lastmod>"
                "<news:news><news:publication><news:name>"
                f"{_x(self.content.title)}</news:name><news:language>en</news:language></news:publication>"
                f"<news:publication_date>{post.published.isoformat()}</news:publication_date>"
                f"<news:title>{_x(title)}</news:title></news:news></url>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            + "".join(urls)
            + "</urlset>"
        ).encode()

    def _archive_sitemap(self, now: datetime) -> bytes:
        old = [p for p in self.content.posts if p.old]
        urls = "".join(
            f"<url><loc>{_x(self.base + p.path)}</loc><lastmod>{p.published.isoformat()}</lastmod></url>"
            for p in old
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )
        return gzip.compress(xml.encode(), mtime=0)

    def _listing(self, route: str, headers: dict[str, str], now: datetime) -> Response:
        section = route.strip("/") or "news"
        posts = [p for p in self.content.live_posts(now) if p.section == section or route == "/"]
        newest = max((p.published for p in posts), default=self.world.clock.start)
        last_modified = {"Last-Modified": format_datetime(newest, usegmt=True)}
        if _not_modified(headers, None, newest):
            return 304, last_modified, b""
        links = "".join(
            f'<li class="teaser"><a href="{_x(self._link(p, listing=True))}">{_x(p.state(now)[0])}</a></li>'
            for p in posts
        )
        body = self._chrome(f'<h1>{section.title()}</h1><ul class="river">{links}</ul>', now)
        return 200, {"Content-Type": "text/html; charset=utf-8", **last_modified}, body

    def _article(self, post: Post, headers: dict[str, str], now: datetime) -> Response:
        title, paras, modified = post.state(now)
        last_modified = {"Last-Modified": format_datetime(modified, usegmt=True)}
        if _not_modified(headers, None, modified):
            return 304, last_modified, b""
        glue_a, glue_b = _glue_markup(post)
        body_html = "".join(
            "<p>"
            + _x(p).replace(
                f"{glue_a} {glue_b}", f'<a href="/topic/{glue_a.lower()}">{glue_a}</a>\n{glue_b}'
            )
            + "</p>"
            + ('<div class="ad-inline">Advertisement</div>' if i == 2 else "")
            for i, p in enumerate(paras)
        )
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": post.published.isoformat(),
            "dateModified": modified.isoformat(),
            "author": [{"@type": "Person", "name": post.article.author}],
            "publisher": {"@type": "Organization", "name": self.content.title},
        }
        canonical = self.base + post.path
        head = (
            f'<link rel="canonical" href="{_x(canonical)}">'
            f'<meta property="og:title" content="{_x(title)}">'
            f'<meta property="og:site_name" content="{_x(self.content.title)}">'
            f'<meta name="author" content="{_x(post.article.author)}">'
            f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        )
        article = (
            f'<article class="story"><h1 class="headline">{_x(title)}</h1>'
            f'<div class="byline">By <span class="author">{_x(post.article.author)}</span> · '
            f'<time datetime="{post.published.isoformat()}">{post.published:%B %d, %Y %H:%M}</time></div>'
            f'<div class="story-body">{body_html}</div></article>'
        )
        if self.redesigned:
            rest = json.dumps({"paragraphs": paras[1:]})
            article = (
                f'<article class="story-v2"><h1>{_x(title)}</h1><p>{_x(paras[0])}</p>'
                f'<div id="story-root"></div><script type="application/json" id="story-data">'
                f"{_x(rest)}</script></article>"
            )
            head = f'<link rel="canonical" href="{_x(canonical)}">'
        return (
            200,
            {"Content-Type": "text/html; charset=utf-8", **last_modified},
            self._chrome(article, now, head, title),
        )

    def _chrome(self, main: str, now: datetime, head: str = "", title: str = "") -> bytes:
        with self._lock:
            self.requests += 1
            n = self.requests
        others = [p.state(now)[0] for p in self.content.live_posts(now)[:12]]
        most_read = (
            "".join(f"<li>{_x(t)}</li>" for t in (others[n % len(others) :] + others)[:5])
            if others
            else ""
        )
        temperature = (n * 7) % 31 - 10
        page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{_x(title or self.content.title)} | {_x(self.content.title)}</title>{head}</head><body>
<header class="masthead"><a href="/">{_x(self.content.title)}</a>
<div class="weather">{_x(self.content.region)} · {now:%H:%M}:{n % 60:02d} · {temperature}°C</div>
<nav><a href="/news/">News</a> <a href="/local/">Local</a> <a href="/search?q=">Search</a></nav></header>
<div class="ad-banner">Sponsored: offer #{n * 7919 % 100000} — subscribe today</div>
<main>{main}</main>
<aside class="most-read"><h2>Most read</h2><ol>{most_read}</ol>
<div class="comments">{(n * 13) % 250} comments</div></aside>
<footer>© {now:%Y} {_x(self.content.title)} · Terms · Privacy · Contact the newsroom</footer>
</body></html>"""
        return page.encode("utf-8")

    def _link(self, post: Post, feed: bool = False, listing: bool = False) -> str:
        """Link variants real sites hand out: tracking parameters, AMP pages, fragments."""
        url = self.base + post.path
        if feed and self.content.name == "valley-gazette":
            return url + "?utm_source=rss&utm_medium=feed"
        if listing and self.content.name == "harbour-times":
            return url + "amp/"
        if listing and self.content.name == "prairie-post":
            return url + "#comments"
        return url


def _glue_markup(post: Post) -> tuple[str, str]:
    """Wire originals link the glue-pair acronym inline, with the space as a newline."""
    text = " ".join(post.article.paragraphs)
    for a, b in GLUE_PAIRS:
        if f"{a} {b}" in text:
            return a, b
    return "\x00", "\x00"


class HostileServer(SiteServer):
    """Every failure in one place: errors, slowness, loops, huge and binary bodies, bad feeds."""

    PATHS = ["missing", "gone", "error", "slow", "loop", "huge.html", "binary.html", "fine-story"]

    def handle(self, path: str, headers: dict[str, str]) -> Response:
        route = urlsplit(path).path
        now = self.world.clock.now()
        html_type = {"Content-Type": "text/html; charset=utf-8"}
        if route == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"
        if route == "/feed.xml":  # malformed: unclosed tags, an undefined entity, garbage
            items = "".join(
                f"<item><title>Item {p}</title><link>{self.base}/news/{p}</link></item>"
                for p in self.PATHS
            )
            body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Broken &nbsp; feed<item>{items}<item><title>cut"
            return 200, {"Content-Type": "application/rss+xml"}, body.encode()
        if route == "/bomb.xml":
            lol = '<!ENTITY lol "lol">' + "".join(
                f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                for i in range(1, 10)
            )
            body = f'<?xml version="1.0"?><!DOCTYPE rss [{lol}]><rss version="2.0"><channel><title>&lol9;</title></channel></rss>'
            return 200, {"Content-Type": "application/rss+xml"}, body.encode()
        if route == "/sitemap.xml":
            urls = "".join(
                f"<url><loc>{self.base}/news/{p}</loc><lastmod>{now.isoformat()}</lastmod></url>"
                for p in self.PATHS
            )
            urls += f"<url><loc>{self.base}/private/secret-story</loc></url>"
            urls += "<url><loc>https://elsewhere.invalid/offsite-story</loc></url>"
            return (
                200,
                {"Content-Type": "application/xml"},
                (
                    f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
                ).encode(),
            )
        name = route.rsplit("/", 1)[-1]
        if route.startswith("/private/"):
            return (
                200,
                html_type,
                b"<html><body><p>private page: robots.txt forbids this</p></body></html>",
            )
        if name == "missing":
            return 404, html_type, b"<html><body>Not found</body></html>"
        if name == "gone":
            return 410, html_type, b"<html><body>Gone</body></html>"
        if name == "error":
            return 500, html_type, b"<html><body>Internal error</body></html>"
        if name == "slow":
            time.sleep(SLOW_SECONDS)
            return 200, html_type, b"<html><body><p>finally</p></body></html>"
        if name in ("loop", "loop-b"):
            target = "loop-b" if name == "loop" else "loop"
            return 302, {"Location": f"{self.base}/news/{target}"}, b""
        if name == "huge.html":
            return 200, html_type, b""  # streamed by the handler
        if name == "binary.html":
            png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
            return 200, html_type, png
        if name == "fine-story":
            words = [
                "broken",
                "pages",
                "crawlers",
                "servers",
                "timeouts",
                "loops",
                "feeds",
                "entities",
            ]
            paras = "".join(
                f"<p>Paragraph {i} of the only well-behaved story here explains how {words[i]} and "
                f"{words[-i - 1]} keep the hostile herald busy, and why its editors count {i * 17} "
                "complaints a week from readers who only wanted the news.</p>"
                for i in range(6)
            )
            return (
                200,
                html_type,
                f"<html><head><title>Fine story</title></head><body><article><h1>The one fine story</h1>{paras}</article></body></html>".encode(),
            )
        return 404, html_type, b"<html><body>Not found</body></html>"


def _not_modified(headers: dict[str, str], etag: str | None, modified: datetime) -> bool:
    if etag and headers.get("if-none-match") == etag:
        return True
    since = headers.get("if-modified-since")
    if since and not headers.get("if-none-match"):
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _x(text: str) -> str:
    return html.escape(text, quote=True)


def _make_handler(site: SiteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, out, body = site.handle(self.path, headers)
            except Exception as exc:  # the network must never take a test down
                status, out, body = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
            huge = isinstance(site, HostileServer) and self.path.endswith("huge.html")
            size = HUGE_BODY_BYTES if huge else len(body)
            declared = out.pop(DECLARED_LENGTH, None)  # a body cut short (faults.SHORT)
            if declared is not None:
                size, self.close_connection = int(declared), True
            try:
                self.send_response(status)
                for key, value in out.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if huge:
                    chunk = b"<p>" + b"x" * 65530 + b"</p>"
                    for _ in range(HUGE_BODY_BYTES // len(chunk)):
                        self.wfile.write(chunk)
                    self.wfile.write(b" " * (HUGE_BODY_BYTES % len(chunk)))
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
            site.traffic.record(site.content.name, self.path, status, size)
            with site.traffic.lock:
                site.traffic.user_agents[site.content.name, headers.get("user-agent", "")] += 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class LocalNetwork:
    """Start the world's sites on 127.0.0.1; `config()` gives a sites.yaml for them."""

    def __init__(
        self,
        seed: int = 7,
        start: datetime | None = None,
        hostile: bool = True,
        old_cms: bool = False,
        **world_args: Any,
    ):
        self.world = World(seed, start, **world_args)
        self.traffic = Traffic()
        self.hostile = hostile
        self.servers: dict[str, tuple[_Server, SiteServer]] = {}
        self._threads: list[threading.Thread] = []
        # opt-in, so the worlds other tests count stay as they are: an old-CMS site in each
        # markup (crawler.localnet.oldcms), its chrome changing on every request
        self.old_cms: dict[str, Any] = {}
        if old_cms:
            from crawler.localnet.oldcms import OLD_CMS_SITES, OldCmsSite, generated_articles
            from crawler.localnet.zyte import ZyteChromeServer

            for name, layout in OLD_CMS_SITES.items():
                site = OldCmsSite(generated_articles(seed), layout)
                self.old_cms[name] = ZyteChromeServer(site, name)

    @property
    def clock(self):  # noqa: ANN201 - the world's Clock
        return self.world.clock

    def start(self) -> LocalNetwork:
        sites: list[SiteServer] = [
            SiteServer(self.world, c, self.traffic) for c in self.world.sites.values()
        ]
        if self.hostile:
            name, title, region = HOSTILE_SITE
            sites.append(HostileServer(self.world, SiteContent(name, title, region), self.traffic))
        for site in sites:
            server = _Server(("127.0.0.1", 0), _make_handler(site))
            site.base = f"http://127.0.0.1:{server.server_address[1]}"
            thread = threading.Thread(
                target=server.serve_forever, name=f"localnet-{site.content.name}", daemon=True
            )
            thread.start()
            self.servers[site.content.name] = (server, site)
            self._threads.append(thread)
        for old in self.old_cms.values():
            old.__enter__()
        return self

    def stop(self) -> None:
        for server, _site in self.servers.values():
            server.shutdown()
            server.server_close()
        self.servers.clear()
        for old in self.old_cms.values():
            old.__exit__(None, None, None)
        self.old_cms.clear()

    def __enter__(self) -> LocalNetwork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def base(self, site: str) -> str:
        return self.servers[site][1].base

    def config(self, delay: float = 0.0) -> dict[str, Any]:
        sites = []
        for name, (_server, site) in self.servers.items():
            base = site.base
            host = base.split("://", 1)[1]
            entry: dict[str, Any] = {
                "name": name,
                "region": site.content.region,
                "url": base + "/",
                "allowed_domains": [host],
                "schedule": {"every": "15m", "jitter": "0s"},
                "politeness": {
                    "delay": delay,
                    "concurrency": 4,
                    "autothrottle": False,
                    "timeout": 2.0,
                },
                "allow_private_addresses": True,
                "crawl_timeout": "2m",
            }
            if isinstance(site, HostileServer):
                entry.update(
                    feeds=[base + "/feed.xml", base + "/bomb.xml"], sitemaps=[base + "/sitemap.xml"]
                )
            else:
                entry.update(
                    feeds=[base + "/feed.xml", base + "/atom.xml"],
                    sitemaps=[base + "/sitemap.xml"],
                    listings=[base + "/news/", base + "/local/"],
                )
            sites.append(entry)
        for old in self.old_cms.values():
            sites.extend(old.config()["sites"])
        return {"sites": sites}

    def write_config(self, path: str | Path, **kwargs: Any) -> Path:
        target = Path(path)
        target.write_text(yaml.safe_dump(self.config(**kwargs), sort_keys=False))
        return target

    def label_of(self, site: str, url: str) -> str | None:
        """Ground-truth story label of a URL of this network."""
        path = urlsplit(url).path
        if path.endswith("/amp/"):
            path = path[: -len("amp/")]
        return self.world.labels.get(f"{site}:{path}")
