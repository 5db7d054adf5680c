"""The labelled set of real wire copies: labels and URLs here, texts rebuilt where the web is.

`bench/data/wire_copies.jsonl` holds, per page, the news event, the story it
reproduces (pages with one story label are copies of one wire story; another
label on the same event is an independently written article, which must stay
apart), the page's URL, its language (`language`, "en" when absent) and its difficulty (`role`: a trimmed copy, a reworded
lede, a copy with the site's header, captions or comments left in, hard line
breaks, glued words, a write-thru, a site that kept the agency's lede and wrote
the rest itself, ...). The 175 pages of 33 events (December 2026 rebuild; the
first set of 163 pages never reached the repository) were found in the search
tool's stored copies of public news pages by searching each agency lede. Labels
were written from reading the texts: a page is a copy of a wire story only when it
reproduces that story's sentences (verbatim or machine-reworded from them);
aggregator summaries that only paraphrase a few facts, and separate agency items
that share paragraphs with the main story (an obituary beside the news story), were
left out as neither copy nor independent. The stored copies hold each page's first
~2,000 characters, so the texts measured here are page openings. The texts are the
publishers', so they are not in the repository. 48 French and German pages of 11
events (La Presse canadienne and dpa copies, with independent reports; labelled
`language`) were added the same way (docs/design/matching.md, section 3).

    python bench/wire_set.py fetch [--out data/wire-set/texts.jsonl]   # needs the web
    python bench/wire_set.py check [--texts data/wire-set/texts.jsonl]

`fetch` downloads every page and extracts it with the crawler's own extractor
(pages that moved or died are reported and left out); `check` says which
labelled pages have a text. `bench/clustering.py` reads the texts file when it
exists and skips the real-copies section when it does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "bench" / "data" / "wire_copies.jsonl"
TEXTS = REPO / "data" / "wire-set" / "texts.jsonl"

# difficulty groups of the roles, from the easiest to the hardest; a pair of copies
# is reported in the group of its harder member
GROUPS = {
    "full copy, page furniture left in": (
        "copy",
        "chrome",
        "chrome-headline",
        "comments",
        "embeds",
        "captions",
        "copy-lede-echo",
        "repeated-sentence",
    ),
    "text damage: line breaks, glued words": (
        "hard-line-breaks",
        "run-on",
        "glued",
        "glued-paragraphs",
        "glued-new-lede",
        "lookalike-made",  # made by bench/lookalike.py from a real copy, labelled `made`
    ),
    "trimmed: first paragraphs only": ("first-paragraphs", "early-take", "caption-page"),
    "rewritten: write-thru, regional edit, reworded": (
        "write-thru",
        "regional-edit",
        "reworded",
        "reworded-lede",
        "machine-reworded",
        "mixed-agencies",
        "lede-kept-rest-own",
    ),
}


# roles of pages that are no copy of their event's wire story: they must stay apart
INDEPENDENT_ROLES = ("independent", "borrowed-sentence")


def group_of(role: str) -> int:
    for rank, roles in enumerate(GROUPS.values()):
        if role in roles:
            return rank
    return len(GROUPS) - 1


def load_labels(path: Path = LABELS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_texts(path: Path = TEXTS) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["url"]: row for row in rows if row.get("text")}


def labelled_documents(
    labels_path: Path = LABELS, texts_path: Path = TEXTS
) -> list[dict[str, Any]]:
    """The labelled pages that have a text: label fields plus title and text; none when
    the labels or the texts are missing (the benchmark then skips this set)."""
    if not labels_path.exists():
        return []
    texts = load_texts(texts_path)
    return [
        {**label, **texts[label["url"]]}
        for label in load_labels(labels_path)
        if label["url"] in texts
    ]


def fetch(out: Path) -> int:
    from crawler.text.extract import ExtractionError, extract

    out.parent.mkdir(parents=True, exist_ok=True)
    kept = failed = 0
    with out.open("w", encoding="utf-8") as handle:
        for label in load_labels():
            url = label["url"]
            request = urllib.request.Request(url, headers={"User-Agent": "newscrawl-bench/1"})
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    page = extract(response.read(), response.geturl())
            except (OSError, ExtractionError) as exc:
                print(f"{url}: {exc}", file=sys.stderr)
                failed += 1
                continue
            row = {
                "url": url,
                "title": page.title,
                "text": page.text,
                "authors": page.authors,
                "credits": page.credits,
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            kept += 1
    print(f"{kept} pages extracted into {out}, {failed} failed")
    return 0 if kept else 1


def check(texts: Path) -> int:
    labels = load_labels()
    have = load_texts(texts)
    missing = [label["url"] for label in labels if label["url"] not in have]
    events = {label["event"] for label in labels if label["url"] in have}
    print(
        f"{len(labels) - len(missing)} of {len(labels)} labelled pages have a text ({len(events)} events)"
    )
    for url in missing[:20]:
        print(f"  missing: {url}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch").add_argument("--out", type=Path, default=TEXTS)
    sub.add_parser("check").add_argument("--texts", type=Path, default=TEXTS)
    args = parser.parse_args()
    return fetch(args.out) if args.command == "fetch" else check(args.texts)


if __name__ == "__main__":
    sys.exit(main())
