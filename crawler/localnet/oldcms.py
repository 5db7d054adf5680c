"""An old-CMS news site: the article in a layout table, the site bar in the article's cell.

Many regional sites still serve 2000s templates, and the seed page
(../shared/seed/) comes from one. Two markups, as such sites have them:

- `TABLE`: the page is a layout table; the content cell holds the site bar (a
  row of cells), the section name, the headline and the story as `<p>`;
- `NESTED`: nested layout tables, the story in `<font>` tags with paragraphs
  separated by `<br><br>`, the site bar as one line of text with `|` between
  its parts.

On every request the site bar changes (day, date and clock, the city's
temperature) and so does the reader count ("N readers online"); a
maintenance notice sits in the bar. Each article has a section-name line,
a lede printed twice (a standfirst, then the first paragraph with two words
glued where a link lost its space) with a subhead and a photo caption between,
and glued words further down. The article itself changes only when a test
edits it: a sentence added, a number corrected, a headline changed.

`OldCmsSite` has the interface `crawler.localnet.zyte.ZyteChromeServer` serves
(`pages`, `order`, `title_of`, `render`), so both run on the same small server.
"""

from __future__ import annotations

import html
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from crawler.localnet.edits import HEADLINE, NUMBER, SENTENCE, EditablePages
from crawler.localnet.text import FIRST, GLUE_PAIRS, Writer, make_event, wire_story

TABLE, NESTED = "layout table", "nested table with <br>"
LAYOUTS = (TABLE, NESTED)
OLD_CMS_SITES = {"action-news": TABLE, "action-news-classic": NESTED}  # LocalNetwork(old_cms=True)
SECTIONS = ("World", "Local", "Business")
MAINTENANCE = "Our platform is in maintenance mode. Some URLs may not be available."
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})*)(?![\w.,:/%]|\.\d)")


