"""Extraction, normalisation and versioning decisions, called directly."""

from __future__ import annotations

import json

import pytest

from crawler.text import normalize
from crawler.text.extract import ExtractionError, extract
from crawler.version.decide import Snapshot, classify, decide
from tests.helpers import newscrawl

FILL = "".join(
    f"<p>Paragraph {i} describes how the regional council weighed {i * 11} proposals for roads, "
    f"water mains and the new library branch before the vote on Tuesday night.</p>"
    for i in range(5)
)


def page(inner: str, head: str = "") -> str:
    return f"<html lang='en-CA'><head><title>Council vote | Gazette</title>{head}</head><body><nav>Home News Sports</nav><article><h1>Council vote</h1>{FILL}<p>{inner}</p></article><footer>© Gazette</footer></body></html>"


@pytest.mark.parametrize(
    "inner",
    [
        'Fighters from the ISIS\n<a href="/t">militants</a> group crossed the river.',
        "Fighters from the <span>ISIS</span> <span>militants</span> group crossed the river.",
        "Fighters from the ISIS\u200bmilitants group crossed the river.",
        "Fighters from the <em>ISIS</em>\n<b>militants</b> group crossed the river.",
    ],
)
def test_inline_markup_never_glues_words(inner):
    text = extract(page(inner), "https://gazette.example/news/vote").text
    assert "ISIS militants" in text and "ISISmilitants" not in text


def test_metadata_from_json_ld_and_meta():
    ld = {
        "@type": "NewsArticle",
        "headline": "Council approves budget",
        "datePublished": "2026-11-20T10:00:00-05:00",
        "dateModified": "2026-11-21T08:30:00Z",
        "author": [{"@type": "Person", "name": "Ruth Abernathy"}],
    }
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script><link rel="canonical" href="https://gazette.example/news/vote">'
    result = extract(page("Last words.", head), "https://gazette.example/news/vote?utm_source=x")
    assert result.title == "Council approves budget"
    assert result.authors == ["Ruth Abernathy"]
    assert result.published == "2026-11-20T15:00:00Z" and result.modified == "2026-11-21T08:30:00Z"
    assert result.canonical_url == "https://gazette.example/news/vote"
    assert result.language == "en"
    assert result.paragraphs[0].startswith("Paragraph 0")  # the <h1> is the title, not body


def test_a_page_stating_no_dates_gets_its_date_from_the_page_and_keeps_its_body():
    """htmldate reads the date from the page (on its own copy of the tree: trafilatura gets
    the same tree next); an undeclared modification date stays unknown."""
    head = '<meta name="date" content="2026-11-19">'
    result = extract(page("Last words.", head), "https://gazette.example/news/vote")
    assert result.published == "2026-11-19"
    assert result.modified is None  # not the page's latest date: that is often just today
    plain = extract(page("Last words."), "https://gazette.example/news/vote")
    assert result.paragraphs == plain.paragraphs and len(plain.paragraphs) > 3


def test_binary_and_empty_pages_are_refused():
    with pytest.raises(ExtractionError, match="binary"):
        extract(b"\x89PNG\r\n\x1a\n" + bytes(200), "https://x.example/a.html")
    with pytest.raises(ExtractionError, match="empty"):
        extract(b"   ", "https://x.example/a.html")


def test_an_article_trafilaturas_fast_mode_misses_is_still_extracted():
    """Loose text after a long archive list (as on jaraguadosul.com.br): the fast
    mode finds only the headline; the page must go through the full cascade."""
    archive = "".join(
        f'<li><a href="/news.php?y=2005&amp;m={m}">Month {m} <span>({m})</span></a></li>'
        for m in range(1, 60)
    )
    report = (
        "The home-care team of the Amizade district found two of its five cars broken into "
        "this morning. The vehicles had no batteries and showed marks of vandalism. A police "
        "report was filed and officers came to inspect the site. "
    )
    page = f"""<html><head><title>Cars broken into</title></head><body><div class="row">
    <div class="col-md-3"><ul class="archive">{archive}</ul></div>
    <div class="col-md-9"><p class="title">Home-care cars broken into</p>
    <small><b>05/10/2018</b> - by Clarissa Borba</small><br><br>
    <img src="/a.jpeg">{report * 3}<br><br>{report.upper()}</div></div></body></html>"""
    result = extract(page.encode(), "https://city.example/news/1")
    assert "two of its five cars broken into" in result.text
    assert "SHOWED MARKS OF VANDALISM" in result.text


