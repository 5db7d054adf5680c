"""What one huge sitemap costs a crawl process: the old whole-tree parse against the
streamed, bounded one (crawler.crawl.discovery.parse_sitemap with a limit).

    python bench/discovery_bounds.py [--urls 450000] [--limit 10000]

Each way runs in a fresh process (peak RSS is per process, ru_maxrss), on the same
gzipped sitemap of --urls URLs without lastmod, and prints seconds, peak RSS and the
entries kept. The baseline is the parse as it was before the per-crawl bounds
(lxml's whole tree, an Entry for every URL), measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler.localnet.sitemaps import urlset  # noqa: E402

MEASURE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from crawler.crawl import discovery
from crawler.crawl.discovery import Entry, maybe_gunzip
from crawler.text.dates import parse_date
from lxml import etree
body = open(sys.argv[2], "rb").read()
way, limit = sys.argv[3], int(sys.argv[4])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if way == "whole-tree":  # parse_sitemap before the bounds (60efd69): one tree, all entries
    from urllib.parse import urljoin
    def children(node):
        found = {}
        for child in node.iter():
            if child is node or not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname.lower()
            if child.text and child.text.strip() and name not in found:
                found[name] = child.text.strip()
        return found
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                             huge_tree=False, remove_comments=True)
    root = etree.fromstring(maybe_gunzip(body, "u"), parser=parser)
    entries = []
    for node in root:
        fields = children(node)
        if fields.get("loc"):
            entries.append(Entry(url=urljoin("https://big.test/s.xml", fields["loc"].strip()),
                                 updated=parse_date(fields.get("lastmod")),
                                 published=parse_date(fields.get("publication_date")),
                                 title=fields.get("title")))
    kept, dropped = len(entries), 0
else:
    found = discovery.parse_sitemap(body, "https://big.test/s.xml", limit=limit or None)
    kept, dropped = len(found.entries), found.dropped
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_mb": (peak - before) / 1024, "kept": kept,
                  "dropped": dropped}))
"""


def measure(path: Path, way: str, limit: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(REPO), str(path), way, str(limit)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=450_000)
    parser.add_argument("--limit", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.xml.gz"
        urls = [f"https://big.test/news/2026/item-{i}-of-the-archive" for i in range(args.urls)]
        path.write_bytes(gzip.compress(urlset(urls)))
        print(f"sitemap: {args.urls:,} URLs, {path.stat().st_size / 1e6:.1f} MB gzipped")
        ways = [
            ("whole tree (before)", "whole-tree", 0),
            ("streamed, no limit", "stream", 0),
            (f"streamed, limit {args.limit:,} (max_entries)", "stream", args.limit),
        ]
        for label, way, limit in ways:
            r = measure(path, way, limit)
            print(
                f"{label:<36} {r['seconds']:6.2f} s  peak RSS +{r['rss_mb']:6.0f} MB  "
                f"kept {int(r['kept']):>7,}  counted {int(r['dropped']):>7,}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
