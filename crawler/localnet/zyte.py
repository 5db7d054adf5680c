"""A site of real article pages whose chrome changes on every request.

The pages are the Zyte extraction benchmark's (real publishers' HTML, read
from ../shared/corpora at run time and never copied into the project). On each
request the server changes the things real sites change inside the real
markup, at the places they put them: a site bar with the date, the clock, the
city and the temperature in the header *and* inside the article's own
container (old CMS layouts), "N people are reading this", a "READ MORE" link
and an ad slot between the body's paragraphs, a comment count under the body,
a "most read" box beside it, a cookie banner on some requests and a tracking
script with a new session id. The article itself changes only when a test
edits it: a sentence added, a number corrected, a headline changed.

Used by the versioning test and `bench/versioning.py`: chrome-only re-fetches
must make no version; each edit must make exactly one.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import lxml.html
from lxml import etree

from crawler.localnet.edits import HEADLINE, NUMBER, SENTENCE, EditablePages
from crawler.service.httpd import QuietHandler

SEMANTIC = "semantic"  # the publisher's own markup; oldcms.LAYOUTS re-wrap the article
SKIES = ["Sunny", "Cloudy", "Light snow", "Clear", "Fog", "Flurries", "Rain"]
ADDED_SENTENCES = [
    "A spokesperson for the provincial ministry declined to comment on the report on Wednesday.",
    "Organisers say they expect the event to draw visitors from across the prairie region.",
    "The company did not respond to repeated requests for comment before publication.",
    "Residents who want to weigh in can attend an open house at the community centre.",
    "Police are asking anyone with dashcam footage of the collision to come forward.",
    "The union representing the workers called the decision a betrayal of its members.",
    "An earlier draft of the plan was rejected by the board over concerns about its cost.",
    "Local farmers have warned that a late harvest could push grocery prices higher.",
    "The school division will review its bus routes before the spring term begins.",
    "Fire crews remained at the scene overnight to make sure the blaze did not reignite.",
]
_NUMBER_TOKEN = re.compile(r"(?<![\w.,])(\d{1,3})(?![\w.,:/%]|\.\d)")


@dataclass
class ZytePage:
    """One real page: its HTML and the benchmark's body text, and the edits made to it."""

    page_id: str
    html: bytes
    body: str
    edits: list[tuple[str, str]] = field(default_factory=list)  # (kind, new text)


def load_pages(corpus: Path, count: int, min_words: int = 150) -> list[ZytePage]:
    """The first `count` pages (by id) whose article is long enough to edit and which our
    extractor reads whole."""
    truth = json.loads((corpus / "ground-truth.json").read_text())
    pages = []
    for page_id in sorted(truth):
        body = truth[page_id].get("articleBody") or ""
        path = corpus / "html" / f"{page_id}.html.gz"
        if len(body.split()) < min_words or not path.exists():
            continue
        html = gzip.decompress(path.read_bytes())
        page = ZytePage(page_id, html, body)
        tree = _tree(html)
        if tree is None or len(_body_paragraphs(tree, body)) < 4 or not _number_in_body(tree, body):
            continue
        if not _extracts_whole(html, body):
            continue
        pages.append(page)
        if len(pages) == count:
            break
    return pages


def foreign_sentences(corpus: Path, pages: list[ZytePage], count: int) -> list[str]:
    """Real sentences (12 to 30 words) from benchmark articles not among `pages`: edits
    that read like news and that no two pages share."""
    truth = json.loads((corpus / "ground-truth.json").read_text())
    taken = {page.page_id for page in pages}
    found: list[str] = []
    for page_id in sorted(truth):
        if page_id in taken:
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", truth[page_id].get("articleBody") or ""):
            if 12 <= len(sentence.split()) <= 30 and sentence[:1].isupper():
                found.append(_norm(sentence))
                break
        if len(found) == count:
            break
    return found


def _extracts_whole(html: bytes, body: str) -> bool:
    """Our extractor finds most of the article: an edit anywhere in it is visible.

    Pages it extracts badly are the extraction benchmark's concern, not versioning's.
    """
    from crawler.text.extract import ExtractionError, extract

    try:
        found = extract(html, "http://127.0.0.1/").text
    except ExtractionError:
        return False
    return len(found.split()) >= 0.8 * len(body.split())


