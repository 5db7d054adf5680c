"""Article extraction: title, body paragraphs, authors, dates, canonical URL, language.

trafilatura finds the body and htmldate the dates; the page's own structured
data (JSON-LD NewsArticle, OpenGraph, <link rel=canonical>) is preferred where
the publisher states a fact outright. A JSON-LD `articleBody` replaces
trafilatura's body only when trafilatura came out clearly shorter, because many
CMSs put a truncated teaser there.

The HTML is parsed once; metadata is read from the tree before trafilatura,
which prunes the tree it is given, gets it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from crawler.text import normalize

EXTRACTOR_VERSION = "2"  # 2: fast mode first, full cascade for short results

# Below this many characters of body text, trafilatura's fast mode is not trusted
# and the page goes through its full cascade (see _body). Zyte benchmark, 181 pages,
# fast-mode text shorter than the threshold re-extracted in full:
#   threshold   F1      pages re-extracted
#   300         0.957    2.8 %
#   500-800     0.962    4.4-8.3 %
#   1000-2000   0.959   11.6-28.7 %   (full cascade on every page: 0.959)
FULL_CASCADE_BELOW = 800


class ExtractionError(ValueError):
    """The bytes are not an HTML page we can extract (binary, empty, unparseable)."""


@dataclass
class Extracted:
    url: str
    title: str = ""
    paragraphs: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    site_name: str | None = None
    body_source: str = "trafilatura"
    # names the page's JSON-LD credits it to (author, publisher, sourceOrganization,
    # copyrightHolder): where a copy names its news agency (crawler.stories.agency)
    credits: list[str] = field(default_factory=list)
    # the page's photo captions (<figcaption>) and photo credits (a figure's "credit"
    # element, JSON-LD image creditText / copyrightHolder / author), which the body
    # leaves out: where a copy's photos name an agency (crawler.stories.agency)
    captions: list[str] = field(default_factory=list)
    photo_credits: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("paragraphs")
        data["text"] = self.text
        return data


def looks_binary(body: bytes) -> bool:
    """A NUL byte or a known binary magic number in the first KiB means it is not HTML."""
    head = body[:1024]
    magic = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"\x00")
    return head.startswith(magic) or b"\x00" in head


def parse_html(body: bytes | str) -> etree._Element:
    if isinstance(body, bytes):
        if looks_binary(body):
            raise ExtractionError("binary content, not an HTML page")
        if not body.strip():
            raise ExtractionError("empty page")
    from trafilatura import load_html  # detects the charset the way the extractor expects

    tree = load_html(body)
    if tree is None:
        raise ExtractionError("unparseable HTML")
    return tree


def extract(body: bytes | str, url: str) -> Extracted:
    """Extract one article page. Raises ExtractionError for pages that are not HTML.

    Everything read from the page's own markup is read first; trafilatura, which
    prunes the tree it is given, comes last and gets the tree itself rather than
    a copy (a deep copy of a 100 kB page costs a tenth of the extraction).
    """
    tree = _page_tree(body)
    ld = _json_ld_article(tree)
    meta = _meta(tree)
    result = Extracted(url=url, canonical_url=_canonical(tree, url))
    title = _first(ld.get("headline"), meta.get("og:title")) or _fallback_title(tree)
    result.title = normalize.clean_title(title or "")
    headings = {normalize.loose_form(t) for t in (title, *tree.xpath("//h1//text()")) if t}
    result.published = _iso_date(
        _first(ld.get("datePublished"), meta.get("article:published_time"))
    ) or _htmldate(tree)
    # only as the publisher states it: htmldate's latest date on the page can be the
    # header's today or a sidebar's newest story rather than an update of this article
    result.modified = _iso_date(_first(ld.get("dateModified"), meta.get("article:modified_time")))
    result.authors = _authors(ld, meta)
    result.language = _language(tree, meta)
    result.site_name = _first(meta.get("og:site_name"))
    result.credits = _ld_names(ld, ("author", "publisher", "sourceOrganization", "copyrightHolder"))
    result.captions, figure_credits = _figures(tree)
    result.photo_credits = list(dict.fromkeys(figure_credits + _image_credits(ld)))

    paragraphs = _body(tree, body, url)  # prunes `tree`: nothing reads it after this
    ld_body = ld.get("articleBody") if isinstance(ld.get("articleBody"), str) else ""
    if ld_body:
        ld_paragraphs = normalize.clean_paragraphs(_html_to_text(ld_body))
        if _is_complete(ld_paragraphs, paragraphs):
            paragraphs, result.body_source = ld_paragraphs, "json-ld"
    result.paragraphs = _without_headline(paragraphs, headings)
    return result


HEADLINE_SEARCH = 4  # the headline line may follow a kicker, a section name or a bar
KICKER_MAX_WORDS = 30


def _without_headline(paragraphs: list[str], headings: set[str]) -> list[str]:
    """The body without its headline line: trafilatura keeps the <h1>, the title has it.

    Old CMS pages print a section name ("World") or a site bar above the
    headline, so the headline is looked for among the first few lines, after
    short ones only; those stay for the site's chrome learning to judge.
    """
    for i, paragraph in enumerate(paragraphs[:HEADLINE_SEARCH]):
        if normalize.loose_form(paragraph) in headings:
            return paragraphs[:i] + paragraphs[i + 1 :]
        if len(paragraph.split()) > KICKER_MAX_WORDS:
            break
    return paragraphs


def _page_tree(body: bytes | str) -> etree._Element:
    """The parsed page, zero-width spaces turned into word breaks."""
    tree = parse_html(body)
    _unglue_zero_width(tree, body)
    return tree


LINK_LINE_MAX_CHARS = 200
LINK_LINE_SHARE = 0.7
LINK_LABEL_CHARS = 12  # "READMORE:", "Related:", "Seealso" (spaces not counted)


def _drop_link_lines(tree: etree._Element) -> None:
    """Drop short paragraphs and list items that are mostly a link's text, or a link and a label.

    "READ MORE: <another story>" lines and related-links boxes sit between the
    body's paragraphs on many sites, and trafilatura keeps them when they are
    inside the article's container; their text changes with every request (the
    linked story rotates), so they would make versions of an unchanged article.
    A line whose text is mostly link text is navigation, not the article.
    Zyte benchmark, 181 pages: F1 0.962 without this, see FULL_CASCADE_BELOW's
    notes for the bench command.
    """
    doomed = []
    for node in tree.iter("p", "li"):
        links = node.xpath(".//a[@href]")
        if not links:
            continue
        text = "".join(node.itertext())
        chars = len("".join(text.split()))
        if not chars or chars > LINK_LINE_MAX_CHARS:
            continue
        linked = sum(len("".join("".join(a.itertext()).split())) for a in links)
        if linked and (linked >= LINK_LINE_SHARE * chars or chars - linked <= LINK_LABEL_CHARS):
            doomed.append(node)
    for node in doomed:
        _remove_keeping_tail(node)


def _remove_keeping_tail(node: etree._Element) -> None:
    parent = node.getparent()
    if parent is None:
        return
    if node.tail and node.tail.strip():
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)


def _fallback_title(tree: etree._Element) -> str | None:
    """trafilatura's title heuristics, for pages that state no headline or og:title; where
    the <title> is "headline - site", the part the page prints on its own wins."""
    from trafilatura.metadata import extract_title

    try:
        found = extract_title(tree)
    except Exception:  # optional metadata: odd markup must not lose the article
        found = None
    printed = _printed_title_part(tree)
    if printed and len(printed) > len(found or ""):  # a section or site name is shorter
        return printed
    return found


_TITLE_SEPARATORS = re.compile(r"\s+(?:[-|\u2013\u2014\u00b7\u2022]|::)\s+")


def _printed_title_part(tree: etree._Element) -> str | None:
    """The longest part of a split <title> printed as an element's own text in the body.

    Old CMS pages have no <h1> and no og:title: the headline is a bold run in a
    <font>, and trafilatura's title heuristics can pick the site's name from
    "Headline - Site". The headline is the part printed as a line of its own.
    """
    raw = " ".join(tree.xpath("string(//head/title)").split())
    cuts = [(m.start(), m.end()) for m in _TITLE_SEPARATORS.finditer(raw)]
    if not cuts:
        return None
    starts = [0, *(end for _, end in cuts)]
    ends = [*(start for start, _ in cuts), len(raw)]
    # every run of adjacent parts but the whole: a headline may hold a " - " itself
    wanted = {
        normalize.loose_form(raw[starts[i] : ends[j]]): raw[starts[i] : ends[j]]
        for i in range(len(starts))
        for j in range(i, len(ends))
        if (i, j) != (0, len(ends) - 1)
    }
    printed = set()
    for node in tree.xpath(
        "//body//*[self::b or self::strong or self::font or self::h2 or self::h3 or self::p or self::td or self::span or self::div][not(*) or count(*) <= 2]"
    ):
        key = normalize.loose_form(" ".join("".join(node.itertext()).split()))
        if key in wanted:
            printed.add(wanted[key])
    return max(printed, key=len, default=None)


_ZERO_WIDTH_MARKERS = (b"\xe2\x80\x8b", b"&#8203;", b"&#x200b;", b"&#x200B;", b"&ZeroWidthSpace;")


def _unglue_zero_width(tree: etree._Element, body: bytes | str) -> None:
    """A zero-width space is a word break; extractors drop it and glue the words. Unless
    the page has one inside most words, a disguised copy: then they are taken out and the
    words stay whole (normalize.zero_width_breaks)."""
    raw = body.encode("utf-8", "ignore") if isinstance(body, str) else body
    if not any(marker in raw for marker in _ZERO_WIDTH_MARKERS):  # UTF-8 or an entity
        return
    texts = [t for node in tree.iter() for t in (node.text, node.tail) if isinstance(t, str)]
    count = sum(t.count(normalize.ZERO_WIDTH_SPACE) for t in texts)
    words = sum(len(t.split()) for t in texts)
    replacement = "" if normalize.zero_width_is_disguise(count, words) else " "
    for node in tree.iter():
        if isinstance(node.text, str) and "\u200b" in node.text:
            node.text = node.text.replace("\u200b", replacement)
        if isinstance(node.tail, str) and "\u200b" in node.tail:
            node.tail = node.tail.replace("\u200b", replacement)


def _body(tree: etree._Element, body: bytes | str, url: str) -> list[str]:
    """The article's paragraphs: trafilatura's fast mode, its full cascade where that finds little.

    The full cascade also runs readability and jusText and keeps whichever looks
    best, which costs about 40 % of the extraction. Measured on the Zyte
    benchmark, it changed the result only on pages where fast mode found a few
    hundred characters or none, and there it rescued the article; elsewhere fast
    mode scored as well or better (FULL_CASCADE_BELOW has the figures).
    """
    unwrap_layout(tree)
    _drop_link_lines(tree)
    paragraphs = normalize.clean_paragraphs(_trafilatura(tree, url, fast=True))
    if sum(len(p) for p in paragraphs) >= FULL_CASCADE_BELOW:
        return paragraphs
    fresh = _page_tree(body)  # the fast run pruned the first tree
    unwrap_layout(fresh)
    _drop_link_lines(fresh)
    return normalize.clean_paragraphs(_trafilatura(fresh, url, fast=False))


def _trafilatura(tree: etree._Element, url: str, fast: bool) -> str:
    import trafilatura

    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,  # JSON-LD/OpenGraph first, read by extract() itself
        include_comments=False,
        include_tables=True,
        favor_precision=True,
        deduplicate=False,
        fast=fast,
    )
    if document is None:
        return ""
    found = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    return found.get("text") or ""


def _is_complete(candidate: list[str], extracted: list[str]) -> bool:
    """Take the JSON-LD body only where trafilatura came out short and JSON-LD is no teaser.

    Measured on the Zyte benchmark: where both are complete, trafilatura's body
    scores as well or better (JSON-LD bodies sometimes carry captions and embeds).
    """
    cand_words = sum(len(p.split()) for p in candidate)
    page_words = sum(len(p.split()) for p in extracted)
    return cand_words >= 50 and page_words < 0.8 * cand_words


def _html_to_text(fragment: str) -> str:
    if "<" not in fragment:
        return fragment
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return fragment
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in root.iter("p", "div", "li", "h1", "h2", "h3", "h4", "blockquote"):
        block.tail = "\n" + (block.tail or "")
    return root.text_content()


def _json_ld_article(tree: etree._Element) -> dict[str, Any]:
    """The first JSON-LD object typed as an article, flattened from @graph lists."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, TypeError):
            continue
        for item in _ld_items(data):
            kind = item.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and k.endswith("Article") for k in kinds):
                return item
    return {}


