"""Which stored article a page continues when its URL changed (a slug rewritten after a
headline edit), so that the edit becomes the article's next version, not a new article.

A page whose own URL is new is matched to an article of the same site by either
of two signs, then confirmed by its text:

- URL history: the page was reached through a URL that already belongs to an
  article (the old address now redirects here, or the feed still links it);
- a stable id: the same directory and the same trailing number in the last path
  segment (`/local/2026/11/25/council-vote-5/` and `/local/2026/11/25/vote-delayed-5/`,
  `.../story-slug-1.7012345`), which CMSs keep when they rewrite a slug;

and, in both cases, the texts must be the same story: at least
SAME_ARTICLE_CONTAINMENT of the shorter one's word 5-grams in the other. A
number alone proves nothing (a slug ending in "covid-19"), and a redirect can
point anywhere (a section front), so neither moves a page without its text.
"""

from __future__ import annotations

from pymongo.database import Database

from crawler import urls
from crawler.store import ArticleStore, Page
from crawler.stories import containment, shingle_hashes, unpack
from crawler.types import Doc

SAME_ARTICLE_CONTAINMENT = 0.6


def continue_renamed(db: Database[Doc], pages: list[Page]) -> list[str]:
    """Point each page that continues a stored article under a new URL at that article.

    Returns the ids of the articles continued. One read of the URL history of the
    batch, which also tells the pages of known articles (their own URL belongs to
    them) from new ones; for new ones, one read of the stable ids and one of each
    candidate's text.
    """
    owners = ArticleStore(db).alias_owners(sorted({a for p in pages for a in p.aliases}))
    orphans = [p for p in pages if owners.get(urls.url_key(p.url)) != p.article_id]
    if not orphans:
        return []
    stable = {id(p): urls.stable_key(p.url) for p in orphans}
    wanted = sorted({k for k in stable.values() if k})
    by_stable: dict[str, list[str]] = {}
    if wanted:
        for doc in db.articles.find({"stable_key": {"$in": wanted}}, {"stable_key": 1}):
            by_stable.setdefault(doc["stable_key"], []).append(doc["_id"])
    continued = []
    for page in orphans:
        candidates = {owners[a] for a in page.aliases if a in owners}
        candidates.update(by_stable.get(stable[id(page)] or "", []))
        candidates.discard(page.article_id)
        match = _same_article(db, page, sorted(candidates))
        if match is not None:
            page.article_id = match
            continued.append(match)
    return continued


def _same_article(db: Database[Doc], page: Page, candidates: list[str]) -> str | None:
    if not candidates:
        return None
    mine = page.shingles if page.shingles is not None else shingle_hashes(page.snapshot.paragraphs)
    if not mine:
        return None
    indexed = {
        d["_id"]: unpack(d["shingles"])
        for d in db.fingerprints.find({"_id": {"$in": candidates}}, {"shingles": 1})
        if d.get("shingles")
    }
    best: tuple[float, str] | None = None
    for doc in db.articles.find({"_id": {"$in": candidates}, "site": page.site}, {"text": 1}):
        theirs = indexed.get(doc["_id"]) or shingle_hashes((doc.get("text") or "").split("\n"))
        score = containment(mine, theirs)
        if score >= SAME_ARTICLE_CONTAINMENT and (best is None or score > best[0]):
            best = (score, doc["_id"])
    return best[1] if best else None