def _tree(html: bytes) -> Any:
    """The page parsed from its own charset; it is served as UTF-8 and says so."""
    from trafilatura.utils import decode_file

    text = decode_file(html)
    if text.lstrip().startswith("<?xml"):
        text = text.split("?>", 1)[1]
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    for meta in tree.xpath("//meta[@charset] | //meta[@http-equiv]"):
        if meta.get("charset") or (meta.get("http-equiv") or "").lower() == "content-type":
            meta.getparent().remove(meta)
    head = tree.find(".//head")
    if head is not None:
        head.insert(0, lxml.html.fragment_fromstring('<meta charset="utf-8">'))
    return tree


def _norm(text: str) -> str:
    return " ".join(text.split())


def _body_paragraphs(tree: Any, body: str) -> list[Any]:
    """The <p> elements whose text is part of the benchmark's article body, in page order."""
    flat = _norm(body)
    found = []
    for p in tree.iter("p"):
        text = _norm(p.text_content())
        if len(text) >= 40 and text[:80] in flat:
            found.append(p)
    return found


def _number_in_body(tree: Any, body: str) -> Any:
    """The first body paragraph after the lede with a small standalone number, if any."""
    for p in _body_paragraphs(tree, body)[1:]:
        for attr in ("text", "tail"):
            nodes = [p] if attr == "text" else list(p)
            for node in nodes:
                value = getattr(node, attr)
                if value and _NUMBER_TOKEN.search(value):
                    return node, attr
    return None


