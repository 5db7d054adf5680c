"""A loopback site made of sitemaps of any shape, for the bounded-discovery tests and bench.

An index that lists itself, two that list each other, an index of 10,000
children, a 50,000-URL sitemap without lastmod: documents are given as
bytes (or made on demand) by path, and every other path under /news/ is an
article page. Each request is counted by path (`hits`), so a test can say
"fetched once". Served on 127.0.0.1 only.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

Document = bytes | Callable[[], bytes]

_WORDS = [
    "council",
    "budget",
    "river",
    "bridge",
    "school",
    "library",
    "water",
    "roads",
    "transit",
    "harbour",
    "mayor",
    "festival",
    "hospital",
    "farmers",
    "market",
    "housing",
    "clinic",
    "museum",
    "ferry",
]


def urlset(urls: list[str], lastmod: str | None = None) -> bytes:
    """A <urlset> of these URLs (with one lastmod for all, or none)."""
    stamp = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    items = "".join(f"<url><loc>{escape(u)}</loc>{stamp}</url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    ).encode()


def sitemap_index(urls: list[str]) -> bytes:
    """A <sitemapindex> listing these sitemaps."""
    items = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}'
        "</sitemapindex>"
    ).encode()


def article_page(path: str) -> bytes:
    """An article whose text is its own (drawn from the path), long enough to extract."""
    seed = sum(path.encode())
    words = [_WORDS[(seed + i * 7) % len(_WORDS)] for i in range(12)]
    title = f"{words[0].title()} {words[1]} report {seed}"
    paragraphs = "".join(
        f"<p>Paragraph {i} on {' '.join(words[i % 6 : i % 6 + 5])} for {path}: the "
        f"committee heard {seed % 97 + i} residents over {i + 2} hours and voted.</p>"
        for i in range(6)
    )
    return (
        f"<html><head><title>{title}</title></head><body><header>Home | News</header>"
        f"<article><h1>{title}</h1>{paragraphs}</article><footer>(c) Sitemap Times</footer>"
        "</body></html>"
    ).encode()


class SitemapSite:
    """One site on 127.0.0.1 serving `documents` by path and articles under /news/."""

    def __init__(self, documents: dict[str, Document] | None = None):
        self.documents: dict[str, Document] = dict(documents or {})
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> SitemapSite:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SitemapSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def site_config(self, name: str, sitemaps: list[str], **overrides: Any) -> dict[str, Any]:
        """A sites.yaml entry for this site: fast and polite enough for a test."""
        entry: dict[str, Any] = {
            "name": name,
            "url": self.base + "/",
            "sitemaps": [self.url(path) for path in sitemaps],
            "allowed_domains": [self.base.split("://", 1)[1]],
            "allow_private_addresses": True,
            "max_age": "3650d",
            "politeness": {"delay": 0, "concurrency": 8, "autothrottle": False, "timeout": 5},
            "crawl_timeout": "3m",
        }
        entry.update(overrides)
        return entry

    def answer(self, path: str) -> tuple[int, str, bytes]:
        with self._lock:
            self.hits[path] += 1
        document = self.documents.get(path)
        if document is not None:
            body = document() if callable(document) else document
            return 200, "application/xml", body
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if path.startswith("/news/"):
            return 200, "text/html; charset=utf-8", article_page(path)
        return 404, "text/plain", b"not found"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, kind, body = site.answer(self.path)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