def _ld_items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [x for item in data for x in _ld_items(item)]
    if isinstance(data, dict):
        graph = data.get("@graph")
        return [data] + (_ld_items(graph) if graph else [])
    return []


def _meta(tree: etree._Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.xpath("//meta[@content]"):
        key = (node.get("property") or node.get("name") or "").strip().lower()
        if key and key not in found:
            found[key] = node.get("content", "").strip()
    return found


def _canonical(tree: etree._Element, url: str) -> str | None:
    for href in tree.xpath('//link[@rel="canonical"]/@href | //meta[@property="og:url"]/@content'):
        href = str(href).strip()
        if href:
            return urljoin(url, href)
    return None


def _authors(ld: dict[str, Any], meta: dict[str, str]) -> list[str]:
    raw = ld.get("author")
    names: list[str] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            names.append(item["name"])
        elif isinstance(item, str):
            names.append(item)
    if not names:
        text = meta.get("author") or meta.get("article:author") or ""
        names = [part for part in re.split(r";|\band\b|,", text) if part.strip()]
    cleaned = [normalize.clean_title(re.sub(r"^\s*by\s+", "", n, flags=re.I)) for n in names]
    return list(dict.fromkeys(name for name in cleaned if name and not name.startswith("http")))


def _ld_names(ld: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """The names under JSON-LD keys, whether given as strings, objects or lists of them."""
    names: list[str] = []
    for key in keys:
        raw = ld.get(key)
        for item in raw if isinstance(raw, list) else [raw]:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name.strip():
                names.append(name.strip())
    return list(dict.fromkeys(names))


FIGURES_READ = 100  # a gallery's first hundred photos say whose photos it carries
_ASIDE = "ancestor::aside or ancestor::nav or ancestor::footer or ancestor::a"
_CREDIT_CLASS = (
    ".//*[contains(translate(@class, 'CREDITOPYRHGT', 'creditopyrhgt'), 'credit')"
    " or contains(translate(@class, 'CREDITOPYRHGT', 'creditopyrhgt'), 'copyright')]"
)


def _figures(tree: etree._Element) -> tuple[list[str], list[str]]:
    """The captions of the page's figures, and their credit elements' text where the
    markup sets the credit apart (`<span class="credit">`): read before trafilatura
    prunes the tree, since the body it returns leaves figures out. Figures in a sidebar,
    the navigation, the footer or a link are other stories' thumbnails ("more from
    AP"), not this copy's photos."""
    captions: list[str] = []
    credits: list[str] = []
    figures = tree.xpath(
        f"//figure[not({_ASIDE})] | //figcaption[not(ancestor::figure) and not({_ASIDE})]"
    )
    for figure in figures[:FIGURES_READ]:
        credit_lines = [_text_of(node) for node in figure.xpath(_CREDIT_CLASS)]
        credits += [line for line in credit_lines if line]
        for caption in figure.xpath("descendant-or-self::figcaption"):
            line = _text_of(caption)
            if line and not credit_lines:
                captions.append(line)
    return list(dict.fromkeys(captions)), list(dict.fromkeys(credits))


def _text_of(node: etree._Element) -> str:
    return " ".join(" ".join(node.itertext()).split())


def _image_credits(ld: dict[str, Any]) -> list[str]:
    """The credits of the article's JSON-LD images (ImageObject creditText,
    copyrightHolder, author)."""
    raw = ld.get("image")
    credits: list[str] = []
    for image in raw if isinstance(raw, list) else [raw]:
        if not isinstance(image, dict):
            continue
        if isinstance(image.get("creditText"), str) and image["creditText"].strip():
            credits.append(image["creditText"].strip())
        credits += _ld_names(image, ("copyrightHolder", "author"))
    return credits


def _iso_date(value: Any) -> str | None:
    """ISO 8601 in UTC when a time is given, a plain date otherwise."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            return None
    if len(text) <= 10:
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _htmldate(tree: etree._Element) -> str | None:
    """The page's original publication date by htmldate, which works on a copy of a tree
    it is handed (trafilatura gets this tree afterwards)."""
    from htmldate import find_date

    try:
        found = find_date(tree, original_date=True, extensive_search=False)
    except Exception:  # htmldate raises assorted errors on odd markup; the date is optional
        return None
    return _iso_date(found)


def _language(tree: etree._Element, meta: dict[str, str]) -> str | None:
    lang = tree.get("lang") or meta.get("og:locale") or meta.get("content-language")
    if not lang:
        return None
    return lang.replace("_", "-").split("-")[0].lower() or None


def _first(*values: Any) -> Any:
    for value in values:
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# -- old CMS layouts -------------------------------------------------------------------

LAYOUT_CELL_WORDS = 40  # a cell holding this much running text is a page region, not a datum
_BLOCK_TAGS = frozenset(
    ["p", "div", "ul", "ol", "dl", "blockquote", "pre", "table", "center", "form", "hr"]
    + ["h1", "h2", "h3", "h4", "h5", "h6", "article", "section", "header", "footer", "aside"]
    + ["nav", "main", "figure", "figcaption", "address"]
)
_TABLE_PARTS = ("tbody", "thead", "tfoot", "tr", "td", "th", "caption")
_BR_SPLIT_SKIP = frozenset(["p", "pre", "li", "dd", "dt", "td", "th", "textarea", "code"])


def unwrap_layout(tree: etree._Element) -> None:
    """Turn layout tables into plain blocks and `<br><br>`-separated text into paragraphs.

    2000s templates build the whole page from tables: the article is one cell,
    beside cells of navigation, and the site bar is a row of cells in the same
    cell as the story. trafilatura renders every table as table rows ("| bar |
    World <headline> <body> |"), so the bar, the section name, the headline and
    the body come out as one glued paragraph that changes with the bar's clock.
    A table is layout when it is not a grid of data: one of its own cells holds a
    nested table, a heading or a long run of text, or it has a single row (a bar
    or a strip of columns). Data tables (scores, results, budgets: several rows
    of short cells) are left as tables. trafilatura has no switch for this (its
    table handling is all or nothing, `include_tables`), hence the hand-written
    pass; it only renames elements, so no text is added or lost.
    """
    layout = [table for table in tree.iter("table") if _is_layout_table(table)]
    for table in layout:
        parts = [table, *(n for n in table.iter(*_TABLE_PARTS) if _owner_table(n) is table)]
        for node in parts:
            node.tag = "div"
            for attribute in [a for a in node.attrib if a not in ("id", "class")]:
                del node.attrib[attribute]
    # deepest first: an inner <font> becomes a block before its cell is split around it
    for parent in reversed([node for node in tree.iter() if _has_double_br(node)]):
        _split_at_breaks(parent)


def _owner_table(node: etree._Element) -> etree._Element | None:
    return next(node.iterancestors("table"), None)


def _is_layout_table(table: etree._Element) -> bool:
    rows = [row for row in table.iter("tr") if _owner_table(row) is table]
    cells = [cell for row in rows for cell in row if cell.tag in ("td", "th")]
    if not cells:
        return False
    if len(rows) == 1:
        return True
    for cell in cells:
        if any(True for _ in cell.iter("table", "h1", "h2", "h3", "h4", "h5", "h6")):
            return True
        if len(" ".join(cell.itertext()).split()) >= LAYOUT_CELL_WORDS:
            return True
    return False


def _is_br(node: Any) -> bool:
    return isinstance(node.tag, str) and node.tag == "br"


def _has_double_br(node: etree._Element) -> bool:
    """Two `<br>` in a row (only spaces between): the text is laid out in paragraphs."""
    if not isinstance(node.tag, str) or node.tag in _BR_SPLIT_SKIP:
        return False
    children = list(node)
    return any(
        _is_br(a) and _is_br(b) and not (a.tail or "").strip()
        for a, b in zip(children, children[1:], strict=False)
    )


def _split_at_breaks(parent: etree._Element) -> None:
    """The parent's inline runs between `<br>`s, each in a `<p>` of its own; blocks stay."""
    runs: list[tuple[str, list[etree._Element]]] = []
    text, inline = parent.text or "", list[etree._Element]()

    def flush() -> None:
        nonlocal text, inline
        if text.strip() or any(_has_text(n) for n in inline):
            runs.append((text, inline))
        elif inline:  # only empty inline nodes (images): keep them where they were
            runs.append(("", inline))
        text, inline = "", []

    for child in list(parent):
        if _is_br(child):
            flush()
            text = child.tail or ""
        elif isinstance(child.tag, str) and child.tag in _BLOCK_TAGS:
            flush()
            runs.append(("", [child]))
            text = child.tail or ""
            child.tail = None
        else:
            inline.append(child)
    flush()
    parent.text = None
    for child in list(parent):
        parent.remove(child)
    for leading, nodes in runs:
        if len(nodes) == 1 and not leading and nodes[0].tag in _BLOCK_TAGS:
            parent.append(nodes[0])
            continue
        paragraph = etree.SubElement(parent, "p")
        paragraph.text = leading
        for node in nodes:
            paragraph.append(node)
    if parent.tag not in _BLOCK_TAGS and parent.tag not in ("body", "td", "th"):
        parent.tag = "div"  # an inline element (<font>, <b>) now holding paragraphs


def _has_text(node: etree._Element) -> bool:
    return bool("".join(node.itertext()).strip() or (node.tail or "").strip())