class ZyteChromeSite(EditablePages):
    """Renders the pages with fresh chrome per request; edits are applied on top."""

    def __init__(
        self,
        pages: list[ZytePage],
        start: datetime | None = None,
        seed: int = 3,
        city: str = "Winnipeg",
        layout: str = SEMANTIC,
    ):
        from crawler.localnet.oldcms import LAYOUTS

        if layout != SEMANTIC and layout not in LAYOUTS:
            raise ValueError(f"layout must be {SEMANTIC!r} or one of {LAYOUTS}, not {layout!r}")
        self.layout = layout
        self.pages = {page.page_id: page for page in pages}
        self.order = [page.page_id for page in pages]
        self.start = start or datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc)
        self.requests = 0
        self.seed = seed
        self.city = city  # a regional site shows its own city; the weather changes
        self._lock = threading.Lock()
        self._titles: dict[str, str] = {}

    # -- rendering --------------------------------------------------------------------

    def render(self, page_id: str) -> bytes:
        rng, now = self.next_request()
        page = self.pages[page_id]
        tree = _tree(page.html)
        paragraphs = _body_paragraphs(tree, page.body)
        self._apply_edits(tree, page, paragraphs)
        if self.layout != SEMANTIC:
            return self._old_cms(page, paragraphs, rng, now).encode("utf-8")
        self._add_chrome(tree, paragraphs, rng, now, page_id)
        return etree.tostring(tree, method="html", encoding="utf-8", doctype="<!DOCTYPE html>")

    def title_of(self, page_id: str) -> str:
        if page_id not in self._titles:
            tree = _tree(self.pages[page_id].html)
            heading = tree.find(".//h1")
            text = _norm(heading.text_content()) if heading is not None else ""
            self._titles[page_id] = text or _norm(tree.findtext(".//title") or page_id)
        return self._titles[page_id]

    def _apply_edits(self, tree: Any, page: ZytePage, paragraphs: list[Any]) -> None:
        """Each edit where the page shows the article: its HTML and its JSON-LD articleBody,
        as a CMS saving an edit rewrites both."""
        for kind, text in page.edits:
            if kind == SENTENCE:
                anchor = paragraphs[len(paragraphs) // 3]
                anchor_text = _norm(anchor.text_content())
                added = copy.deepcopy(anchor)
                for child in list(added):
                    added.remove(child)
                added.text, added.tail = text, anchor.tail
                anchor.addnext(added)
                _edit_ld_body(
                    tree, functools.partial(_after_paragraph, anchor=anchor_text, sentence=text)
                )
            elif kind == NUMBER:
                node, attr = _number_in_body(tree, page.body)
                value = getattr(node, attr)
                edited = _NUMBER_TOKEN.sub(_bump, value, count=1)
                setattr(node, attr, edited)
                _edit_ld_body(tree, functools.partial(_replace_once, old=value, new=edited))
            elif kind == HEADLINE:
                _set_headline(tree, text)

    def _old_cms(
        self, page: ZytePage, paragraphs: list[Any], rng: random.Random, now: datetime
    ) -> str:
        """The edited article re-wrapped in an old CMS template (crawler.localnet.oldcms):
        the site bar with clock and temperature and a reader count in its own cell, a
        section-name line, the lede printed twice."""
        from crawler.localnet.oldcms import SECTIONS, Chrome, OldCmsArticle, Story, render_page

        texts = [_norm(p.text_content()) for p in paragraphs]
        headline = self.title_of(page.page_id)
        for kind, text in page.edits:
            if kind == SENTENCE:  # where _apply_edits put it: after a third of the body
                texts.insert(len(paragraphs) // 3 + 1, text)
            elif kind == HEADLINE:
                headline = text
        section = SECTIONS[self.order.index(page.page_id) % len(SECTIONS)]
        article = OldCmsArticle(page.page_id, section, headline, texts[0], "", "", texts[1:])
        story = Story(section, headline, article, texts[1:])
        return render_page(self.layout, story, Chrome("Regional News", self.city, now, rng))

    def _add_chrome(
        self, tree: Any, paragraphs: list[Any], rng: random.Random, now: datetime, page_id: str
    ) -> None:
        city, sky = self.city, rng.choice(SKIES)
        temperature = rng.randint(-25, 12)
        stamp = f"{now:%A, %B} {now.day}, {now:%Y} {now:%H:%M}"
        bar = f"{stamp} | {city} {temperature}°C {sky} | Regions | Advertise | Login"
        readers = f"{rng.randint(40, 4000):,} people are reading this"
        others = [p for p in self.order if p != page_id]
        rng.shuffle(others)
        body_el = tree.find(".//body")
        if body_el is None:
            return
        header = _fragment(
            f'<div class="site-bar"><span class="clock">{stamp}</span> | '
            f'<span class="weather">{city} {temperature}°C {sky}</span> | '
            '<a href="/regions/">Regions</a> | <a href="/advertise/">Advertise</a> | '
            '<a href="/login/">Login</a></div>'
        )
        body_el.insert(0, header)
        if rng.random() < 0.5:  # shown until the visitor accepts
            body_el.insert(
                0,
                _fragment(
                    '<div id="cookie-consent"><p>We use cookies to personalise content and ads '
                    "and to analyse our traffic. By continuing to browse you agree to our use of "
                    f"cookies (ref {rng.randrange(16**8):08x}).</p><button>Accept</button></div>"
                ),
            )
        container = paragraphs[0].getparent()
        container.insert(0, _fragment(f"<p>{bar}</p>"))
        container.insert(1, _fragment(f"<p>{readers}</p>"))
        related = others[0]
        paragraphs[1].addnext(
            _fragment(
                f'<p class="related"><strong>READ MORE:</strong> <a href="/articles/{related}/">'
                f"{_x(self.title_of(related))}</a></p>"
            )
        )
        paragraphs[min(3, len(paragraphs) - 1)].addnext(
            _fragment(
                f'<div class="ad-slot" id="div-gpt-ad-{rng.randrange(10**9)}">'
                "<p>Advertisement</p></div>"
            )
        )
        paragraphs[-1].addnext(
            _fragment(
                f'<p class="comment-count"><a href="#comments">{rng.randint(0, 480)} comments</a>'
                "</p>"
            )
        )
        most_read = "".join(
            f'<li><a href="/articles/{other}/">{_x(self.title_of(other))}</a></li>'
            for other in others[1:6]
        )
        container.addnext(
            _fragment(f'<aside class="most-read"><h3>Most read</h3><ol>{most_read}</ol></aside>')
        )
        head = tree.find(".//head")
        if head is not None:
            head.append(
                _fragment(
                    f'<script>window.__trk={{"sid":"{rng.randrange(16**12):012x}",'
                    f'"t":{int(now.timestamp())}}};</script>'
                )
            )


def _bump(match: re.Match[str]) -> str:
    return str(int(match.group(1)) + 1)


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fragment(markup: str) -> Any:
    return lxml.html.fragment_fromstring(markup)


def _edit_ld_body(tree: Any, edit: Any) -> None:
    _edit_ld(tree, "articleBody", edit)


def _edit_ld(tree: Any, key: str, edit: Any) -> None:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, TypeError):
            continue
        script.text = json.dumps(_map_key(data, key, edit))


def _after_paragraph(body: str, anchor: str, sentence: str) -> str:
    """The sentence as its own paragraph after the one that starts like `anchor`."""
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if anchor[:60] and _norm(line).startswith(anchor[:60]):
            return "\n".join([*lines[: i + 1], sentence, *lines[i + 1 :]])
    return body + "\n" + sentence


def _replace_once(body: str, old: str, new: str) -> str:
    return body.replace(old.strip(), new.strip(), 1)


def _map_key(data: Any, key: str, change: Any) -> Any:
    if isinstance(data, list):
        return [_map_key(item, key, change) for item in data]
    if isinstance(data, dict):
        return {
            k: change(v) if k == key and isinstance(v, str) else _map_key(v, key, change)
            for k, v in data.items()
        }
    return data


def _set_headline(tree: Any, headline: str) -> None:
    """The new headline everywhere the page states it: <title>, <h1>, meta tags, JSON-LD."""
    for node in tree.iter("h1"):
        for child in list(node):
            node.remove(child)
        node.text = headline
    title = tree.find(".//title")
    if title is not None:
        title.text = headline
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").lower()
        if key in ("og:title", "twitter:title", "title"):
            meta.set("content", headline)
    _edit_ld(tree, "headline", lambda _old: headline)


# -- HTTP ----------------------------------------------------------------------------


class ServedSite(Protocol):
    """What the server needs of a site: ZyteChromeSite, crawler.localnet.oldcms.OldCmsSite."""

    @property
    def pages(self) -> dict[str, Any]: ...

    @property
    def order(self) -> list[str]: ...

    def title_of(self, page_id: str) -> str: ...

    def render(self, page_id: str) -> bytes: ...


class ZyteChromeServer:
    """The site on 127.0.0.1: /feed.xml lists every page; /articles/<id>/ renders one."""

    def __init__(self, site: ServedSite, name: str = "zyte-chrome"):
        self.site = site
        self.name = name
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ZyteChromeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, page_id: str) -> str:
        return f"{self.base}/articles/{page_id}/"

    def feed(self) -> bytes:
        items = "".join(
            f"<item><title>{_x(self.site.title_of(p))}</title><link>{self.url(p)}</link>"
            f"<guid>{self.url(p)}</guid><pubDate>Thu, 03 Dec 2026 12:00:00 GMT</pubDate></item>"
            for p in self.site.order
        )
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Zyte chrome</title>'
            f"<link>{self.base}/</link><description>real pages</description>{items}"
            "</channel></rss>"
        ).encode()

    def config(self) -> dict[str, Any]:
        host = self.base.split("://", 1)[1]
        return {
            "sites": [
                {
                    "name": self.name,
                    "url": self.base + "/",
                    "allowed_domains": [host],
                    "feeds": [self.base + "/feed.xml"],
                    "schedule": {"every": "15m", "jitter": "0s"},
                    "politeness": {"delay": 0.0, "concurrency": 4, "autothrottle": False},
                    "allow_private_addresses": True,
                    "max_age": "3650d",
                }
            ]
        }


def _handler(server: ZyteChromeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                self.send_body(200, "text/plain", b"User-agent: *\nAllow: /\n")
            elif path == "/feed.xml":
                self.send_body(200, "application/rss+xml", server.feed())
            elif path.startswith("/articles/") and path.strip("/").split("/")[-1] in (
                server.site.pages
            ):
                body = server.site.render(path.strip("/").split("/")[-1])
                self.send_body(200, "text/html; charset=utf-8", body)
            else:
                self.send_body(404, "text/html", b"<html><body>Not found</body></html>")

    return Handler
