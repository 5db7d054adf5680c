"""Old CMS layouts: the article in a layout table, the site bar in its cell, the lede twice.

Extraction and repeat removal are called directly; versioning is tested as
users run it (`newscrawl crawl`, then `--recheck`) against the old-CMS site of
the local network (crawler/localnet/oldcms.py) in both markups, against the
Zyte benchmark's real articles re-wrapped in those markups, and against the
seed page itself (../shared/seed/; skipped without it).
"""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest
import yaml

from crawler.localnet import LocalNetwork
from crawler.localnet.oldcms import (
    LAYOUTS,
    OLD_CMS_SITES,
    SECTIONS,
    OldCmsSite,
    generated_articles,
    seed_article,
)
from crawler.localnet.zyte import ADDED_SENTENCES, ZyteChromeServer, ZyteChromeSite, load_pages
from crawler.text import normalize
from crawler.text.extract import extract
from tests.conftest import CORPORA, REPO
from tests.helpers import newscrawl

SEED = REPO.parent / "shared" / "seed" / "000_5845e4b225f36965.txt"
ZYTE = CORPORA / "extraction-zyte"
EXPECTED = {"sentence": "body_added", "number": "correction", "headline": "headline"}


# -- extraction ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_article_in_a_layout_table_is_extracted_as_its_paragraphs_in_order(layout):
    article = generated_articles()[0]
    site = OldCmsSite([article], layout)
    found = extract(site.render(article.page_id), "http://old.example/story-1/")
    assert found.title == article.headline
    body = [p for p in found.paragraphs if p != article.section and "readers online" not in p]
    # headline in the title, then the lede (once), subhead, caption, the body in order (as
    # printed: a linked word glued to the next one, "UNESCOinspectors")
    assert body[:3] == [article.lede, article.subhead, article.caption]
    assert [_letters(p) for p in body[3:]] == [_letters(p) for p in article.body]
    # the section name and the reader count are lines of their own, for the chrome learner
    assert article.section in found.paragraphs
    assert any(p.endswith("readers online") and len(p.split()) == 3 for p in found.paragraphs)
    assert not any("|" in p or "°C" in p for p in found.paragraphs)


def _letters(text: str) -> str:
    return normalize.loose_form(text).replace(" ", "")


RESULTS = (
    "<table><tr><th>Team</th><th>Wins</th><th>Losses</th></tr>"
    "<tr><td>Hitmen</td><td>21</td><td>9</td></tr>"
    "<tr><td>Rebels</td><td>17</td><td>12</td></tr>"
    "<tr><td>Broncos</td><td>11</td><td>19</td></tr></table>"
)
PARAGRAPH = (
    "The regional hockey league closed its regular season on Sunday with the Hitmen on top "
    "of the standings, four wins clear of the Rebels, who lost their last three games at home."
)


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_data_table_inside_an_article_stays_a_table(wrapped):
    story = "<h1>Hitmen take the title</h1>" + f"<p>{PARAGRAPH}</p>" * 3 + RESULTS
    if wrapped:  # the same article in an old CMS cell, beside a navigation column
        story = (
            '<table><tr><td><a href="/">Home</a><br><a href="/sports/">Sports</a></td>'
            f"<td>{story}</td></tr></table>"
        )
    page = f"<html><head><title>Hitmen take the title</title></head><body>{story}</body></html>"
    text = extract(page, "http://old.example/sports/1/").text
    assert "| Hitmen | 21 | 9 |" in text, text
    assert "| Broncos | 11 | 19 |" in text


# -- repeated lede ---------------------------------------------------------------------------

LEDE = (
    "More than 300 ISIS militants surrounded in a tiny area near the river are refusing to "
    "surrender and are trying to negotiate an exit, activists and a person close to the "
    "talks said Monday."
)


def test_a_lede_printed_twice_with_glued_words_and_a_caption_between_is_stored_once():
    echo = LEDE.replace("ISIS militants", "ISISmilitants").replace("talks said", "talks  said")
    paragraphs = normalize.clean_paragraphs(
        "\n".join(
            [
                LEDE,
                "Fighters hiding in a village among hundreds of civilians",
                "Three men sit on a pickup truck near the town on Monday. (Staff/Reuters)",
                echo.replace("an exit", "an \u201cexit\u201d"),
                "The development comes amid the group's last stand in the village.",
            ]
        )
    )
    assert paragraphs == [
        LEDE,
        "Fighters hiding in a village among hundreds of civilians",
        "Three men sit on a pickup truck near the town on Monday. (Staff/Reuters)",
        "The development comes amid the group's last stand in the village.",
    ]


