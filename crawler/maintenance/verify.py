"""The store's invariants, checked: what `newscrawl verify` reports.

Each check streams one collection with a narrow projection, so it runs on a
store of any size in memory proportional to the number of articles, not to
their text. A violation names the document and what is wrong with it; the
command exits 1 when there is any.

1. versions of each article are numbered 1..n, without gaps or duplicates;
2. an article's current state equals its version `current_version`, and its
   `version_count` is its newest version;
3. every article with a version is in exactly one story, the one its
   `story_id` names, every story member is an existing article, and a story
   merged into another has no members left;
4. every URL alias resolves to an existing article;
5. no crawl run is `running` without a live lease on its site.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pymongo.database import Database

from crawler.store.leases import running_crawls
from crawler.store.reads import in_batches
from crawler.types import Doc


@dataclass(frozen=True)
class Violation:
    check: str  # versions / articles / stories / aliases / runs
    subject: str  # the document concerned
    problem: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.problem}"


def verify(db: Database[Doc], now: datetime) -> list[Violation]:
    """Every violated invariant of the store, in a stable order."""
    numbers = _version_numbers(db)
    found = list(_check_numbering(numbers))
    found += _check_articles(db, numbers)
    found += _check_stories(db)
    found += _check_aliases(db)
    found += _check_runs(db, now)
    return found


def _version_numbers(db: Database[Doc]) -> dict[str, list[int]]:
    numbers: dict[str, list[int]] = defaultdict(list)
    for doc in db.versions.find({}, {"article_id": 1, "version": 1, "_id": 0}):
        numbers[doc["article_id"]].append(int(doc["version"]))
    return numbers


def _check_numbering(numbers: dict[str, list[int]]) -> Iterator[Violation]:
    for article_id in sorted(numbers):
        found = sorted(numbers[article_id])
        if found != list(range(1, len(found) + 1)):
            yield Violation(
                "versions", article_id, f"numbered {_ranges(found)}, not 1..{len(found)}"
            )


def _check_articles(db: Database[Doc], numbers: dict[str, list[int]]) -> list[Violation]:
    found: list[Violation] = []
    seen: set[str] = set()
    projection = {"version_count": 1, "current_version": 1, "content_hash": 1, "title": 1}
    articles = list(db.articles.find({}, projection))
    for chunk in in_batches(articles):
        wanted = [f"{a['_id']}:{a.get('current_version')}" for a in chunk]
        versions = {
            v["_id"]: v
            for v in db.versions.find({"_id": {"$in": wanted}}, {"content_hash": 1, "title": 1})
        }
        for article in chunk:
            article_id = article["_id"]
            seen.add(article_id)
            stored = numbers.get(article_id, [])
            if not stored:
                found.append(Violation("articles", article_id, "has no version"))
                continue
            if article.get("version_count") != max(stored):
                found.append(
                    Violation(
                        "articles",
                        article_id,
                        f"version_count {article.get('version_count')} but the newest "
                        f"version is {max(stored)}",
                    )
                )
            current = versions.get(f"{article_id}:{article.get('current_version')}")
            if current is None:
                found.append(
                    Violation(
                        "articles",
                        article_id,
                        f"current_version {article.get('current_version')} does not exist",
                    )
                )
            elif (current.get("content_hash"), current.get("title")) != (
                article.get("content_hash"),
                article.get("title"),
            ):
                found.append(
                    Violation(
                        "articles",
                        article_id,
                        f"current state differs from version {article.get('current_version')}",
                    )
                )
    for article_id in sorted(set(numbers) - seen):
        found.append(
            Violation("versions", article_id, "versions of an article that does not exist")
        )
    return found


def _check_stories(db: Database[Doc]) -> list[Violation]:
    found: list[Violation] = []
    member_of: dict[str, list[str]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    for member in db.story_members.find({}, {"story_id": 1}):
        member_of[member["_id"]].append(member["story_id"])
        sizes[member["story_id"]] += 1
    merged: dict[str, str] = {}
    for story in db.stories.find({}, {"size": 1, "members": 1, "merged_into": 1}):
        if "members" in story:
            found.append(Violation("stories", story["_id"], "old schema: run newscrawl migrate"))
            continue
        listed = sizes.pop(story["_id"], 0)
        if story.get("merged_into"):
            merged[story["_id"]] = story["merged_into"]
            if listed:
                found.append(
                    Violation(
                        "stories",
                        story["_id"],
                        f"merged into {story['merged_into']} but {listed} members left "
                        "(moved at the next crawl start)",
                    )
                )
        if story.get("size") != listed:
            found.append(
                Violation("stories", story["_id"], f"size {story.get('size')} but {listed} members")
            )
    for orphan in sorted(sizes):
        found.append(Violation("stories", orphan, f"{sizes[orphan]} members, no story"))
    articles = {
        doc["_id"]: doc.get("story_id")
        for doc in db.articles.find({"version_count": {"$gte": 1}}, {"story_id": 1})
    }
    for article_id in sorted(articles):
        story_id, stories = articles[article_id], member_of.get(article_id, [])
        if len(stories) != 1:
            where = ", ".join(sorted(stories)) or "none"
            found.append(
                Violation("stories", article_id, f"member of {len(stories)} stories ({where})")
            )
        elif story_id != stories[0]:
            hint = f" (merged into {merged[story_id]})" if story_id in merged else ""
            found.append(
                Violation(
                    "stories",
                    article_id,
                    f"story_id {story_id}{hint} but listed by story {stories[0]}",
                )
            )
    for article_id in sorted(set(member_of) - set(articles)):
        found.append(
            Violation(
                "stories",
                article_id,
                f"listed by story {', '.join(sorted(member_of[article_id]))} but no such article",
            )
        )
    return found


def _check_aliases(db: Database[Doc]) -> list[Violation]:
    aliases = list(db.url_aliases.find({}, {"article_id": 1}))
    found: list[Violation] = []
    for chunk in in_batches(aliases):
        ids = sorted({a["article_id"] for a in chunk})
        existing = {d["_id"] for d in db.articles.find({"_id": {"$in": ids}}, {"_id": 1})}
        found += [
            Violation("aliases", a["_id"], f"resolves to missing article {a['article_id']}")
            for a in chunk
            if a["article_id"] not in existing
        ]
    return found


def _check_runs(db: Database[Doc], now: datetime) -> list[Violation]:
    # runs before leases (a crawl takes its lease before it records its run); expiry by
    # the server's clock (crawler.run.lease)
    running = list(db.crawl_runs.find({"outcome": "running"}, {"site": 1}).sort("_id", 1))
    live = {doc.get("run_id") for doc in running_crawls(db).values()} if running else set()
    return [
        Violation("runs", run["_id"], f"'running' on {run.get('site')} without a live lease")
        for run in running
        if run["_id"] not in live
    ]


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:12])
    return f"[{shown}{', …' if len(numbers) > 12 else ''}]"