def test_extract_command_json(tmp_path, crawl_env):
    path = tmp_path / "page.html"
    path.write_text(page("Closing paragraph of the story about the vote."))
    result = newscrawl(
        "extract", str(path), "--url", "https://gazette.example/news/vote", "--json", env=crawl_env
    )
    data = json.loads(result.stdout)
    assert set(data) >= {"url", "title", "text", "authors", "published", "modified", "language"}
    assert (
        "Closing paragraph" in data["text"] and data["url"] == "https://gazette.example/news/vote"
    )


def test_repeated_lede_is_collapsed_but_similar_paragraphs_stay():
    lede = "HALIFAX (CP) — The province will spend 40 million dollars on ferries, the minister said Monday."
    paragraphs = normalize.clean_paragraphs(
        "\n".join(
            [
                lede,
                lede.split("— ", 1)[1],
                "Second paragraph about ferries and docks.",
                "Crews counted 12 boats.",
                "Crews counted 14 boats.",
                lede,
            ]
        )
    )
    assert paragraphs == [
        lede,
        "Second paragraph about ferries and docks.",
        "Crews counted 12 boats.",
        "Crews counted 14 boats.",
    ]


def test_hard_wrapped_text_is_read_as_its_paragraphs():
    """A page that breaks its text every few words, or after every word, keeps its
    words: the fragments are one paragraph again, and no "the" is dropped as a repeat."""
    paragraph = (
        "The council voted on Tuesday to close the old bridge over the river, and "
        "the mayor said the vote was final after the engineers found the piers cracked."
    )
    words = paragraph.split()
    wrapped = "\n".join(" ".join(words[i : i + 4]) for i in range(0, len(words), 4))
    one_per_line = "\n".join(words)
    assert normalize.clean_paragraphs(paragraph) == [paragraph]
    for text in (wrapped, one_per_line):
        cleaned = " ".join(normalize.clean_paragraphs(text))
        assert cleaned.split() == words
    # a line ending a sentence, or followed by a capital, still ends its paragraph
    assert normalize.clean_paragraphs("27 C\nBrunei Town\nThe mayor spoke.\nthen left") == [
        "27 C",
        "Brunei Town",
        "The mayor spoke.",
        "then left",
    ]


def test_fingerprints_ignore_spacing_quotes_and_dashes():
    a = ["He said \u201cno\u201d \u2014 twice.", "Second  line."]
    b = ['He said "no" - twice.', "Second line."]
    assert normalize.content_hash("T", a) == normalize.content_hash("T", b)
    c = ["He said no, twice!", "Second line"]
    assert normalize.content_hash("T", a) != normalize.content_hash("T", c)
    assert normalize.loose_hash("T", a) == normalize.loose_hash("T", c)


BODY = [
    f"Paragraph {i}: the council weighed {i * 11} proposals for roads, water mains and a library branch."
    for i in range(6)
]


def snap(title="Council vote", paras=BODY):
    return Snapshot.of(title, list(paras))


