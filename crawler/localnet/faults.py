"""Rounds in which a site answers 200 without the article: a login wall, an error page, a cut body.

A fault is applied to the page the site would have served, so the site's own
frame (its header, per-request chrome, footer) stays around it, as on real
sites whose paywall or error template is rendered inside the usual layout:

- `wall`: the headline and the first paragraph, then "Subscribe to keep
  reading" and a login prompt; the JSON-LD body is cut to the teaser, as hard
  paywalls do;
- `error`: "Something went wrong" in place of the article, with no article
  metadata at all (no headline, no JSON-LD);
- `cut`: the HTML stops in the middle of the paragraph that holds 60 % of the
  article's words (a connection dropped mid-body; Content-Length matches what
  was sent, as a proxy that re-chunked the body would say);
- `consent`: a cookie-consent page in the article's place, built like the error
  page;
- `short` (local news network only): the same body under the whole page's
  Content-Length, the connection closed after it.

Used by the local news network (`SiteServer.fault`), the Zyte page server
(`FaultyZyteSite`) and `bench/versioning.py`. Generic over the page's markup:
the article is the element with the most paragraph text.
"""

from __future__ import annotations

import json
from typing import Any

import lxml.html
from lxml import etree

from crawler.localnet.zyte import ZyteChromeSite, _body_paragraphs

WALL, ERROR, CUT = "wall", "error", "cut"
FAULTS = (WALL, ERROR, CUT)
# the cut body under the whole page's Content-Length, the connection closed early
# (a server or proxy that died mid-body): the local news network serves it
SHORT = "short"
CONSENT = "consent"  # a consent page in the article's place (bench/versioning.py's 4th round)
DECLARED_LENGTH = "X-Declared-Length"  # the length the local server declares instead
CUT_SHARE = 0.6
_CUT_MARK = "QQCUTHEREQQ"

WALL_HTML = (
    '<div class="paywall"><h3>Subscribe to keep reading</h3>'
    "<p>This story is for subscribers. Get unlimited digital access to local news, "
    "sports and obituaries from your community for only $1 a week for the first year.</p>"
    "<p>Already a subscriber? Log in to continue reading, or create a free account "
    "to read three stories a month.</p>"
    '<a class="button" href="/subscribe/">Subscribe now</a> <a href="/login/">Log in</a></div>'
)
CONSENT_HTML = (
    '<div class="consent-page"><h1>Before you continue</h1>'
    "<p>We and our 842 partners use cookies and similar technologies to store and access "
    "information on your device, to personalise ads and content, and to measure them.</p>"
    "<p>You can accept all cookies, or manage your preferences and object to legitimate "
    "interest at any time in the privacy settings at the bottom of every page.</p>"
    "<button>Accept all</button> <button>Manage preferences</button></div>"
)
ERROR_HTML = (
    '<div class="error-page"><h1>Something went wrong</h1>'
    "<p>We're sorry, but something went wrong on our end and this page could not be shown. "
    "Our technical team has been notified of the problem and is working to fix it.</p>"
    "<p>Please try again in a few minutes, or return to our home page for the latest local "
    "news, weather and sports from across the region.</p>"
    '<p><a href="/">Back to the home page</a></p></div>'
)


def apply_fault(fault: str, html: bytes, article: str | None = None) -> bytes:
    """The page as the site serves it during a `fault` round (unchanged if it has no article).

    `article`: the article's text where it is known (the Zyte benchmark's), which
    locates its body on pages whose markup the generic guess misreads."""
    tree = lxml.html.document_fromstring(html)
    container = _article_container(tree, article)
    if container is None:
        return html
    if fault == WALL:
        return _wall(tree, container)
    if fault == ERROR:
        return _error(tree, container)
    if fault == CONSENT:
        return _error(tree, container, CONSENT_HTML, "Before you continue")
    if fault in (CUT, SHORT):
        return _cut(tree, container)
    raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")


def _paragraphs(container: Any) -> list[Any]:
    return [p for p in container.iter("p") if len(p.text_content().split()) >= 8]