@dataclass
class OldCmsArticle:
    """One story as the CMS holds it; `edits` are applied when it is rendered."""

    page_id: str
    section: str
    headline: str
    lede: str
    subhead: str
    caption: str
    body: list[str]  # the paragraphs after the lede
    glue: tuple[str, str] | None = None  # glued in the lede's second copy
    edits: list[tuple[str, str]] = field(default_factory=list)

    def state(self) -> tuple[str, list[str]]:
        """The headline and the body paragraphs (after the lede) with the edits applied."""
        headline, body = self.headline, list(self.body)
        for kind, text in self.edits:
            if kind == HEADLINE:
                headline = text
            elif kind == SENTENCE:
                body.insert(len(body) // 3 + 1, text)
            elif kind == NUMBER:
                for i, paragraph in enumerate(body):
                    if _NUMBER.search(paragraph):
                        body[i] = _NUMBER.sub(_bump, paragraph, count=1)
                        break
        return headline, body


def _bump(match: re.Match[str]) -> str:
    return f"{int(match.group(1).replace(',', '')) + 1:,}"


def generated_articles(seed: int = 11, count: int = 9) -> list[OldCmsArticle]:
    """Wire-style stories from the network's text generator, spread over SECTIONS."""
    rng = random.Random(seed)
    articles = []
    for i in range(count):
        event = make_event(rng, i)
        story = wire_story(rng, event, f"old{i}", paragraphs=8)
        writer = Writer(rng, event)
        person = rng.choice(event.people)
        caption = (
            f"{person} speaks to reporters in {event.place} on {rng.choice(['Monday', 'Tuesday'])}."
            f" ({rng.choice(FIRST)} {rng.choice(FIRST)}/Staff)"
        )
        glue = event.glue if " ".join(event.glue) in story.paragraphs[0] else None
        lede = story.paragraphs[0]
        if glue is None:  # glue the lede's first two-word name, as a stripped link does
            first, last = person.split(" ", 1)
            glue = (first, last) if person in lede else _first_pair(lede)
        articles.append(
            OldCmsArticle(
                page_id=f"story-{i + 1}",
                section=SECTIONS[i % len(SECTIONS)],
                headline=story.title,
                lede=lede,
                subhead=writer.title(),
                caption=caption,
                body=story.paragraphs[1:],
                glue=glue,
            )
        )
    return articles


def _first_pair(text: str) -> tuple[str, str] | None:
    words = text.split()
    for a, b in zip(words[2:], words[3:], strict=False):
        if a.isalpha() and b.isalpha():
            return a, b
    return None


def seed_article(path: Path, page_id: str = "seed") -> OldCmsArticle | None:
    """The seed page's story (../shared/seed/), as its lines say: title, bar, section,
    headline, lede, subhead, caption, the lede again (glued), the body. None without it."""
    if not path.exists():
        return None
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    section = lines[2]
    paragraphs = [line for line in lines[3:] if line]
    headline, lede, subhead, caption, *body = paragraphs
    return OldCmsArticle(page_id, section, headline, lede, subhead, caption, body, glue=None)


class OldCmsSite(EditablePages):
    """Renders the articles in one of LAYOUTS with a fresh site bar and reader count."""

    def __init__(
        self,
        articles: list[OldCmsArticle],
        layout: str = TABLE,
        name: str = "Action News",
        city: str = "Calgary",
        start: datetime | None = None,
        seed: int = 5,
    ):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
        self.pages = {article.page_id: article for article in articles}
        self.order = [article.page_id for article in articles]
        self.layout, self.name, self.city = layout, name, city
        self.start = start or datetime(2026, 11, 27, 5, 58, tzinfo=timezone.utc)
        self.seed = seed
        self.requests = 0
        self._lock = threading.Lock()

    # -- edits ----------------------------------------------------------------------

    def title_of(self, page_id: str) -> str:
        return self.pages[page_id].state()[0]

    # -- rendering --------------------------------------------------------------------

    def render(self, page_id: str) -> bytes:
        rng, now = self.next_request()
        article = self.pages[page_id]
        headline, body = article.state()
        chrome = Chrome(self.name, self.city, now, rng)
        story = Story(article.section, headline, article, body)
        return render_page(self.layout, story, chrome).encode("utf-8")


@dataclass
class Chrome:
    """What changes on every request: the clock, the temperature, the reader count."""

    site: str
    city: str
    now: datetime
    rng: random.Random

    def bar_parts(self) -> list[str]:
        stamp = f"{self.now:%A, %B} {self.now.day}, {self.now:%Y}, {self.now:%I:%M %p}"
        temperature = f"{self.rng.uniform(-25, 12):.1f}°C"
        return [f"Home WebMail {stamp}", self.city, temperature, "Regions Advertise Login"]

    def readers(self) -> str:
        return f"{self.rng.randint(40, 4000):,} readers online"


@dataclass
class Story:
    section: str
    headline: str
    article: OldCmsArticle
    body: list[str]  # after the lede, edits applied

    def glued_lede(self) -> str:
        """The lede's second copy: where a link lost its space, two words run together."""
        lede = _x(self.article.lede)
        glue = self.article.glue
        if glue and f"{glue[0]} {glue[1]}" in self.article.lede:
            a, b = _x(glue[0]), _x(glue[1])
            return lede.replace(f"{a} {b}", f'<a href="/topic/{a.lower()}">{a}</a>{b}', 1)
        return lede

    def runs(self, chrome: Chrome) -> list[str]:
        """The cell's paragraphs as markup: standfirst, subhead, caption, lede, body, readers."""
        article = self.article
        return [
            f"<b>{_x(article.lede)}</b>",
            *([f"<b>{_x(article.subhead)}</b>"] if article.subhead else []),
            *([f"<i>{_x(article.caption)}</i>"] if article.caption else []),
            self.glued_lede(),
            *self.body_html(),
            _x(chrome.readers()),
        ]

    def body_html(self) -> list[str]:
        """Body paragraphs, a glue pair linked without its space wherever it stands."""
        out = []
        for paragraph in self.body:
            text = _x(paragraph)
            for a, b in GLUE_PAIRS:
                text = text.replace(f"{a} {b}", f'<a href="/topic/{a.lower()}">{a}</a>{b}')
            out.append(text)
        return out


def render_page(layout: str, story: Story, chrome: Chrome) -> str:
    title = f"{_x(story.headline)} - {_x(chrome.site)}"
    inner = _table_cell(story, chrome) if layout == TABLE else _nested_cell(story, chrome)
    nav = "".join(f'<a href="/{s.lower()}/">{s}</a><br>' for s in SECTIONS)
    most_read = "".join(f'<a href="/story-{k}/">Story {k}</a><br>' for k in range(1, 5))
    if layout == TABLE:
        return (
            f"<html><head><title>{title}</title></head><body bgcolor=#ffffff>"
            '<table width="100%" border="0" cellpadding="0" cellspacing="0">'
            f'<tr><td colspan="3"><img src="/img/logo.gif" alt="{_x(chrome.site)}"></td></tr>'
            f'<tr><td width="150" valign="top">{nav}</td>'
            f'<td valign="top">{inner}</td>'
            f'<td width="160" valign="top"><b>Most read</b><br>{most_read}</td></tr>'
            f'<tr><td colspan="3">© {chrome.now:%Y} {_x(chrome.site)}</td></tr>'
            "</table></body></html>"
        )
    return (
        f"<html><head><title>{title}</title></head><body bgcolor=#ffffff>"
        '<table width="760" align="center"><tr><td>'
        '<table width="100%"><tr><td><img src="/img/logo.gif"></td>'
        '<td><img src="/img/banner.gif"></td></tr></table>'
        '<table width="100%"><tr>'
        f'<td width="140" valign="top"><font size="1">{nav}</font></td>'
        f'<td valign="top">{inner}</td>'
        f'<td width="150" valign="top"><font size="1"><b>Most read</b><br>{most_read}</font></td>'
        f"</tr></table></td></tr></table></body></html>"
    )


def _table_cell(story: Story, chrome: Chrome) -> str:
    """Markup A: the bar as a row of cells, then the story as <p>."""
    cells = "".join(f"<td>{_x(part)}</td>" for part in chrome.bar_parts())
    paragraphs = [f"<p>{run}</p>" for run in story.runs(chrome)]
    return (
        f'<table width="100%"><tr>{cells}<td>{_x(MAINTENANCE)}</td></tr></table>'
        f'<p class="section">{_x(story.section)}</p>'
        f"<h1>{_x(story.headline)}</h1>" + "".join(paragraphs)
    )


def _nested_cell(story: Story, chrome: Chrome) -> str:
    """Markup B: the bar as one line of text, the story in <font> split by <br><br>."""
    bar = " | ".join(_x(part) for part in [*chrome.bar_parts(), MAINTENANCE]) + " |"
    runs = story.runs(chrome)
    return (
        f'<table width="100%"><tr><td><font face="Verdana" size="1">{bar}</font></td></tr></table>'
        f'<font face="Arial" size="2" color="#990000"><b>{_x(story.section)}</b></font><br>'
        f'<font face="Arial" size="4"><b>{_x(story.headline)}</b></font><br><br>'
        f'<font face="Arial" size="2">' + "<br><br>".join(runs) + "</font>"
    )


def _x(text: str) -> str:
    return html.escape(text, quote=False)