def test_decisions():
    base = snap()
    assert decide(None, base).outcome == "new"
    assert decide(base, snap()).outcome == "unchanged"
    assert decide(base, snap(paras=[p.replace(",", ";") for p in BODY])).outcome == "cosmetic"
    assert decide(base, snap(paras=BODY[:1])).outcome == "degraded"
    assert decide(base, snap(paras=BODY[:2])).outcome == "degraded"
    assert decide(base, snap(paras=[])).outcome == "degraded"
    changed = decide(
        base, snap(paras=BODY + ["A new closing paragraph adds the mayor's reaction to the vote."])
    )
    assert changed.outcome == "changed" and changed.change_kinds == ["body_added"]
    reverted = decide(
        snap(paras=BODY[:-1] + ["Other ending of the story with new words."]),
        base,
        frozenset({base.content_hash}),
    )
    assert reverted.outcome == "reverted"


def test_change_classification():
    def kinds(**kw):
        return classify(snap(), snap(**kw))[0]

    assert "headline" in kinds(title="Council vote delayed")
    assert "lede" in kinds(
        paras=["A new first paragraph entirely rewritten by the desk tonight."] + BODY[1:]
    )
    assert "body_removed" in kinds(paras=BODY[:4])
    corrected = [p.replace("33 proposals", "35 proposals") for p in BODY]
    assert kinds(paras=corrected) == ["correction"]
    assert classify(snap(), snap(paras=corrected))[1]["corrected"] == ["33 -> 35"]


def test_a_page_stating_no_language_gets_its_site_s():
    from datetime import datetime, timezone

    from crawler.pipeline.processing import FetchedPage, prepare

    words = " ".join(f"mot{i}" for i in range(80))
    html = f"<html><head><title>Le conseil</title></head><body><article><p>{words}.</p></article></body></html>"
    when = datetime(2026, 12, 4, tzinfo=timezone.utc)
    url = "https://gazette.example/conseil"
    stated = prepare(
        FetchedPage(
            "s", url, url, html.replace("<html>", '<html lang="de">').encode(), when, language="fr"
        )
    )
    unstated = prepare(FetchedPage("s", url, url, html.encode(), when, language="fr"))
    assert stated.page is not None and stated.page.language == "de"  # the page's own word wins
    assert unstated.page is not None and unstated.page.language == "fr"


def test_link_only_lines_inside_the_body_are_not_article_text():
    """READ MORE: <another story> and related links between paragraphs are navigation."""
    para = (
        "The council voted on Tuesday to extend the downtown transit line by four stations, "
        "a plan that has been debated for more than a decade and that residents of the east "
        "end say they have waited for since the first stop opened."
    )
    html = (
        "<html><body><article>"
        f"<p>{para}</p>"
        '<p><strong>READ MORE:</strong> <a href="/news/other-story">Flood warning lifted for the river valley</a></p>'
        f"<p>{para.replace('Tuesday', 'Wednesday')}</p>"
        '<ul><li><a href="/a">Mayor opens new library branch</a></li><li><a href="/b">Bridge closed for repairs</a></li></ul>'
        f"<p>{para.replace('four', 'six')}</p>"
        "</article></body></html>"
    )
    text = extract(html, "https://gazette.example/transit").text
    assert "Flood warning" not in text and "READ MORE" not in text
    assert "library branch" not in text
    assert text.count("The council voted") == 3


def test_zero_width_spaces_inside_most_words_are_a_disguise_not_word_breaks():
    """A scraper hides a copy from duplicate detection with a zero-width space inside most
    words: those are taken out and the words stay whole, where a few are word breaks
    (test_inline_markup_never_glues_words)."""

    def disguise(paragraph: str) -> str:
        return " ".join(w[:2] + "\u200b" + w[2:] if len(w) > 4 else w for w in paragraph.split())

    paragraphs = "".join(
        f"<p>{disguise(f'Paragraph {i} describes how the regional council weighed proposals for roads, water mains and the library branch before the vote.')}</p>"
        for i in range(5)
    )
    html = f"<html lang='en'><head><title>Vote</title></head><body><article><h1>Vote</h1>{paragraphs}</article></body></html>"
    text = extract(html, "https://gazette.example/news/vote").text
    assert "regional council weighed proposals" in text
    assert "\u200b" not in text and "re gional" not in text
