"""Discovery: article URLs (with their dates) from feeds, sitemaps and listing pages.

Plain functions over bytes, so every corpus file can be pushed through them
without Scrapy. feedparser parses feeds; sitemaps are parsed with lxml here
because Scrapy's sitemap helper flattens the Google News extension
(news:publication_date, news:title), which we need to skip old entries.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from crawler.text.dates import parse_date

MAX_DECOMPRESSED = 50 * 1024 * 1024
DROPPED_SAMPLE = 20  # URLs kept as examples of what a limit left out
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


class DiscoveryError(ValueError):
    """A feed, sitemap or listing that yields nothing usable; the message says why."""


@dataclass
class Entry:
    url: str
    published: datetime | None = None
    updated: datetime | None = None
    title: str | None = None

    @property
    def newest(self) -> datetime | None:
        dates = [d for d in (self.published, self.updated) if d]
        return max(dates) if dates else None


@dataclass
class Discovered:
    entries: list[Entry] = field(default_factory=list)
    sitemaps: list[Entry] = field(default_factory=list)  # child sitemaps of an index
    warning: str | None = None
    # entries (or child sitemaps) past the parse's `limit`: counted, a few kept as examples
    dropped: int = 0
    dropped_sample: list[str] = field(default_factory=list)

    def keep(self, limit: int | None) -> Discovered:
        """At most `limit` entries and child sitemaps in all (entries first); the rest are
        counted in `dropped`. None: no limit."""
        if limit is None:
            return self
        for name in ("entries", "sitemaps"):
            items: list[Entry] = getattr(self, name)
            room = max(0, limit)
            if len(items) > room:
                self._drop(items[room:])
                setattr(self, name, items[:room])
            limit = max(0, limit - len(getattr(self, name)))
        return self

    def _drop(self, items: list[Entry]) -> None:
        self.dropped += len(items)
        room = DROPPED_SAMPLE - len(self.dropped_sample)
        self.dropped_sample.extend(e.url[:300] for e in items[: max(0, room)])

    def _drop_url(self, url: str) -> None:
        self.dropped += 1
        if len(self.dropped_sample) < DROPPED_SAMPLE:
            self.dropped_sample.append(url[:300])


def refuse_entity_declarations(body: bytes, url: str) -> None:
    """Feeds and sitemaps never need DTD entities; refusing them stops entity bombs cold."""
    if _ENTITY_DECL.search(body[:65536]):
        raise DiscoveryError(f"{url}: XML entity declarations are refused (possible entity bomb)")


def parse_feed(
    body: bytes, url: str, content_type: str = "", limit: int | None = None
) -> Discovered:
    """RSS 0.9x/1.0/2.0, Atom or JSON Feed entries via feedparser; at most `limit` of them
    (the rest counted in `dropped`)."""
    import feedparser

    refuse_entity_declarations(body, url)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    entries = []
    for item in parsed.entries:
        link = _entry_link(item)
        if not link:
            continue
        entries.append(
            Entry(
                url=urljoin(url, link),
                published=_struct_time(item.get("published_parsed")),
                updated=_struct_time(item.get("updated_parsed")),
                title=item.get("title"),
            )
        )
    warning = None
    if parsed.get("bozo"):
        warning = f"malformed feed: {parsed.get('bozo_exception')!s}"[:300]
        if not entries:
            raise DiscoveryError(f"{url}: {warning}; no entries could be read")
    elif not entries and not parsed.get("version"):
        raise DiscoveryError(f"{url}: not a feed (no RSS/Atom/JSON feed found)")
    return Discovered(entries=entries, warning=warning).keep(limit)


def _entry_link(item: Any) -> str | None:
    link = item.get("link")
    if link:
        return str(link)
    for candidate in item.get("links") or []:
        if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
            return str(candidate["href"])
    guid = item.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else None


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def maybe_gunzip(body: bytes, url: str) -> bytes:
    if not body.startswith(b"\x1f\x8b"):
        return body
    from scrapy.utils.gz import gunzip

    try:
        return gunzip(body, max_size=MAX_DECOMPRESSED)
    except Exception as exc:  # gzip/zlib/size errors all mean "unusable sitemap"
        raise DiscoveryError(f"{url}: cannot decompress gzip sitemap: {exc}") from exc


def parse_sitemap(body: bytes, url: str, limit: int | None = None) -> Discovered:
    """A sitemap index, a urlset (with Google News fields), a text sitemap, or a feed used as one.

    At most `limit` entries (or child sitemaps) are kept; the rest are only counted
    (`dropped`). The XML is read as a stream (lxml's iterparse, each <url> freed once
    read), so a 450,000-URL sitemap costs the memory of its body and the entries kept,
    not of a tree of every node.
    """
    body = maybe_gunzip(body, url)
    refuse_entity_declarations(body, url)
    head = body[:2048].lstrip().lower()
    if not head.startswith(b"<"):
        return _text_sitemap(body, url).keep(limit)
    kind = _root_kind(_first_element(body, url), url)
    if kind in ("rss", "feed", "rdf"):
        return parse_feed(body, url, limit=limit)
    result = Discovered()
    index = kind == "sitemapindex"
    try:
        for _event, node in _iterparse(body, events=("end",), tag=("{*}url", "{*}sitemap")):
            parent = node.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # not an item of the root (a <url> nested deeper)
            _sitemap_item(node, url, index, result, limit)
            node.clear()
            while node.getprevious() is not None:  # free what was read: memory stays flat
                del parent[0]
    except etree.XMLSyntaxError:
        pass  # recovered as far as it goes: what was read is kept, as lxml's recover does
    return result


def _iterparse(body: bytes, **kwargs: Any) -> Any:
    return etree.iterparse(
        io.BytesIO(body),
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        **kwargs,
    )


def _first_element(body: bytes, url: str) -> Any:
    """The root element, read without parsing the rest."""
    try:
        for _event, node in _iterparse(body, events=("start",)):
            return node
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"{url}: not XML: {exc}") from exc
    raise DiscoveryError(f"{url}: empty or unreadable sitemap")


def _root_kind(root: Any, url: str) -> str:
    """The root element's local name, refused unless a sitemap or a feed."""
    kind = etree.QName(root).localname.lower()
    if kind not in ("urlset", "sitemapindex", "rss", "feed", "rdf"):
        raise DiscoveryError(f"{url}: unexpected root element <{kind}> for a sitemap")
    return kind


