"""The content of the local news network: which site publishes what, when, and how it changes.

A `World` is built once from a seed. Its clock starts at `start` and only moves
when a test (or the demo) advances it; an article's visible text is its first
publication plus every edit whose offset the clock has passed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from crawler.clock import SteppedClock
from crawler.localnet.text import (
    FIRST,
    Article,
    Event,
    Writer,
    independent_story,
    make_event,
    rewrite,
    wire_story,
)

REGULAR_SITES = [
    ("valley-gazette", "Valley Gazette", "Marlow Creek, Northshire"),
    ("harbour-times", "Harbour Times", "Port Kessel, Eastcoast"),
    ("prairie-post", "Prairie Post", "Okotoks Flats, Plainsland"),
    ("lakeside-herald", "Lakeside Herald", "Silver Lake, Lakeshire"),
]
HOSTILE_SITE = ("hostile-herald", "Hostile Herald", "Nowhere, Testland")

# Which syndication edits each site's CMS applies to wire copy.
SITE_EDITS: dict[str, tuple[str, ...]] = {
    "valley-gazette": (),  # runs the wire copy as sent: the originating copy
    "harbour-times": ("headline", "glue", "lede_twice", "no_dateline"),
    "prairie-post": ("headline", "intro", "trim"),
    "lakeside-herald": ("reorder", "glue", "no_dateline", "intro"),
}


@dataclass
class Post:
    """An article as a site publishes it."""

    site: str
    slug: str
    section: str
    article: Article
    published: datetime
    edits: list[tuple[datetime, str, str]] = field(default_factory=list)
    old: bool = False
    old_paths: list[str] = field(default_factory=list)  # earlier addresses, now redirected

    @property
    def path(self) -> str:
        d = self.published
        return f"/{self.section}/{d:%Y/%m/%d}/{self.slug}/"

    def state(self, now: datetime) -> tuple[str, list[str], datetime]:
        """Title, paragraphs and modified time as visible at `now`."""
        title, paras, modified = self.article.title, list(self.article.paragraphs), self.published
        for at, kind, arg in self.edits:
            if at > now:
                continue
            modified = max(modified, at)
            if kind == "add_paragraph":
                paras.append(arg)
            elif kind == "correct_number":
                old, new = arg.split("->")
                paras = [p.replace(old, new, 1) for p in paras]
            elif kind == "headline":
                title = arg
            elif kind == "sentence":
                index, text = arg.split("|", 1)
                paras[int(index)] = paras[int(index)] + " " + text
        return title, paras, modified


@dataclass
class SiteContent:
    name: str
    title: str
    region: str
    posts: list[Post] = field(default_factory=list)

    def live_posts(self, now: datetime) -> list[Post]:
        return sorted(
            (p for p in self.posts if p.published <= now), key=lambda p: p.published, reverse=True
        )


class World:
    """All sites' posts, generated deterministically from `seed`."""

    def __init__(
        self, seed: int = 7, start: datetime | None = None, wires: int = 5, locals_per_site: int = 4
    ):
        self.seed = seed
        base = start or datetime.now(timezone.utc).replace(microsecond=0)
        # the network's time: tests advance it instead of sleeping (`world.clock.advance(hours=2)`)
        self.clock = SteppedClock(base)
        self.rng = random.Random(seed)
        self.sites = {
            name: SiteContent(name, title, region) for name, title, region in REGULAR_SITES
        }
        self.labels: dict[str, str] = {}  # "site:slug" -> story label (ground truth)
        self._build(wires, locals_per_site)

    def _build(self, wires: int, locals_per_site: int) -> None:
        rng, t0 = self.rng, self.clock.start
        events = [make_event(rng, i) for i in range(wires + 4)]
        names = list(self.sites)
        for w in range(wires):
            event = events[w]
            wire = wire_story(rng, event, f"wire{w}")
            published = t0 - timedelta(hours=20 - w * 3)
            carriers = names if w % 2 == 0 else names[:3]
            for k, site in enumerate(carriers):
                article = (
                    wire
                    if site == "valley-gazette"
                    else rewrite(rng, wire, event, site, SITE_EDITS[site])
                )
                self._add(site, "news", article, published + timedelta(minutes=25 * k))
        for i, site in enumerate(names[:2]):  # independent reports on the events of wire0 and wire1
            event = events[i]
            article = independent_story(rng, event, f"indep{i}-{site}", _name(rng))
            self._add(names[-1 - i], "local", article, t0 - timedelta(hours=14 - i))
        for site in names:
            for j in range(locals_per_site):
                event = events[wires + (j % 4)]
                article = independent_story(rng, event, f"local-{site}-{j}", _name(rng))
                article.title = f"{self.sites[site].title}: {article.title}"
                post = self._add(site, "local", article, t0 - timedelta(hours=2 + j * 5))
                if j == 0:
                    self._schedule_edits(post, event)
            old = independent_story(rng, events[wires], f"old-{site}", _name(rng))
            self._add(site, "archive", old, t0 - timedelta(days=30), old_post=True)

    def _schedule_edits(self, post: Post, event: Event) -> None:
        """An edited article: a paragraph added, a number corrected, the headline changed."""
        writer = Writer(random.Random(f"{self.seed}-{post.slug}"), event)
        t0 = self.clock.start
        number = next(
            (f"{n:,}" for n in event.numbers if f"{n:,}" in " ".join(post.article.paragraphs)), ""
        )
        post.edits = [
            (t0 + timedelta(hours=1), "add_paragraph", "Update: " + writer.paragraph(2)),
            (
                t0 + timedelta(hours=2),
                "correct_number",
                f"{number}->{number}1" if number else "a->a",
            ),
            (t0 + timedelta(hours=3), "headline", "UPDATED: " + post.article.title),
        ]

    def _add(
        self, site: str, section: str, article: Article, published: datetime, old_post: bool = False
    ) -> Post:
        slug = _slug(article.title) + "-" + str(len(self.sites[site].posts) + 1)
        post = Post(site, slug, section, article, published, old=old_post)
        self.sites[site].posts.append(post)
        self.labels[f"{site}:{post.path}"] = article.story_label
        return post

    def post(self, site: str, path: str) -> Post | None:
        for post in self.sites[site].posts:
            if post.path == path:
                return post
        return None

    def moved(self, site: str, path: str) -> Post | None:
        """The post that used to live at `path` (its slug was rewritten since)."""
        for post in self.sites[site].posts:
            if path in post.old_paths:
                return post
        return None

    def rename(self, site: str, index: int, headline: str) -> tuple[str, str]:
        """Rewrite the headline of the site's `index`-th newest post, effective now, and its
        slug with it, as CMSs do: the trailing id stays, the old address redirects (301).
        Returns the old and the new path."""
        post = self.sites[site].live_posts(self.clock.now())[index]
        old_path = post.path
        number = post.slug.rsplit("-", 1)[-1]
        post.edits.append((self.clock.now(), "headline", headline))
        post.old_paths.append(old_path)
        post.slug = f"{_slug(headline)}-{number}"
        self.labels[f"{site}:{post.path}"] = self.labels.get(f"{site}:{old_path}", "")
        return old_path, post.path

    def edit_sentence(self, site: str, index: int, text: str) -> Post:
        """Append one sentence to a paragraph of the site's newest post, effective now."""
        post = self.sites[site].live_posts(self.clock.now())[0]
        post.edits.append((self.clock.now(), "sentence", f"{index}|{text}"))
        return post


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(FIRST)}"


def _slug(title: str) -> str:
    words = "".join(c.lower() if c.isalnum() else " " for c in title).split()
    return "-".join(words[:7])