def _article_container(tree: Any, article: str | None = None) -> Any:
    """The deepest element holding most of the page's paragraph text: the article's body,
    which a wall or an error template replaces whole (with the article's text known: the
    deepest element holding all of its paragraphs)."""
    if article:
        known = _body_paragraphs(tree, article)
        if known:
            common = set(known[0].iterancestors())
            for p in known[1:]:
                common &= set(p.iterancestors())
            if common:
                return max(common, key=lambda e: len(list(e.iterancestors())))
    body = tree.find(".//body")
    if body is None:
        return None
    total = sum(len(p.text_content().split()) for p in body.iter("p"))
    if not total:
        return None
    best, depth = None, -1
    for element in body.iter():
        if not isinstance(element.tag, str) or element.tag == "p":
            continue
        words = sum(len(p.text_content().split()) for p in element.iter("p"))
        level = len(list(element.iterancestors()))
        if words >= 0.6 * total and level > depth:
            best, depth = element, level
    return best


def _wall(tree: Any, container: Any) -> bytes:
    paragraphs = _paragraphs(container)
    teaser = paragraphs[0].text_content() if paragraphs else ""
    _empty(container)
    if teaser:
        lede = lxml.html.Element("p")
        lede.text = teaser
        container.append(lede)
    container.append(lxml.html.fragment_fromstring(WALL_HTML))
    _edit_json_ld(tree, lambda data: _set_body(data, teaser))
    return _serialise(tree)


def _empty(container: Any) -> None:
    for child in list(container):
        container.remove(child)
    container.text = None


def _error(
    tree: Any, container: Any, markup: str = ERROR_HTML, title_text: str = "Something went wrong"
) -> bytes:
    for h1 in list(tree.iter("h1")):
        _drop(h1)
    _empty(container)
    container.append(lxml.html.fragment_fromstring(markup))
    title = tree.find(".//title")
    if title is not None:
        title.text = title_text
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        _drop(script)
    for meta in tree.xpath("//meta[@property or @name]"):
        if (meta.get("property") or meta.get("name") or "").lower() in (
            "og:title",
            "twitter:title",
            "title",
            "author",
            "description",
            "og:description",
        ):
            _drop(meta)
    return _serialise(tree)


def _cut(tree: Any, container: Any) -> bytes:
    paragraphs = _paragraphs(container)
    total = sum(len(p.text_content().split()) for p in paragraphs)
    seen = 0
    for p in paragraphs:
        words = len(p.text_content().split())
        if seen + words >= CUT_SHARE * total:
            text = p.text or ""
            if len(text.split()) >= 4:
                half = text.split()
                p.text = " ".join(half[: len(half) // 2]) + " " + _CUT_MARK
            else:
                p.insert(0, lxml.html.fragment_fromstring(f"<span>{_CUT_MARK}</span>"))
            break
        seen += words
    page = _serialise(tree)
    return page[: page.index(_CUT_MARK.encode())].rstrip()


def _drop(element: Any) -> None:
    parent = element.getparent()
    if parent is not None:
        element.drop_tree()


def _edit_json_ld(tree: Any, edit: Any) -> None:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, TypeError):
            continue
        script.text = json.dumps(edit(data))


def _set_body(data: Any, teaser: str) -> Any:
    if isinstance(data, list):
        return [_set_body(item, teaser) for item in data]
    if isinstance(data, dict):
        return {
            k: (teaser if k == "articleBody" else _set_body(v, teaser)) for k, v in data.items()
        }
    return data


def _serialise(tree: Any) -> bytes:
    return etree.tostring(tree, method="html", encoding="utf-8", doctype="<!DOCTYPE html>")


def shorten(html: bytes, keep: float = 0.7, article: str | None = None) -> bytes:
    """A real edit, for contrast: the story cut to its first paragraphs, whole, ending
    cleanly in a complete page, its JSON-LD body shortened alike (as a CMS saves it)."""
    tree = lxml.html.document_fromstring(html)
    container = _article_container(tree, article)
    if container is None:
        return html
    paragraphs = _body_paragraphs(tree, article) if article else _paragraphs(container)
    kept = max(1, round(keep * len(paragraphs)))
    for p in paragraphs[kept:]:
        _drop(p)
    text = "\n".join(" ".join(p.text_content().split()) for p in paragraphs[:kept])
    _edit_json_ld(tree, lambda data: _set_body(data, text))
    return _serialise(tree)


class FaultyZyteSite(ZyteChromeSite):
    """The Zyte chrome site (crawler.localnet.zyte), which a round can turn into walls,
    error pages or cut bodies for every page at once (`fault`; None: the articles).
    Pages in `shortened` had their story cut to a clean end by the publisher."""

    fault: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shortened: set[str] = set()

    def render(self, page_id: str) -> bytes:
        page = super().render(page_id)
        article = self.pages[page_id].body
        if page_id in self.shortened:
            page = shorten(page, article=article)
        return apply_fault(self.fault, page, article) if self.fault else page