def _sitemap_item(node: Any, url: str, index: bool, into: Discovered, limit: int | None) -> None:
    """One <url> or <sitemap> of a sitemap: kept, or counted as dropped past `limit`
    (read only as far as the sample of dropped URLs needs)."""
    if limit is not None and len(into.entries) + len(into.sitemaps) >= limit:
        if len(into.dropped_sample) >= DROPPED_SAMPLE:
            into.dropped += 1
            return
        loc = _children(node).get("loc")
        if loc:
            into._drop_url(urljoin(url, loc.strip()))
        return
    fields = _children(node)
    loc = fields.get("loc")
    if not loc:
        return
    (into.sitemaps if index else into.entries).append(
        Entry(
            url=urljoin(url, loc.strip()),
            updated=parse_date(fields.get("lastmod")),
            published=parse_date(fields.get("publication_date")),
            title=fields.get("title"),
        )
    )


def _children(node: Any) -> dict[str, str]:
    """Local names of descendants -> text, so news:news/news:publication_date is found."""
    found: dict[str, str] = {}
    for child in node.iter():
        if child is node or not isinstance(child.tag, str):
            continue
        name = child.tag.rsplit("}", 1)[-1].lower()  # the local name, as etree.QName gives
        if child.text and child.text.strip() and name not in found:
            found[name] = child.text.strip()
    return found


def _text_sitemap(body: bytes, url: str) -> Discovered:
    text = body.decode("utf-8", errors="replace")
    urls = [
        line.strip()
        for line in text.splitlines()
        if line.strip().startswith(("http://", "https://"))
    ]
    if not urls:
        raise DiscoveryError(f"{url}: neither XML nor a text sitemap")
    return Discovered(entries=[Entry(u) for u in urls])


def parse_robots_sitemaps(body: bytes, url: str) -> list[str]:
    """Sitemap: lines of a robots.txt, so a site can list robots.txt as its sitemap source."""
    from protego import Protego

    robots = Protego.parse(body.decode("utf-8", errors="replace"))
    return [urljoin(url, s) for s in robots.sitemaps]


_NOT_ARTICLE = re.compile(
    r"/(tag|tags|category|categories|author|authors|topic|topics|search|page|login|subscribe|"
    r"account|newsletter|contact|about|privacy|terms|video|videos|gallery|photos|podcasts?)(/|$)",
    re.IGNORECASE,
)


def listing_links(hrefs: list[str], base_url: str, pattern: str | None = None) -> list[str]:
    """Article-looking links of a listing page, in page order, without repeats.

    With `pattern` (a site's article_pattern) a link must match it; without,
    a link must look like an article: a path of two or more segments whose last
    part is a slug with dashes or a numeric id, and not a section, tag or author page.
    """
    regex = re.compile(pattern) if pattern else None
    seen: dict[str, None] = {}
    for href in hrefs:
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        url = urljoin(base_url, href.strip())
        if not url.startswith(("http://", "https://")):
            continue
        if regex is not None:
            if regex.search(url):
                seen.setdefault(url, None)
            continue
        path = urlsplit(url).path
        segments = [s for s in path.split("/") if s]
        if len(segments) < 2 or _NOT_ARTICLE.search(path):
            continue
        last = segments[-1] if segments[-1] not in ("amp", "index.html") else segments[-2]
        if last.count("-") >= 2 or re.search(r"\d{4,}", last):
            seen.setdefault(url, None)
    return list(seen)