def test_a_short_line_repeated_on_purpose_stays_and_a_changed_word_is_no_repeat():
    refrain = "O Canada, we stand on guard for thee."
    verse = "From far and wide, the people of the valley came to sing the old songs again."
    lines = [refrain, verse, refrain, verse.replace("valley", "prairie"), refrain, refrain]
    # the refrain each time it is printed (a doubled line once), the changed verse too
    assert normalize.clean_paragraphs("\n".join(lines)) == lines[:5]


# -- versions, as users crawl -----------------------------------------------------------------
#
# Each test crawls its sites in both markups with one command per round, as users crawl
# several sites (`newscrawl crawl A B`): each site's versions are its own, and one crawl
# process per round instead of one per markup halves what the rounds cost in start-ups.


def _serve(tmp_path, crawl_env, sites):
    """One server per (name, site), all in one config file."""
    servers = {name: ZyteChromeServer(site, name) for name, site in sites.items()}
    config = tmp_path / "sites.yaml"
    config.write_text(yaml.safe_dump({"sites": [s.config()["sites"][0] for s in servers.values()]}))
    crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
    return servers, config


def _crawl(config, env, sites, *extra):
    result = newscrawl("crawl", *sites, "--config", str(config), *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def _recheck_outcomes(db, site):
    run = db.crawl_runs.find_one({"site": site}, sort=[("started_at", -1)])
    return Counter(
        f["outcome"] for f in db.fetches.find({"run_id": run["_id"], "reason": "recheck"})
    )


def _three_fetches(db, config, env, pages):
    """`pages`: the number of pages of each site crawled."""
    _crawl(config, env, list(pages))
    for name, count in pages.items():
        assert db.versions.count_documents({"site": name}) == count, name
    for _ in range(2):  # the bar's clock, temperature and reader count changed each time
        _crawl(config, env, list(pages), "--recheck")
        for name, count in pages.items():
            assert _recheck_outcomes(db, name) == {"unchanged": count}, name
    for name, count in pages.items():
        assert db.versions.count_documents({"site": name}) == count, name


def _check_edits(db, name, expected):
    new_versions = {v["url"]: v for v in db.versions.find({"site": name, "version": 2})}
    assert set(new_versions) == set(expected)
    assert db.versions.count_documents({"site": name, "version": {"$gt": 2}}) == 0
    for url, (kind, text) in expected.items():
        change = new_versions[url]["change"]
        assert EXPECTED[kind] in change["kinds"], (url, change["kinds"], change["diff"][:500])
        if kind == "sentence":
            assert "+" + text in change["diff"] and change["stats"]["paragraphs_added"] == 1
        if kind == "number":
            assert change["stats"]["corrected"] and change["stats"]["paragraphs_added"] == 0
        if kind == "headline":
            assert new_versions[url]["title"] == text


@pytest.mark.slow
def test_old_cms_site_chrome_makes_no_version_and_each_edit_one(tmp_path, crawl_env, db):
    """The local network's old-CMS sites, one per markup, crawled as users do."""
    names = sorted(OLD_CMS_SITES)
    with LocalNetwork(seed=7, hostile=False, old_cms=True) as net:
        config = net.write_config(tmp_path / "sites.yaml")
        crawl_env["NEWSCRAWL_JOURNAL"] = str(tmp_path / "journal")
        _three_fetches(db, config, crawl_env, {n: len(net.old_cms[n].site.order) for n in names})
        for version in db.versions.find({"site": {"$in": names}}, {"text": 1}):
            assert "readers online" not in version["text"] and "°C" not in version["text"]
            assert not version["text"].startswith(tuple(s + "\n" for s in SECTIONS))
        sentence = "The council will hear from residents at a public meeting next Tuesday evening."
        headline = "Regional desk update: the story so far"
        for name in names:
            site = net.old_cms[name].site
            ids = site.order
            site.add_sentence(ids[0], sentence)
            site.correct_number(ids[1])
            site.change_headline(ids[2], headline)
        _crawl(config, crawl_env, names, "--recheck")
        for name in names:
            server = net.old_cms[name]
            ids = server.site.order
            _check_edits(
                db,
                name,
                {
                    server.url(ids[0]): ("sentence", sentence),
                    server.url(ids[1]): ("number", None),
                    server.url(ids[2]): ("headline", headline),
                },
            )
            assert _recheck_outcomes(db, name) == {"changed": 3, "unchanged": len(ids) - 3}


def _per_layout(prefix: str) -> dict[str, str]:
    """A site name for each old layout: {name: layout}."""
    return {f"{prefix}-{n}": layout for n, layout in enumerate(LAYOUTS, 1)}


@pytest.mark.slow
@pytest.mark.skipif(not SEED.exists(), reason="../shared/seed absent")
def test_the_seed_page_in_an_old_layout_is_stored_from_its_lede_once(tmp_path, crawl_env, db):
    seed = seed_article(SEED)
    assert seed is not None
    layouts = _per_layout("action-news")
    sites = {name: OldCmsSite([seed, *generated_articles()], lay) for name, lay in layouts.items()}
    servers, config = _serve(tmp_path, crawl_env, sites)
    with contextlib.ExitStack() as running:
        for server in servers.values():
            running.enter_context(server)
        _three_fetches(db, config, crawl_env, {n: len(s.order) for n, s in sites.items()})
    for name, server in servers.items():
        stored = db.articles.find_one({"url": server.url("seed")})
        assert stored["version_count"] == 1, layouts[name]
        paragraphs = stored["text"].split("\n")
        assert paragraphs[0] == seed.lede
        assert normalize.loose_form(stored["text"]).count(normalize.loose_form(seed.lede)) == 1
        assert seed.body[1] in paragraphs  # body[0] is the lede again, glued
        assert not any(
            "WebMail" in p or "°C" in p or "maintenance mode" in p or "readers online" in p
            for p in paragraphs
        ), layouts[name]


ZYTE_PAGES = 36


@pytest.mark.skipif(
    not (ZYTE / "ground-truth.json").exists(), reason="../shared/corpora/extraction-zyte absent"
)
@pytest.mark.slow
def test_real_articles_rewrapped_in_old_layouts_version_only_on_edits(tmp_path, crawl_env, db):
    layouts = _per_layout("zyte-old-cms")
    sites = {
        name: ZyteChromeSite(load_pages(ZYTE, ZYTE_PAGES), layout=layout)
        for name, layout in layouts.items()
    }
    servers, config = _serve(tmp_path, crawl_env, sites)
    with contextlib.ExitStack() as running:
        for server in servers.values():
            running.enter_context(server)
        _three_fetches(db, config, crawl_env, dict.fromkeys(sites, ZYTE_PAGES))
        expected: dict[str, dict] = {name: {} for name in sites}
        for name, site in sites.items():
            server, ids = servers[name], site.order
            for page_id, sentence in zip(ids[0:10], ADDED_SENTENCES, strict=True):
                site.add_sentence(page_id, sentence)
                expected[name][server.url(page_id)] = ("sentence", sentence)
            for page_id in ids[10:20]:
                site.correct_number(page_id)
                expected[name][server.url(page_id)] = ("number", None)
            for page_id in ids[20:30]:
                headline = f"Regional desk update: {site.title_of(page_id)[:40].strip()} revisited"
                site.change_headline(page_id, headline)
                expected[name][server.url(page_id)] = ("headline", headline)
        _crawl(config, crawl_env, list(sites), "--recheck")
        for name in sites:
            _check_edits(db, name, expected[name])


@pytest.mark.parametrize(
    "headline", ["Council approves the budget", "Take C.A.R.E. - the council at the fair"]
)
def test_without_h1_or_og_title_the_printed_part_of_the_title_is_the_headline(headline):
    """ "Headline - Site" in <title>, the headline printed in a <font>: the site's name is
    not the title, and the headline line is not body text."""
    page = (
        f"<html><head><title>{headline} - Action News</title></head><body><table><tr>"
        '<td><a href="/">Home</a></td><td><font size="4"><b>'
        f"{headline}</b></font><br><br><font>{'<br><br>'.join([PARAGRAPH] * 1)}<br><br>"
        f"{PARAGRAPH.replace('Sunday', 'Monday')}</font></td></tr></table></body></html>"
    )
    found = extract(page, "http://old.example/news/1/")
    assert found.title == headline
    assert found.paragraphs[0] == PARAGRAPH
